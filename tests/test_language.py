"""Every statement family parses into the model a user would expect."""

from __future__ import annotations

from pathlib import Path

import pytest

from iommu_rules import Board, ast
from iommu_rules.fmt import format_text
from iommu_rules.loader import load_text


def model_of(text: str):  # type: ignore[no-untyped-def]
    board = Board.from_text(text, "board.iommu")
    assert board.ok, [d.message for d in board.input_diagnostics]  # loading and validation
    return board.model


def test_platform() -> None:
    m = model_of(
        """platform {
            arch arm64; kernel 6.8.2
            ram 0x80000000 size 2G
            ram 0x880000000 size 0x80000000
            cmdline "iommu.passthrough=1 console=ttyS0"
            config IOMMU_DEFAULT_DMA_LAZY
            config ARM_DMA_USE_IOMMU = n
        }"""
    )
    p = m.platform
    assert p.arch_name == "arm64"
    assert p.kernel_version == (6, 8, 2)
    assert [(b, s) for b, s, _ in p.ram] == [(0x80000000, 2 << 30), (0x880000000, 0x80000000)]
    assert p.ram_top == 0x900000000
    assert p.cmdline is not None and p.cmdline.value == "iommu.passthrough=1 console=ttyS0"
    assert p.config_value("IOMMU_DEFAULT_DMA_LAZY") == "y"
    assert p.config_value("ARM_DMA_USE_IOMMU") == "n"
    assert p.config_value("IOMMU_DEFAULT_PASSTHROUGH") is None


def test_iommu_properties() -> None:
    m = model_of(
        """iommu smmu: qcom-smmu {
            contexts 16; domains identity, dma, unmanaged
            reserved 15; secure 12..14; cells 2; stream-bits 15
            map rid 0x0 sid 0x10000 length 0x10000; map-mask 0x0
            quirk bypass-last-context
        }
        iommu mc: tegra-smmu { contexts 4; group drm: dc, dcb, g2 }
        iommu off: arm-smmu-v3 { disabled }"""
    )
    smmu = m.iommus["smmu"]
    assert smmu.kind == "qcom-smmu"
    assert smmu.contexts == 16
    assert smmu.domains == {"identity", "dma", "unmanaged"}
    assert smmu.reserved == {15}
    assert smmu.secure == {12, 13, 14}
    assert smmu.cells == 2 and smmu.stream_bits == 15
    assert [(e.rid, e.sid, e.length) for e in smmu.maps] == [(0, 0x10000, 0x10000)]
    assert smmu.map_mask == 0
    assert smmu.quirks == {"bypass-last-context"}
    mc = m.iommus["mc"]
    assert [(g.name, g.members) for g in mc.soc_groups] == [("drm", ("dc", "dcb", "g2"))]
    assert m.iommus["off"].disabled


def test_device_properties() -> None:
    m = model_of(
        """iommu smmu: arm-smmu { contexts 8; cells 2 }
        bridge rp0: root-port { pci 0000:00:1c.0; acs no }
        device gpu0: "qcom,adreno-630.2", "qcom,adreno" {
            tags gpu, display
            iommu smmu sid 0x5000 mask 0x400, sid 0x5002
            dma-mask 40; coherent; driver own-domain, detaches-implicit; probe-order 3
        }
        device tb: "pci8086,15ef" {
            pci 03:00.0; upstream rp0; untrusted; acs yes; alias 0000:03:00.1
            driver managed-dma; non-coherent
        }
        device nic: "pci10de,1" {
            pci 04:00.0; caps pasid, ats; pcie rc-endpoint; multifunction yes
            bound "nvme"; disabled; dma-range 0x80000000 size 0x40000000 bus 0x1000
        }"""
    )
    gpu = m.devices["gpu0"]
    assert gpu.compatibles == ("qcom,adreno-630.2", "qcom,adreno")
    assert gpu.tags == {"gpu", "display"}
    (link,) = gpu.iommus
    assert link.iommu == "smmu"
    assert [(s.form, s.value, s.mask) for s in link.streams] == [
        ("sid", 0x5000, 0x400),
        ("sid", 0x5002, None),
    ]
    assert gpu.dma_mask == 40 and gpu.coherent is True
    assert gpu.driver == {"own-domain", "detaches-implicit"}
    assert gpu.probe_order == 3
    tb = m.devices["tb"]
    PciAddress = type(tb.pci)
    assert PciAddress.__name__ == "PciAddress"
    assert tb.pci == PciAddress(0, 3, 0, 0)
    assert tb.upstream == "rp0" and tb.untrusted
    from iommu_rules.pci.acs import REQ_ACS_FLAGS

    assert tb.acs is not None and tb.acs.stated == "yes" and tb.acs.cap == REQ_ACS_FLAGS
    assert tb.aliases == (PciAddress(0, 3, 0, 1),)
    assert tb.coherent is False and tb.driver == {"managed-dma"}
    nic = m.devices["nic"]
    assert nic.caps == {"pasid", "ats"} and nic.pcie == "rc-endpoint" and nic.multifunction
    assert nic.bound == "nvme" and nic.disabled and nic.bridge is None
    assert nic.dma_range == (0x80000000, 0x40000000, 0x1000) and nic.dma_range_span.line == 14
    assert nic.pci_span.line == 13 and nic.span.line == 12 and nic.file == tb.file
    assert not any((gpu.untrusted, gpu.disabled, gpu.pcie, gpu.multifunction, gpu.bound))
    assert gpu.pci is None and gpu.upstream is None and gpu.dma_range is None
    # a bridge with an address is a PCI function too
    assert m.devices["rp0"].bridge == "root-port" and m.devices["rp0"].acs.cap is None
    assert m.bridges["rp0"].acs.stated == "no" and str(m.bridges["rp0"].pci) == "0000:00:1c.0"


def test_streams_per_kind() -> None:
    m = model_of(
        """iommu mc: tegra-smmu { contexts 4 }
        iommu apps: qcom-iommu { contexts 4 }
        iommu gart: tegra-gart
        device dc: "nvidia,tegra30-dc" { iommu mc swgroup dc }
        device venus: "qcom,msm8916-venus" { iommu apps context 1 }
        device gr2d: "nvidia,tegra20-gr2d" { iommu gart }"""
    )
    assert m.devices["dc"].iommus[0].streams[0].value == "dc"
    assert m.devices["venus"].iommus[0].streams[0].form == "context"
    assert m.devices["gr2d"].iommus[0].streams == ()


def test_domain_rules_when_expect() -> None:
    m = model_of(
        """iommu mc: tegra-smmu { contexts 4 }
        device gr3d: "nvidia,tegra30-gr3d" { tags gpu; iommu mc swgroup nv }
        domain drm: unmanaged on mc { attach gr3d }
        rule "gpu owns": gpu excludes implicit because "drm attaches its own domain"
        rule gpu and not compatible "*-dc" or pci 0000:03:00.* prefers identity
        rule context mc.0 reserved for gpu
        rule on mc allows contexts 0..1, 3 source "seed thread: valid context mask"
        when kernel >= 6.7 and (arch == arm or not config IOMMU_DMA) {
            rule kind tegra-smmu def-domain-type identity
            expect gr3d.dma_ops == dma-direct
        }
        expect gr3d.group_members == [gr3d]
        expect mc.contexts_used <= 4"""
    )
    assert m.domains["drm"].attach == ("gr3d",)
    rules = m.rules
    assert rules[0].name == "gpu owns" and rules[0].because == "drm attaches its own domain"
    assert isinstance(rules[0].verb, ast.Verb) and rules[0].verb.kind == "excludes implicit"
    # 'not' binds tighter than 'and', which binds tighter than 'or'
    sel = rules[1].selector
    assert isinstance(sel, ast.SelOr)
    assert isinstance(sel.operands[0], ast.SelAnd)
    assert isinstance(sel.operands[0].operands[1], ast.SelNot)
    assert rules[1].name == "board.iommu:5"
    assert isinstance(rules[2].verb, ast.Reserve) and rules[2].verb.index.value == 0
    assert isinstance(rules[3].verb, ast.Verb)
    assert [(r.first.value, r.last.value if r.last else None) for r in rules[3].verb.contexts] == [
        (0, 1),
        (3, None),
    ]
    assert rules[4].conditions and isinstance(rules[4].conditions[0], ast.CondAnd)
    assert [e.query.attribute.text for e in m.expectations] == [
        "dma_ops",
        "group_members",
        "contexts_used",
    ]
    assert m.expectations[0].conditions


def test_soft_keywords_are_names_where_names_are_expected() -> None:
    m = model_of(
        """iommu iommu: arm-smmu { contexts 2 }
        device dma: "arm,pl330" { tags identity, pci; iommu iommu sid 0x1 }
        device device: "x"
        rule identity requires dma
        rule dma excludes implicit"""
    )
    assert set(m.devices) == {"dma", "device"}
    assert m.devices["dma"].tags == {"identity", "pci"}


def test_numbers_sizes_versions() -> None:
    m = model_of("platform { kernel 5.10; ram 0 size 512M; ram 0x100000000 size 16G }")
    assert m.platform.kernel_version == (5, 10)
    assert m.platform.ram_top == 0x100000000 + (16 << 30)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n",
        ";;;",
        "platform { }",
    ],
)
def test_trivial_files(text: str) -> None:
    model_of(text)


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "w.iommu"
    path.write_bytes(b'\xef\xbb\xbfdevice a: "x" {\r\n  tags gpu\r\n}\r\n')
    board = Board.load(path)
    assert board.base.ok
    assert board.model.devices["a"].tags == {"gpu"}


# -- iommu-map per host bridge ------------------------------------------------------------

MAPPED = """\
platform { arch arm64; kernel 6.8 }
iommu smmu: arm-smmu-v3 {
    map pci-domain 0 rid 0x0 sid 0x10000 length 0x100
    map pci-domain 1 rid 0x0 sid 0x20000 length 0x100
}
device a: "x" { pci 0000:00:01.0 }
device b: "x" { pci 0001:00:01.0 }
device c: "x" { pci 0001:02:00.0 }
"""


def test_map_entries_are_told_apart_by_pci_domain() -> None:
    board = Board.from_text(MAPPED, "m.iommu")
    model = board.model
    assert model.ok, model.diagnostics
    smmu = model.iommus["smmu"]
    assert [e.pci_domain for e in smmu.maps] == [0, 1]
    assert model.devices["a"].stream_ids(smmu) == [(0x10008, 0)]
    assert model.devices["b"].stream_ids(smmu) == [(0x20008, 0)]
    res = board.resolution
    assert res.devices["a"].iommu == res.devices["b"].iommu == "smmu"
    assert res.devices["a"].group != res.devices["b"].group
    # RID 0x200 is past both entries: of_map_id bypasses translation
    assert res.devices["c"].iommu is None
    assert "no iommu-map entry covers" in res.devices["c"].reasons["iommu"].text


def test_map_pci_domain_formats_and_round_trips() -> None:
    text = "iommu s: arm-smmu-v3 { map pci-domain 0x1 rid 0 sid 0x20000 length 0x100 mask 0 }\n"
    out = format_text(text, "m.iommu")
    assert "    map pci-domain 0x1 rid 0 sid 0x20000 length 0x100 mask 0\n" in out
    assert format_text(out, "m.iommu") == out


def test_two_iommus_mapping_the_same_rids_is_e127() -> None:
    text = """\
iommu s1: arm-smmu-v3 { map rid 0x0 sid 0x0 length 0x100 }
iommu s2: arm-smmu-v3 { map pci-domain 1 rid 0x80 sid 0x0 length 0x100 }
iommu s3: arm-smmu-v3 { map pci-domain 2 rid 0x0 sid 0x0 length 0x10000 }
"""
    model = Board.from_text(text, "m.iommu").model
    codes = [(d.code, d.span.line) for d in model.diagnostics]
    # s1 has no pci-domain, so it collides with both; s2 and s3 are on different hosts
    assert codes == [("E127", 2), ("E127", 3)]  # s1 x s2, s1 x s3
    assert "requester IDs 0x80.. reach both 's1' and 's2'" in model.diagnostics[0].message


def test_map_mask_that_clears_the_rid_base_is_e128() -> None:
    text = "iommu s: arm-smmu-v3 {\n map rid 0x100 sid 0 length 0x100\n map-mask 0xff\n}\n"
    model = Board.from_text(text, "m.iommu").model
    assert [(d.code, d.span.line) for d in model.diagnostics] == [("E128", 2)]


def test_an_entry_mask_overrides_the_iommu_map_mask() -> None:
    text = """\
iommu s: arm-smmu {
    map pci-domain 1 rid 0x0 sid 0x57 length 0x1000 mask 0x0
    map pci-domain 2 rid 0x0 sid 0x100 length 0x1000
    map-mask 0xff
}
device a: "x" { pci 0001:03:00.0 }
device b: "x" { pci 0002:03:00.1 }
"""
    model = Board.from_text(text, "m.iommu").model
    assert model.ok, model.diagnostics
    assert model.devices["a"].stream_ids(model.iommus["s"]) == [(0x57, 0)]  # RID & 0
    assert model.devices["b"].stream_ids(model.iommus["s"]) == [(0x101, 0)]  # 0x301 & 0xff


# -- `driver FLAG` rules: what packs know about drivers -----------------------------------

DRIVER_RULE = """\
platform {
    arch arm
    kernel 6.1
    ram 0x80000000 size 1G
    config ARM_DMA_USE_IOMMU
}
iommu mc: tegra-smmu { contexts 4 }
device vde: "nvidia,tegra30-vde" { iommu mc swgroup vde }
device vi: "nvidia,tegra30-vi" { iommu mc swgroup vi }
rule "vde detaches": compatible "nvidia,tegra*-vde" driver detaches-implicit,  own-domain
    source "tegra-vde/iommu.c: tegra_vde_iommu_init"
"""


def test_a_driver_rule_gives_its_flags_to_the_devices_it_selects() -> None:
    out = format_text(DRIVER_RULE, "d.iommu")
    assert 'compatible "nvidia,tegra*-vde" driver detaches-implicit, own-domain' in out
    res = Board.from_text(DRIVER_RULE, "d.iommu").resolution
    why = res.driver_does("vde", "detaches-implicit")
    assert why is not None and why.span is not None and why.span.line == 10
    assert why.source == "tegra-vde/iommu.c: tegra_vde_iommu_init"
    assert res.driver_does("vi", "detaches-implicit") is None
    # vi keeps its arm32 mapping; vde's was released and its DMA ops reset
    assert res.devices["vi"].values["dma_ops"] == "arm_iommu"
    assert res.devices["vde"].values["dma_ops"] == "dma-direct"
    assert "detached its arm32 mapping" in res.devices["vde"].reasons["dma_ops"].lines()[1]
    dropped = DRIVER_RULE.replace("rule ", "# rule ").replace("    source", "#")
    res = Board.from_text(dropped, "d.iommu").resolution
    assert res.devices["vde"].values["dma_ops"] == "arm_iommu"


def test_an_unknown_driver_flag_in_a_rule_is_e005() -> None:
    board = Board.from_text('device a: "x"\nrule "r": a driver detach-implicit\n', "d.iommu")
    diags = board.input_diagnostics  # the loader's, then the model's
    assert [d.code for d in diags] == ["E005"]
    assert "did you mean 'detaches-implicit'?" in (diags[0].help or "")


def test_caps_are_facts_a_selector_can_ask_for() -> None:
    text = 'device a: "x" { caps pasid,ats }\ndevice b: "y"\nrule "r": cap pasid prefers dma\n'
    out = format_text(text, "c.iommu")
    assert 'device a: "x" { caps pasid, ats }' in out and 'rule "r": cap pasid' in out
    board = Board.from_text(text, "c.iommu")
    assert board.model.devices["a"].caps == frozenset({"pasid", "ats"})
    res = board.resolution
    assert res.rule_hits == {0: 1}  # only 'a'
    bad = load_text('device a: "x" { caps pasidd }\n', "c.iommu")
    assert [(d.code, d.help) for d in bad.diagnostics] == [("E005", "did you mean 'pasid'?")]


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        ("dma-iommu", "did you mean 'iommu-dma' (the IOMMU DMA layer"),
        ("iommu_dma", "or 'dma_iommu' (POWER's TCE ops"),
        ("dma-direkt", "did you mean 'dma-direct'"),
    ],
)
def test_dma_ops_expectation_typos_get_a_hint(word: str, hint: str) -> None:
    """iommu-dma and POWER's dma_iommu are the same two words: a swap names both."""
    model = Board.from_text(f'device a: "x"\nexpect a.dma_ops == {word}\n', "b.iommu").model
    [diag] = [d for d in model.diagnostics if d.code == "E116"]
    assert hint in (diag.help or "")
