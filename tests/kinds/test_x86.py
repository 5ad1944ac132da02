"""intel-vtd and amd-vi: what their drivers do with the PCI functions they claim, their
default domains and AMD-Vi's protection domain IDs (dsl/kinds/x86.py)."""

from __future__ import annotations

import pytest
from kinds.boards import resolved

from iommu_rules import Board

from conftest import EXAMPLES, run_cli

AMD_BOARD = """\
include "std/linux"
include "std/iommu/amd-vi"
platform {{ arch x86_64; kernel {kernel}; ram 0x0 size 16G{extra} }}
iommu amdvi: amd-vi
device gpu: "pci1002,699f" {{ caps ats, pri, pasid; pci 0000:04:00.0 }}
device nic: "pci10ec,8125" {{ pci 0000:05:00.0 }}
device egpu: "pci1002,73a5" {{ caps ats, pri, pasid; pci 0000:06:00.0; untrusted }}
device acc: "pci1022,14c9" {{ caps pasid; pci 0000:07:00.0 }}
"""


SME_DEFAULT = "; config AMD_MEM_ENCRYPT_ACTIVE_BY_DEFAULT"


@pytest.mark.parametrize(
    ("kernel", "extra", "gpu", "acc"),
    [
        # "-": the global default (lazy DMA on x86 from 5.15, DMA before); identity: the wish
        ("5.4", "", "-", "-"),  # no def_domain_type callback yet
        ("5.8", "", "identity", "-"),  # dev_data->iommu_v2: ATS + PRI + PASID
        ("5.8", '; cmdline "mem_encrypt=on"', "identity", "-"),  # no SME test in 5.8.0
        ("5.10", '; cmdline "mem_encrypt=on"', "-", "-"),  # 7cad554887f1
        ("5.10", SME_DEFAULT, "-", "-"),  # sme_enable: active by default
        ("5.10", SME_DEFAULT + '; cmdline "mem_encrypt=off"', "identity", "-"),
        ("6.5", SME_DEFAULT, "identity", "-"),  # cbebd68f59f0's early return
        ("6.6", '; cmdline "pci=noats"', "-", "-"),  # pci_ats_supported fails
        ("6.6", '; cmdline "amd_iommu=force_isolation"', "-", "-"),
        ("6.7", "", "identity", "identity"),  # 92e2bd56a5f9: pdev_pasid_supported
        ("6.8", '; cmdline "amd_iommu=force_isolation"', "-", "-"),
        ("6.8", '; cmdline "mem_encrypt=on"', "-", "-"),  # CC_ATTR_MEM_ENCRYPT
    ],
)
def test_amd_vi_pack_follows_amd_iommu_def_domain_type(
    kernel: str, extra: str, gpu: str, acc: str
) -> None:
    res = Board.from_text(AMD_BOARD.format(kernel=kernel, extra=extra), "a.iommu").resolution
    assert not res.errors
    values = {d: res.devices[d].values["default_domain"] for d in ("gpu", "acc", "nic", "egpu")}
    base = res.global_default
    assert base in ("dma", "dma-fq")
    # no capability: the global default; untrusted: strict DMA (iommu_get_default_domain_type)
    expected = {"gpu": gpu, "acc": acc, "nic": "-", "egpu": "dma"}
    assert values == {k: base if v == "-" else v for k, v in expected.items()}
    if gpu == "identity":
        why = "\n".join(res.devices["gpu"].reasons["default_domain"].lines())
        assert "std/iommu/amd-vi.iommu" in why and "amd_iommu_def_domain_type" in why


@pytest.mark.parametrize("kernel", ["6.8", "6.10"])
def test_intel_igfx_off_leaves_the_igpu_untranslated(kernel: str) -> None:
    """intel_iommu=igfx_off: init_no_remapping_devices ignores the graphics-dedicated DMAR;
    before 6.10 IDENTMAP_GFX also gives every other display function identity."""
    proc = run_cli(
        "whatif",
        str(EXAMPLES / "x86-desktop.iommu"),
        "--set",
        f'cmdline "intel_iommu=igfx_off"; kernel {kernel}',
        "--color",
        "never",
    )
    changed = [line for line in proc.stdout.splitlines() if line.startswith("~ device")]
    assert "~ device igpu\n    iommu: vtd_gfx → none" in proc.stdout, proc.stdout
    if kernel == "6.8":
        # the GTX 1070 is display class: its whole group (its audio function, and the root
        # port above it that ACS does not isolate) follows
        assert "~ device dgpu\n    default_domain: dma-fq → identity" in proc.stdout
        for name in ("cpu_rp", "dgpu", "dgpu_audio", "igpu"):
            assert f"~ device {name}" in changed
    else:  # ba00196ca41c decoupled igfx_off from the identity mapping
        assert changed[0] == "~ device igpu", proc.stdout
    # devices other than the GPUs only move to other (unscarce) domain IDs
    for line in changed:
        if line not in ("~ device cpu_rp", "~ device dgpu", "~ device dgpu_audio", "~ device igpu"):
            block = proc.stdout.split(line + "\n", 1)[1].split("~ ", 1)[0]
            assert block.strip().startswith("context:"), block


def test_pci_functions_behind_an_x86_iommu_can_join_a_driver_domain() -> None:
    model, res = resolved(
        'include "std/linux"\nplatform { arch x86_64; kernel 6.8; ram 0x0 size 4G }\n'
        'iommu d: intel-vtd\ndevice nic: "pci8086,1533" { pci 0000:01:00.0; driver managed-dma }\n'
        "domain vfio: unmanaged on d { attach nic }\n"
    )
    assert not model.diagnostics and not res.errors
    assert res.devices["nic"].domain == "vfio"


def test_amd_protection_domain_ids_are_global_and_start_at_1() -> None:
    """amd_iommu_pd_alloc_bitmap (pdom_ids from 6.12) is one pool for every AMD IOMMU, and
    ID 0 is never allocated; a domain on two IOMMUs keeps its one ID on both."""
    _, res = resolved(
        'include "std/linux"\n'
        "platform { arch x86_64; kernel 6.8; ram 0x0 size 8G }\n"
        "iommu amd0: amd-vi\niommu amd1: amd-vi\n"
        'device nic0: "pci8086,1533" { pci 0000:01:00.0; iommu amd0; driver own-domain }\n'
        'device nic1: "pci8086,1533" { pci 0000:41:00.0; iommu amd1; driver own-domain }\n'
        'device nvme: "pci144d,a808" { pci 0000:42:00.0; iommu amd1 }\n'
        "domain vfio: unmanaged on amd0, amd1 { attach nic0, nic1 }\n"
    )
    assert not res.errors
    nvme = res.domains[res.devices["nvme"].domain or ""]
    vfio = res.domains["vfio"]
    ids = sorted(d.context for d in res.domains.values() if d.context is not None)
    assert ids == list(range(1, len(ids) + 1))  # one pool from 1, no ID used twice
    assert vfio.contexts_on == {"amd1": vfio.context}
    assert nvme.context != vfio.context


@pytest.mark.parametrize(
    ("kernel", "ids"),
    [
        # before 6.13 every identity group allocates its own protection domain ID
        ("6.8", {"nic0": 1, "nic1": 2, "nvme": 3}),
        # from 6.13 they share the global identity domain, ID 1 from init; paging from 2
        ("6.13", {"nic0": 1, "nic1": 2, "nvme": 1}),
    ],
)
def test_amd_identity_domains_take_protection_domain_ids(kernel: str, ids: dict[str, int]) -> None:
    _, res = resolved(
        f'include "std/linux"\nplatform {{ arch x86_64; kernel {kernel}; cmdline "iommu=pt" }}\n'
        "iommu amd0: amd-vi\n"
        'device nic0: "pci8086,1533" { pci 0000:01:00.0; iommu amd0 }\n'
        'device nic1: "pci8086,1533" { pci 0000:02:00.0; iommu amd0; untrusted }\n'
        'device nvme: "pci144d,a808" { pci 0000:03:00.0; iommu amd0 }\n'
    )
    assert not res.errors
    got = {name: d.values["context"] for name, d in res.devices.items()}
    assert got == ids
    assert res.devices["nic1"].values["domain_type"] == "dma"  # untrusted: translated


def test_amd_paging_ids_start_at_2_from_6_13() -> None:
    """The global identity domain takes ID 1 at init even when no group uses it."""
    _, res = resolved(
        'include "std/linux"\nplatform { arch x86_64; kernel 6.13 }\niommu amd0: amd-vi\n'
        'device nic0: "pci8086,1533" { pci 0000:01:00.0; iommu amd0 }\n'
    )
    assert res.devices["nic0"].values["context"] == 2
