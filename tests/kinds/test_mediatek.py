"""mtk-iommu and mtk-iommu-v1: larbs, IOVA regions, the shared page table, hw_lists,
and the M4U v1's one arm32 mapping (dsl/kinds/mediatek.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kinds.boards import resolved

from iommu_rules import Board

from conftest import run_cli

MT8192 = """\
include "std/linux"
include "std/soc/mt8192"
platform {{ arch arm64; kernel {kernel}; ram 0x40000000 size 2G }}
# mt8192.dtsi masters, MTK_M4U_ID(larb, port) from mt8192-larb-port.h
device ovl0: "mediatek,mt8192-disp-ovl" {{ iommu iommu0 sid 0x2, sid 0x1 }}
device ovl_2l0: "mediatek,mt8192-disp-ovl-2l" {{ iommu iommu0 sid 0x22, sid 0x20 }}
device rdma4: "mediatek,mt8192-disp-rdma" {{ iommu iommu0 sid 0x25 }}
device vdec_lat: "mediatek,mtk-vcodec-lat" {{ iommu iommu0 sid 0xa0, sid 0xa1, sid 0xa7 }}
device vdec_core: "mediatek,mtk-vcodec-core" {{ iommu iommu0 sid 0x80, sid 0x81, sid 0x8a }}
device venc: "mediatek,mt8192-vcodec-enc" {{ iommu iommu0 sid 0xe0, sid 0xe1, sid 0xee }}
device mdp_rdma0: "mediatek,mt8192-mdp3-rdma" {{ iommu iommu0 sid 0x40 }}
device camsv: "vendor,camsv" {{ iommu iommu0 sid 0x1a1 }}
device ccu0: "vendor,ccu" {{ iommu iommu0 sid 0x1a9, sid 0x1aa }}
device ccu1: "vendor,ccu" {{ iommu iommu0 sid 0x1c4, sid 0x1c5 }}
device odd: "vendor,ccu-and-camsv" {{ iommu iommu0 sid 0x1a9, sid 0x1a1 }}
"""


@pytest.mark.parametrize(
    ("kernel", "groups"),
    [
        # before 6.4: the region came from dma-ranges, which mt8192.dtsi lacked: region 0
        (
            "6.1",
            [
                [
                    "ovl0", "ovl_2l0", "rdma4", "vdec_lat", "vdec_core", "venc",
                    "mdp_rdma0", "camsv", "ccu0", "ccu1", "odd",
                ]
            ],
        ),
        # 6.4+: mt8192_larb_region_msk; 'odd' spans regions 2 and 4: no group (W211)
        (
            "6.8",
            [
                ["ovl0", "ovl_2l0", "rdma4"],
                ["vdec_lat", "vdec_core", "venc"],
                ["mdp_rdma0", "camsv"],
                ["ccu0"],
                ["ccu1"],
            ],
        ),
    ],
)  # fmt: skip
def test_mt8192_pack_groups_masters_by_iova_region(kernel: str, groups: list[list[str]]) -> None:
    res = Board.from_text(MT8192.format(kernel=kernel), "asurada.iommu").resolution
    assert not res.errors
    assert [g.members for g in res.groups] == groups
    assert len(res.context_slots("iommu0")) == 1  # one shared page table
    assert (res.devices["odd"].iommu is None) == (kernel == "6.8")
    assert ("W211" in {d.code for d in res.diagnostics}) == (kernel == "6.8")


MT8195 = """\
include "std/linux"
include "std/soc/mt8195"
platform {{ arch arm64; kernel {kernel}; ram 0x40000000 size 2G }}
# mt8195.dtsi (6.11) masters, MTK_M4U_ID(larb, port) from mt8195-memory-port.h
device ovl0: "mediatek,mt8195-disp-ovl" {{ iommu iommu_vdo sid 2 }}
device vdo1_rdma0: "mediatek,mt8195-vdo1-rdma" {{ iommu iommu_vdo sid 64 }}
device vdo1_rdma1: "mediatek,mt8195-vdo1-rdma" {{ iommu iommu_vpp sid 96 }}
device ethdr0: "mediatek,mt8195-disp-ethdr" {{ iommu iommu_vpp sid 100, sid 101 }}
device vdec: "mediatek,mt8195-vcodec-dec" {{ iommu iommu_vdo sid 672 }}
device vdec_lat_soc: "mediatek,mtk-vcodec-lat-soc" {{ iommu iommu_vpp sid 736, sid 737 }}
device jpgenc: "mediatek,mt8195-jpgenc" {{ iommu iommu_vpp sid 647, sid 648, sid 649, sid 652 }}
device mdp_rdma: "mediatek,mt8195-mdp3-rdma" {{ iommu iommu_vpp sid 128 }}
device svpp1_rdma: "mediatek,mt8195-mdp3-rdma" {{ iommu iommu_vdo sid 160 }}
# PCIe: pcie0 -> IOMMU_PORT_INFRA_PCIE0 (18), pcie1 -> PCIE1 (16), iommu-map-mask 0
device nvme: "pci144d,a80a" {{ pci 0000:01:00.0; iommu iommu_infra sid 0x12 }}
device wifi: "pci14c3,7961" {{ pci 0001:01:00.0; iommu iommu_infra sid 0x10 }}
"""


@pytest.mark.parametrize(
    ("kernel", "groups"),
    [
        (
            "6.1",
            [
                [
                    "ovl0", "vdo1_rdma0", "vdo1_rdma1", "ethdr0", "vdec", "vdec_lat_soc",
                    "jpgenc", "mdp_rdma", "svpp1_rdma",
                ],
                ["nvme", "wifi"],
            ],
        ),
        (
            "6.8",
            [
                ["ovl0", "vdo1_rdma0", "vdo1_rdma1", "ethdr0"],
                ["vdec", "vdec_lat_soc", "jpgenc"],
                ["mdp_rdma", "svpp1_rdma"],
                ["nvme", "wifi"],
            ],
        ),
    ],
)  # fmt: skip
def test_mt8195_vdo_and_vpp_share_groups_per_region(kernel: str, groups: list[list[str]]) -> None:
    """SHARE_PGTABLE: both M4Us are on m4ulist and use the first one's m4u_group[region];
    the infra IOMMU puts every PCIe function in bank 0's group, ACS unasked."""
    board = Board.from_text(MT8195.format(kernel=kernel), "cherry.iommu")
    res = board.resolution
    assert not res.errors
    assert sorted(g.members for g in res.groups) == sorted(groups)
    # one page table for every domain of both M4Us; each programs it
    for m4u in ("iommu_vdo", "iommu_vpp", "iommu_infra"):
        assert len(res.context_slots(m4u)) == 1, m4u
    mm = [d for d in res.domains if res.domains[d].iommu != "iommu_infra"]
    assert len(mm) == len(groups) - 1
    for m4u in ("iommu_vdo", "iommu_vpp"):
        assert sorted(board.value(f"{m4u}.domains")) == sorted(mm)  # every sharer, each M4U
    assert f"0: {', '.join(mm)}" in board.dot("contexts")
    text = str(board.why("vdo1_rdma1.group_members"))
    assert ("first on their hw_list" if kernel == "6.8" else "dma-ranges") in text


def test_a_driver_domain_may_span_m4us_that_share_a_page_table() -> None:
    """On one hw_list (`quirk share-pgtable`) a domain is finalised on the first M4U and
    programmed into each M4U it is attached through (mtk_iommu_attach_device)."""
    text = (
        'include "std/linux"\ninclude "std/soc/mt8195"\n'
        "platform { arch arm64; kernel 6.8; ram 0x40000000 size 2G }\n"
        'device disp_vdo: "x" { iommu iommu_vdo sid 2; driver own-domain }\n'
        'device disp_vpp: "x" { iommu iommu_vpp sid 96; driver own-domain }\n'
        "domain d: unmanaged on iommu_vdo, iommu_vpp { attach disp_vdo, disp_vpp }\n"
    )
    board = Board.from_text(text, "b.iommu")
    assert not board.model.diagnostics
    res = board.resolution
    assert not res.diagnostics  # no W203: the DMA API maps into the same page table
    assert res.devices["disp_vpp"].domain == "d" and res.domains["d"].contexts_on == {
        "iommu_vpp": 0
    }
    # M4Us that do not share a list: not modelled
    bad = text.replace("quirk share-pgtable", "").replace('include "std/soc/mt8195"\n', "")
    bad = "iommu iommu_vdo: mtk-iommu\niommu iommu_vpp: mtk-iommu\n" + bad
    assert [d.code for d in Board.from_text(bad, "b.iommu").model.diagnostics] == ["E120"]


MT7623 = """\
include "std/linux"
include "std/iommu/mtk-iommu-v1"
platform {{ arch {arch}; kernel {kernel}; ram 0x80000000 size 2G }}
iommu m4u: mtk-iommu-v1
device ovl: "mediatek,mt7623-disp-ovl" {{ iommu m4u sid 0 }}
device rdma0: "mediatek,mt7623-disp-rdma" {{ iommu m4u sid 2 }}
device jpegdec: "mediatek,mt7623-jpgdec" {{ iommu m4u sid 43, sid 28 }}
"""


@pytest.mark.parametrize(
    ("kernel", "default"),
    [
        ("4.18", "none"),  # only UNMANAGED domains: the DMA default domain fails
        ("6.1", "unmanaged"),  # mtk_iommu_v1_def_domain_type (5.8 .. 6.6)
        ("6.8", "identity"),  # the static identity domain; ARM_DMA_USE_IOMMU asks for it
    ],
)
def test_mtk_iommu_v1_shares_one_arm32_mapping(kernel: str, default: str) -> None:
    """mtk_iommu_v1_probe_finalize: arm_iommu_attach_device(dev, data->mapping) for every
    master: one group each, one mapping and page table for all, arm_iommu DMA ops."""
    board = Board.from_text(MT7623.format(arch="arm", kernel=kernel), "bpi.iommu")
    assert not board.model.diagnostics
    res = board.resolution
    assert not res.errors and not res.diagnostics
    mapping = res.domains["arm_iommu:m4u"]
    assert (mapping.origin, mapping.type, mapping.context) == ("arm32", "unmanaged", 0)
    assert mapping.devices == ["ovl", "rdma0", "jpegdec"]
    for name in ("ovl", "rdma0", "jpegdec"):
        v = res.devices[name].values
        assert (v["domain"], v["dma_ops"], v["default_domain"]) == (
            "arm_iommu:m4u",
            "arm_iommu",
            default,
        ), name
        assert v["group_members"] == [name]  # generic_device_group
    assert res.context_slots("m4u") == {0: mapping}  # the default domains take none
    assert "shared by all its masters" in res.devices["ovl"].reasons["dma_ops"].text


def test_mtk_iommu_v1_refusals() -> None:
    model = Board.from_text(MT7623.format(arch="arm64", kernel="6.8"), "b.iommu").model
    assert [(d.code, d.message) for d in model.diagnostics] == [
        ("E130", "'m4u' (mtk-iommu-v1) is built only on arch arm (here: arch arm64)")
    ]
    text = MT7623.format(arch="arm", kernel="6.8") + "domain d: unmanaged on m4u { attach ovl }\n"
    model = Board.from_text(text, "b.iommu").model
    assert [d.code for d in model.diagnostics] == ["E120"]
    assert "only its own mapping" in model.diagnostics[0].message


def test_excludes_implicit_on_an_m4u_v1_master_warns() -> None:
    """W213: the M4U v1 driver attaches every master to its mapping itself."""
    text = MT7623.format(arch="arm", kernel="6.8") + 'rule "no mapping": ovl excludes implicit\n'
    res = Board.from_text(text, "b.iommu").resolution
    assert [(d.code, "'no mapping' cannot keep 'ovl'" in d.message) for d in res.diagnostics] == [
        ("W213", True)
    ]
    assert res.devices["ovl"].values["dma_ops"] == "arm_iommu"


@pytest.mark.parametrize(
    ("kernel", "quirk", "translated"),
    [
        ("5.16", "", True),  # before 635319a4a744 nothing checked the larbs
        # 635319a4a744 went through the media tree: mainline 5.18 (5.17.y has a backport)
        ("5.17", "", True),
        ("5.18", "", False),
        ("6.8", "", False),  # "Can only use one larb. Fail@larb0-1."
        ("6.8", " { quirk multi-larb }", True),  # DL_WITH_MULTI_LARB platforms
    ],
)
def test_an_m4u_master_on_two_larbs(kernel: str, quirk: str, translated: bool) -> None:
    _, res = resolved(
        'include "std/linux"\n'
        f"platform {{ arch arm64; kernel {kernel}; ram 0x40000000 size 4G }}\n"
        f"iommu m4u: mtk-iommu{quirk}\n"
        'device ok: "mediatek,mt8183-jpgenc" { iommu m4u sid 0x85, sid 0x86 }\n'
        'device odd: "vendor,two-larbs" { iommu m4u sid 0x3, sid 0x21 }\n'
    )
    assert res.devices["ok"].iommu == "m4u"
    assert (res.devices["odd"].iommu == "m4u") == translated
    assert ("W209" in {d.code for d in res.diagnostics}) == (not translated)
    if not translated:
        assert res.devices["odd"].values["dma_ops"].startswith("dma-direct")
        assert "odd: Can only use one larb. Fail@larb0-1." in res.log


M4U_REGIONS = """include "std/linux"
platform {{ arch arm64; kernel {kernel}; ram 0x40000000 size 2G }}
iommu m4u: mtk-iommu {{
    region 0 larb 0, 1
    region 1 larb 4, 5, 7
    region 2 larb 13 except ports 9, 10
    region 4 larb 13 ports 9, 10
    region 5 larb 13 ports 9
}}
device disp: "x" {{ iommu m4u sid 0x0 }}
device disp1: "x" {{ iommu m4u sid 0x21 }}
device vdec: "x" {{ iommu m4u sid 0x80, sid 0x81 }}
device cam: "x" {{ iommu m4u sid 0x1a1 }}
device ccu: "x" {{ iommu m4u sid 0x1a9, sid 0x1aa }}
device ccu9: "x" {{ iommu m4u sid 0x1a9 }}
device split: "x" {{ iommu m4u sid 0x1a9, sid 0x1a1 }}
device nolarb: "x" {{ iommu m4u sid 0x61 }}
"""


def test_an_m4u_has_one_group_per_iova_region() -> None:
    """From 6.4 (b2a6876d215b) mtk_iommu_get_iova_region_id takes the FIRST region whose port
    mask for the master's larb holds all its ports, and mtk_iommu_device_group keeps one group
    per region; a master no region holds gets no group. Every domain shares the one page
    table (mtk_iommu_domain_finalise: share_dom)."""
    _, res = resolved(M4U_REGIONS.format(kernel="6.8"))
    groups = {g.id: g.members for g in res.groups}
    assert sorted(groups.values()) == [["cam"], ["ccu", "ccu9"], ["disp", "disp1"], ["vdec"]]
    # ccu9's port 9 is in region 4 and region 5: the lower one wins
    assert res.devices["ccu9"].group == res.devices["ccu"].group
    for name in ("split", "nolarb"):
        assert res.devices[name].iommu is None
        assert res.devices[name].values["dma_ops"] == "dma-direct"
    w211 = sorted(d.message.split("'")[3] for d in res.diagnostics if d.code == "W211")
    assert w211 == ["nolarb", "split"]
    assert "split: Can NOT find the region for larb(13-202)." in res.log
    assert len(res.context_slots("m4u")) == 1  # four default domains, one page table
    assert len({res.devices[d].domain for d in ("disp", "vdec", "cam", "ccu")}) == 4


def test_before_6_4_every_m4u_master_is_in_region_0() -> None:
    """Before b2a6876d215b the region came from the master's dma-ranges (none here): region 0
    for all, one group, and the region table refuses nobody."""
    _, res = resolved(M4U_REGIONS.format(kernel="6.1"))
    assert [g.members for g in res.groups] == [
        ["disp", "disp1", "vdec", "cam", "ccu", "ccu9", "split", "nolarb"]
    ]
    assert "W211" not in {d.code for d in res.diagnostics}


@pytest.mark.parametrize(
    ("iommu", "code", "where"),
    [
        ("iommu s: arm-smmu { region 0 larb 0 }", "E129", "2:21"),
        ("iommu s: mtk-iommu { region 0 larb 0; region 0 larb 1, 0 }", "E129", "2:56"),
        ("iommu s: mtk-iommu { region 0 larb 32 }", "E114", "2:36"),
        ("iommu s: mtk-iommu { region 0 larb 1 ports 3, 40 }", "E114", "2:47"),
        ("iommu s: mtk-iommu { region 32 larb 1 }", "E114", "2:29"),
    ],
)
def test_bad_region_lines(iommu: str, code: str, where: str, tmp_path: Path) -> None:
    path = tmp_path / "b.iommu"
    path.write_text(f"platform {{ arch arm64; kernel 6.8 }}\n{iommu}\n")
    proc = run_cli("check", str(path))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert f"b.iommu:{where}: error[{code}]" in proc.stderr, proc.stderr


def test_shared_m4u_list_skips_a_disabled_m4u_and_unbound_masters() -> None:
    """A disabled M4U never probes, so it is not the first on m4ulist; a master no driver
    binds (before 6.15) never reaches probe_device, so no larb or region check runs."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch arm64; kernel 6.8; ram 0x40000000 size 2G }\n'
        "iommu off: mtk-iommu { quirk share-pgtable; region 0 larb 0, 1, 2, 3; disabled }\n"
        "iommu vdo: mtk-iommu { quirk share-pgtable; region 0 larb 0, 2; region 1 larb 19 }\n"
        "iommu vpp: mtk-iommu { quirk share-pgtable }\n"
        'device disp_vdo: "x" { iommu vdo sid 2 }\n'
        'device disp_vpp: "x" { iommu vpp sid 64 }\n'  # larb2, region 0
        'device venc: "x" { iommu vdo sid 608 }\n'  # larb19, region 1
        'device cam: "x" { iommu vpp sid 96 }\n'  # larb3: no region in vdo's table
        'device idle: "x" { iommu vpp sid 96; driver none }\n'
    )
    groups = sorted(g.members for g in res.groups)
    assert groups == [["disp_vdo", "disp_vpp"], ["venc"]]
    assert res.devices["cam"].iommu is None
    w211 = [d for d in res.diagnostics if d.code == "W211"]
    assert [d.message.split("'")[3] for d in w211] == ["cam"]
    assert w211[0].secondary[0].message == "'vdo' and its regions"  # the table's M4U
    assert not any("idle" in line for line in res.log)
