"""Board texts and helpers shared by tests in more than one file: the per-family files
here and the tests across kinds in tests/test_packs.py, which import them as ``kinds.boards``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iommu_rules import Board

if TYPE_CHECKING:
    from iommu_rules.resolution import Resolution

EXYNOS_BOARD = """\
include "std/linux"
include "std/soc/exynos"
platform {{ arch {arch}; kernel 6.8; ram 0x20000000 size 2G }}
iommu sysmmu_fimd0: exynos-sysmmu
iommu sysmmu_fimd1: exynos-sysmmu
iommu sysmmu_tv: exynos-sysmmu
iommu sysmmu_jpeg: exynos-sysmmu
device fimd: "samsung,exynos5420-fimd" {{ iommu sysmmu_fimd0; iommu sysmmu_fimd1 }}
device mixer: "samsung,exynos5420-mixer" {{ iommu sysmmu_tv }}
device jpeg: "samsung,exynos5420-jpeg" {{ iommu sysmmu_jpeg }}
domain drm: arm-mapping on sysmmu_fimd0, sysmmu_tv{on} {{ attach fimd, mixer{extra} }}
"""


OMAP = """\
include "std/linux"
include "std/iommu/omap-iommu"
platform {{ arch {arch}; kernel {kernel} }}
iommu mmu_ipu1: omap-iommu
iommu mmu0_dsp1: omap-iommu
iommu mmu1_dsp1: omap-iommu
# dra7.dtsi: the IPU's MMU, the DSP's two
device ipu1: "ti,dra7-ipu" {{ iommu mmu_ipu1 }}
device dsp1: "ti,dra7-dsp" {{ iommu mmu0_dsp1; iommu mmu1_dsp1 }}
{extra}
"""


Z = """\
include "std/linux"
include "std/iommu/s390-iommu"
platform {{ arch {arch}; kernel {kernel}; ram 64G{cmdline} }}
iommu zpci: s390-iommu{quirk}
# two functions of one card and a drive, each zPCI function in a PCI domain of its own
device roce0: "pci15b3,1016" {{ pci 0001:00:00.0; dma-mask 64 }}
device roce1: "pci15b3,1016" {{ pci 0001:00:00.1; dma-mask 64 }}
device nvme: "pci144d,a824" {{ pci 0002:00:00.0; dma-mask 64 }}
"""


MSM = """\
include "std/linux"
include "std/iommu/msm-iommu"
platform {{ arch {arch}; kernel {kernel} }}
# qcom-apq8064.dtsi: the GPU is the one master of gfx3d and of gfx3d1 (qcom,ncb = <3>)
iommu gfx3d: msm-iommu {{ contexts 3 }}
iommu gfx3d1: msm-iommu {{ contexts 3{gfx3d1} }}
device gpu: "qcom,adreno-320.2" {{ iommu gfx3d sid 0, sid 1; iommu gfx3d1 sid 0, sid 1 }}
{extra}
"""


PAMU = """\
include "std/linux"
include "std/iommu/fsl-pamu"
platform {{ arch powerpc; kernel {kernel}; ram 8G }}
# one PAMU for the SoC's five PAMU blocks; LIODNs as U-Boot's p4080_ids.c writes them
iommu pamu: fsl-pamu{quirk}
device dma0: "fsl,eloplus-dma" {{ iommu pamu sid 196 }}
device portal0: "fsl,qman-portal" {{ iommu pamu sid 1, sid 2; driver own-domain }}
# two functions behind PCIe controller 2 (PCI domain 1), one behind controller 1
device nic0: "pci8086,10d3" {{ pci 0000:01:00.0; dma-mask 64 }}
device nic1: "pci8086,10d3" {{ pci 0001:01:00.0 }}
device sata: "pci1095,3132" {{ pci 0001:02:00.0 }}
{extra}
"""


def _why(res: Resolution, dev: str, attr: str) -> str:
    return "\n".join(res.devices[dev].reasons[attr].lines())


def _pamu(kernel: str = "6.8", extra: str = "", quirk: str = "") -> Resolution:
    text = PAMU.format(kernel=kernel, extra=extra, quirk=quirk)
    return Board.from_text(text, "p4080ds.iommu").resolution


P9 = """\
include "std/linux"
include "std/iommu/spapr-tce"
platform {{ arch powerpc; kernel {kernel}; ram 256G }}
iommu phb0: spapr-tce
iommu phb4: spapr-tce{quirk}
device nvme: "pci144d,a808" {{ pci 0000:01:00.0; iommu phb0 sid 0x1fd; dma-mask 64 }}
# a BCM5719's two functions share PE#0
device eth0: "pci14e4,1657" {{ pci 0004:01:00.0; iommu phb4 sid 0x0; dma-mask 64 }}
device eth1: "pci14e4,1657" {{ pci 0004:01:00.1; iommu phb4 sid 0x0; dma-mask 64 }}
# a GPU that reaches 47 bits, below the bypass window at 1 << 59
device gpu: "pci10de,1f08" {{ pci 0004:02:00.0; iommu phb4 sid 0x1; dma-mask 47 }}
{extra}
"""


def _p9(kernel: str = "6.8", extra: str = "", quirk: str = "") -> Resolution:
    text = P9.format(kernel=kernel, extra=extra, quirk=quirk)
    return Board.from_text(text, "talos.iommu").resolution


def resolved(text: str):  # type: ignore[no-untyped-def]
    """The board's model, and its resolution (None when it has input errors)."""
    board = Board.from_text(text, "b.iommu")
    return board.model, board.resolution if board.ok else None
