"""The kernel's PCI quirk tables as data (drivers/pci/quirks.c), and what each quirk
function answers.

``ACS_TABLE`` is pci_dev_acs_enabled[] in table order: pci_dev_specific_acs_enabled walks it
top to bottom, calls every row whose vendor and device match (ANY matches all) and returns
the first answer that is not negative; a quirk that answers 0 ends the walk, and the ACS
capability is then never read. Each function below mirrors the quirks.c function of that
name (pci_quirk_NAME_acs). ``ALIAS_TABLE`` holds the header fixups that add DMA aliases
(pci_add_dma_alias) or change how pci_for_each_dma_alias walks past a bridge.

Rows match by the IDs in a function's compatible ("pci8086,15b8"): a board states IDs, not
guesses, and an explicit `acs yes|no` on a function still wins over its row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .acs import AcsFlag, flags_enabled
from .topology import Function, PcieType

QUIRKS_C = "drivers/pci/quirks.c"
ANY = -1  # PCI_ANY_ID


@dataclass(frozen=True)
class AcsRow:
    vendor: int
    device: int
    function: str  # pci_quirk_<function>_acs
    since: str | None = None  # the first release with the row, where known


@dataclass(frozen=True)
class Facts:
    """What a quirk may look at besides the function: whether an IOMMU asked for ACS
    (pci_request_acs, so pci_enable_acs ran the enable quirks), whether an AMD IOMMU's
    ACPI IVRS table exists, and the kernel."""

    acs_requested: bool
    ivrs: bool
    kernel: tuple[int, ...]


@dataclass(frozen=True)
class Answer:
    """A quirk's answer: None (-ENOTTY or -ENODEV: the walk goes on), 0 or 1, and why."""

    value: int | None
    why: str


SV_RR_CR_UF = AcsFlag.SV | AcsFlag.RR | AcsFlag.CR | AcsFlag.UF


def _ctrl_enabled(wanted: AcsFlag, enabled: AcsFlag) -> int:
    """quirks.c: pci_acs_ctrl_enabled."""
    return 1 if (wanted & enabled) == wanted else 0


def _amd_sb(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    if not fn.multifunction or not fn.root_bus:
        return Answer(None, "not a multifunction device on a root bus")
    if not facts.ivrs:
        return Answer(None, "no ACPI IVRS table (no AMD IOMMU)")
    masked = wanted & (AcsFlag.RR | AcsFlag.CR | AcsFlag.EC | AcsFlag.DT)
    return Answer(
        _ctrl_enabled(masked, AcsFlag.RR | AcsFlag.CR),
        "an AMD southbridge function does no peer-to-peer where an AMD IOMMU is present",
    )


def _mf_endpoint(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    flags = SV_RR_CR_UF | AcsFlag.TB | AcsFlag.DT
    return Answer(
        _ctrl_enabled(wanted, flags),
        "the vendor verified that its functions do no peer-to-peer with each other",
    )


def _rciep(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    if fn.type is not PcieType.RC_ENDPOINT:
        return Answer(None, "not a root complex integrated endpoint")
    return Answer(
        _ctrl_enabled(wanted, SV_RR_CR_UF),
        "Intel RCiEPs allow peer-to-peer on translated addresses only (VT-d 3.1 sec 3.16)",
    )


def _isolating_root_port(text: str) -> Callable[[Function, AcsFlag, Facts], Answer]:
    def quirk(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
        return Answer(_ctrl_enabled(wanted, SV_RR_CR_UF), text)

    return quirk


# pci_quirk_intel_pch_acs_ids: "as provided by Intel in Red Hat bugzilla 1037684"
INTEL_PCH_IDS = frozenset(
    [
        *range(0x3B42, 0x3B52),  # Ibexpeak
        *range(0x1C10, 0x1C20),  # Cougarpoint
        *range(0x1E10, 0x1E20),  # Pantherpoint
        *range(0x8C10, 0x8C20),  # Lynxpoint-H
        *range(0x9C10, 0x9C1C),  # Lynxpoint-LP
        *range(0x9C90, 0x9C9C),  # Wildcat
        *range(0x1D10, 0x1D1F, 2),  # Patsburg (X79)
        *range(0x8D10, 0x8D1F),  # Wellsburg (X99)
        *range(0x8C90, 0x8C9F, 2),  # Lynx Point (9 series)
    ]
)
# pci_quirk_intel_spt_pch_acs_match
INTEL_SPT_IDS = frozenset(
    [
        *range(0xA110, 0xA120),  # Sunrise Point (100 series)
        *range(0xA167, 0xA16B),
        *range(0xA290, 0xA2A0),  # Union Point (200 series)
        *range(0xA2E7, 0xA2EF),
        *range(0x9D10, 0x9D1C),  # 7th and 8th gen mobile
    ]
)


def _intel_pch(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    if fn.type is not PcieType.ROOT_PORT or fn.device not in INTEL_PCH_IDS:
        return Answer(None, "not an Intel PCH root port on its list")
    # pci_quirk_enable_intel_pch_acs sets PCI_DEV_FLAGS_ACS_ENABLED_QUIRK from
    # pci_enable_acs, which runs only once an IOMMU asked for ACS. 47c8846a49ba (6.11)
    # returned before it for ports without an ACS capability; f3c3ccc4fe49 (6.12, and a
    # 6.11.y stable) put it back.
    if not facts.acs_requested:
        return Answer(0, "no IOMMU asked for ACS, so the port's ACS was never enabled")
    if facts.kernel[:2] in ((5, 9), (6, 11)) and (fn.acs is None or fn.acs.cap is None):
        why = (
            "5.9 enables ACS only where a capability is (52fbf5bdeeef; fixed by "
            "462b58fb0339 in 5.10)"
            if facts.kernel[:2] == (5, 9)
            else "6.11's pci_enable_acs returns before the enable quirk on a port without "
            "an ACS capability (47c8846a49ba; fixed by f3c3ccc4fe49 in 6.12)"
        )
        return Answer(0, why + ": the enable quirk never ran")
    return Answer(
        _ctrl_enabled(wanted, SV_RR_CR_UF),
        "Intel PCH root ports isolate once pci_quirk_enable_intel_pch_acs has run",
    )


# Union Point's IDs arrived after 4.10 (an Intel spec update of January 2017) and by the
# 4.14-era tree; the mobile ones after that and by about 4.19: bounds, not pinned releases
SPT_ID_SINCE = ((range(0xA290, 0xA2EF), (4, 11)), (range(0x9D10, 0x9D1C), (4, 18)))


def _intel_spt_pch(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    if fn.type is not PcieType.ROOT_PORT or fn.device not in INTEL_SPT_IDS:
        return Answer(None, "not a Sunrise/Union Point root port")
    for ids, since in SPT_ID_SINCE:
        if fn.device in ids and facts.kernel < since:
            return Answer(None, "its ID is not on this kernel's list yet")
    acs = fn.acs
    cap = acs.cap if acs is not None else SV_RR_CR_UF  # these ports have the capability
    if cap is None:
        return Answer(None, "it has no ACS capability (dev->acs_cap is 0)")
    ctl = acs.ctl if acs is not None else AcsFlag(0)
    if facts.acs_requested:  # pci_quirk_enable_intel_spt_pch_acs
        ctl |= cap & SV_RR_CR_UF
    ok = flags_enabled(cap, ctl, wanted)
    return Answer(
        int(ok),
        "the 100/200-series PCH reads its ACS control dword at the errata's offset"
        + ("" if facts.acs_requested else "; no IOMMU asked for ACS, so nothing enabled it"),
    )


def _cavium(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    dev = fn.device or 0
    later = dev in (0xAF84, 0xB884) and facts.kernel >= (5, 5)  # f338bb9f0179
    if fn.type is not PcieType.ROOT_PORT or not (0xA000 <= dev <= 0xA7FF or later):
        return Answer(None, "not a ThunderX root port")
    return Answer(_ctrl_enabled(wanted, SV_RR_CR_UF), "ThunderX root ports isolate in RTL")


def _al(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    if fn.type is not PcieType.ROOT_PORT:
        return Answer(None, "not a root port")
    return Answer(_ctrl_enabled(wanted, SV_RR_CR_UF), "Annapurna Labs root ports do no P2P")


def _zhaoxin(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    if fn.type not in (PcieType.ROOT_PORT, PcieType.DOWNSTREAM):
        return Answer(None, "not a root or downstream port")
    dev = fn.device or 0
    last = 0x0752 if facts.kernel >= (6, 8) else 0x0732  # e367e3c765f5 widened it in 6.8
    if 0x0710 <= dev <= 0x071E or dev == 0x0721 or 0x0723 <= dev <= last:
        return Answer(_ctrl_enabled(wanted, SV_RR_CR_UF), "these Zhaoxin ports block P2P")
    return Answer(0, "other Zhaoxin ports are taken as not isolated")


def _wangxun(fn: Function, wanted: AcsFlag, facts: Facts) -> Answer:
    dev = fn.device or 0
    aml = (0x5010, 0x5025, 0x5040, 0x5110, 0x5125, 0x5140)
    if (
        0x0100 <= dev <= 0x010F
        or dev in (0x1001, 0x2001)
        or (dev in aml and facts.kernel >= (6, 13))
    ):
        return Answer(
            _ctrl_enabled(wanted, SV_RR_CR_UF), "Wangxun NICs send all P2P traffic upstream"
        )
    return Answer(0, "other Wangxun devices are taken as not isolated")


FUNCTIONS: dict[str, Callable[[Function, AcsFlag, Facts], Answer]] = {
    "amd_sb": _amd_sb,
    "mf_endpoint": _mf_endpoint,
    "rciep": _rciep,
    "qcom_rp": _isolating_root_port("these Qualcomm root ports each head their own segment"),
    "intel_pch": _intel_pch,
    "intel_spt_pch": _intel_spt_pch,
    "cavium": _cavium,
    "xgene": _isolating_root_port("X-Gene root ports do no peer-to-peer"),
    "brcm": _isolating_root_port("iProc PAXB root ports do no peer-to-peer"),
    "al": _al,
    "nxp_rp": _isolating_root_port("these NXP root ports each head their own segment"),
    "zhaoxin_pcie_ports": _zhaoxin,
    "wangxun_nic": _wangxun,
    "loongson": _isolating_root_port("Loongson root ports do no peer-to-peer"),
}

ACS_TABLE: tuple[AcsRow, ...] = (
    AcsRow(0x1002, 0x4385, "amd_sb"),  # 15b100dfd1c9
    AcsRow(0x1002, 0x439C, "amd_sb"),  # 15b100dfd1c9
    AcsRow(0x1002, 0x4383, "amd_sb"),  # 15b100dfd1c9
    AcsRow(0x1002, 0x439D, "amd_sb"),  # 15b100dfd1c9
    AcsRow(0x1002, 0x4384, "amd_sb"),  # 15b100dfd1c9
    AcsRow(0x1002, 0x4399, "amd_sb"),  # 15b100dfd1c9
    AcsRow(0x1022, 0x780F, "amd_sb"),
    AcsRow(0x1022, 0x7809, "amd_sb"),
    AcsRow(0x1924, 0x0903, "mf_endpoint"),
    AcsRow(0x1924, 0x0923, "mf_endpoint"),
    AcsRow(0x1924, 0x0A03, "mf_endpoint"),
    AcsRow(0x8086, 0x10C6, "mf_endpoint"),
    AcsRow(0x8086, 0x10DB, "mf_endpoint"),
    AcsRow(0x8086, 0x10DD, "mf_endpoint"),
    AcsRow(0x8086, 0x10E1, "mf_endpoint"),
    AcsRow(0x8086, 0x10F1, "mf_endpoint"),
    AcsRow(0x8086, 0x10F7, "mf_endpoint"),
    AcsRow(0x8086, 0x10F8, "mf_endpoint"),
    AcsRow(0x8086, 0x10F9, "mf_endpoint"),
    AcsRow(0x8086, 0x10FA, "mf_endpoint"),
    AcsRow(0x8086, 0x10FB, "mf_endpoint"),
    AcsRow(0x8086, 0x10FC, "mf_endpoint"),
    AcsRow(0x8086, 0x1507, "mf_endpoint"),
    AcsRow(0x8086, 0x1514, "mf_endpoint"),
    AcsRow(0x8086, 0x151C, "mf_endpoint"),
    AcsRow(0x8086, 0x1529, "mf_endpoint"),
    AcsRow(0x8086, 0x152A, "mf_endpoint"),
    AcsRow(0x8086, 0x154D, "mf_endpoint"),
    AcsRow(0x8086, 0x154F, "mf_endpoint"),
    AcsRow(0x8086, 0x1551, "mf_endpoint"),
    AcsRow(0x8086, 0x1558, "mf_endpoint"),
    AcsRow(0x8086, 0x1509, "mf_endpoint"),
    AcsRow(0x8086, 0x150E, "mf_endpoint"),
    AcsRow(0x8086, 0x150F, "mf_endpoint"),
    AcsRow(0x8086, 0x1510, "mf_endpoint"),
    AcsRow(0x8086, 0x1511, "mf_endpoint"),
    AcsRow(0x8086, 0x1516, "mf_endpoint"),
    AcsRow(0x8086, 0x1527, "mf_endpoint"),
    AcsRow(0x8086, 0x10C9, "mf_endpoint"),
    AcsRow(0x8086, 0x10E6, "mf_endpoint"),
    AcsRow(0x8086, 0x10E7, "mf_endpoint"),
    AcsRow(0x8086, 0x10E8, "mf_endpoint"),
    AcsRow(0x8086, 0x150A, "mf_endpoint"),
    AcsRow(0x8086, 0x150D, "mf_endpoint"),
    AcsRow(0x8086, 0x1518, "mf_endpoint"),
    AcsRow(0x8086, 0x1526, "mf_endpoint"),
    AcsRow(0x8086, 0x10A7, "mf_endpoint"),
    AcsRow(0x8086, 0x10A9, "mf_endpoint"),
    AcsRow(0x8086, 0x10D6, "mf_endpoint"),
    AcsRow(0x8086, 0x1521, "mf_endpoint"),
    AcsRow(0x8086, 0x1522, "mf_endpoint"),
    AcsRow(0x8086, 0x1523, "mf_endpoint"),
    AcsRow(0x8086, 0x1524, "mf_endpoint"),
    AcsRow(0x8086, 0x105E, "mf_endpoint"),
    AcsRow(0x8086, 0x105F, "mf_endpoint"),
    AcsRow(0x8086, 0x1060, "mf_endpoint"),
    AcsRow(0x8086, 0x10D9, "mf_endpoint"),
    AcsRow(0x8086, 0x15B7, "mf_endpoint"),
    AcsRow(0x8086, 0x15B8, "mf_endpoint"),
    AcsRow(0x8086, ANY, "rciep", "5.8"),  # 3247bd10a450
    AcsRow(0x17CB, 0x0400, "qcom_rp"),
    AcsRow(0x17CB, 0x0401, "qcom_rp"),
    AcsRow(0x17CB, 0x0115, "qcom_rp", "6.12"),  # 026f84d3fa62
    AcsRow(0x1DBF, 0x0401, "qcom_rp", "5.1"),  # 01926f6b321b
    AcsRow(0x8086, ANY, "intel_pch", "3.15"),  # d99321b63b1f
    AcsRow(0x8086, ANY, "intel_spt_pch", "4.7"),  # 1bf2bf229b64
    AcsRow(0x19A2, 0x0710, "mf_endpoint"),
    AcsRow(0x10DF, 0x0720, "mf_endpoint"),
    AcsRow(0x177D, ANY, "cavium"),  # b404bcfbf035
    AcsRow(0x177D, 0xA026, "mf_endpoint", "5.15"),  # 32837d8a8f63
    AcsRow(0x177D, 0xA059, "mf_endpoint", "5.15"),  # 32837d8a8f63
    AcsRow(0x177D, 0xA060, "mf_endpoint", "5.15"),  # 32837d8a8f63
    AcsRow(0x10E8, 0xE004, "xgene"),
    AcsRow(0x1DEF, 0xE005, "xgene"),
    AcsRow(0x1DEF, 0xE006, "xgene"),
    AcsRow(0x1DEF, 0xE007, "xgene"),
    AcsRow(0x1DEF, 0xE008, "xgene"),
    AcsRow(0x1DEF, 0xE009, "xgene"),
    AcsRow(0x1DEF, 0xE00A, "xgene"),
    AcsRow(0x1DEF, 0xE00B, "xgene"),
    AcsRow(0x1DEF, 0xE00C, "xgene"),
    AcsRow(0x14E4, 0x16D7, "mf_endpoint", "5.13"),  # db2f77e2bd99
    AcsRow(0x14E4, 0x1750, "mf_endpoint", "6.0"),  # afd306a65ced
    AcsRow(0x14E4, 0x1751, "mf_endpoint", "6.0"),  # afd306a65ced
    AcsRow(0x14E4, 0x1752, "mf_endpoint", "6.0"),  # afd306a65ced
    AcsRow(0x14E4, 0x1760, "mf_endpoint", "6.11"),  # 524e057b2d66
    AcsRow(0x14E4, 0x1761, "mf_endpoint", "6.11"),  # 524e057b2d66
    AcsRow(0x14E4, 0x1762, "mf_endpoint", "6.11"),  # 524e057b2d66
    AcsRow(0x14E4, 0x1763, "mf_endpoint", "6.11"),  # 524e057b2d66
    AcsRow(0x14E4, 0xD714, "brcm", "5.4"),  # 46b2c32df7a4
    AcsRow(0x0014, 0x3C09, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x3C19, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x3C29, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A09, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A19, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A29, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A39, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A49, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A59, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x0014, 0x7A69, "loongson", "6.16"),  # 1f3303aa92e1
    AcsRow(0x1C36, 0x0031, "al", "5.4"),  # 76e67e9e0f0f
    AcsRow(0x1D17, 0x3038, "mf_endpoint", "5.7"),  # 0325837c51cb
    AcsRow(0x1D17, 0x3104, "mf_endpoint", "5.7"),  # 0325837c51cb
    AcsRow(0x1D17, 0x9083, "mf_endpoint", "5.7"),  # 0325837c51cb
    AcsRow(0x1957, 0x8D81, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DA1, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D83, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D80, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DA0, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D82, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D90, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DB0, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D92, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D91, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DB1, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D93, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D89, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DA9, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D8B, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D88, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DA8, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D8A, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D98, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DB8, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D9A, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D99, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8DB9, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1957, 0x8D9B, "nxp_rp", "5.15"),  # d08c8b855140
    AcsRow(0x1D17, ANY, "zhaoxin_pcie_ports", "5.7"),  # 299bd044a6f3
    AcsRow(0x8088, ANY, "wangxun_nic", "6.3"),  # a2b9b123ccac
)


def acs_quirk(fn: Function, wanted: AcsFlag, facts: Facts) -> tuple[AcsRow, Answer] | None:
    """pci_dev_specific_acs_enabled: the first row that answers, or None (-ENOTTY)."""
    if fn.vendor is None:
        return None
    for row in _ACS_BY_VENDOR.get(fn.vendor, ()):  # table order within a vendor
        if row.device not in (ANY, fn.device):
            continue
        if row.since is not None and facts.kernel < _version(row.since):
            continue
        answer = FUNCTIONS[row.function](fn, wanted, facts)
        if answer.value is not None:
            return row, answer
    return None


_ACS_BY_VENDOR: dict[int, list[AcsRow]] = {}
for _acs in ACS_TABLE:
    _ACS_BY_VENDOR.setdefault(_acs.vendor, []).append(_acs)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


# ---------------------------------------------------------------- DMA aliases
@dataclass(frozen=True)
class AliasRow:
    vendor: int
    device: int
    function: str  # quirk_<function>: func0, func1, fixed, pcie_bridge, mic_x200, ...
    since: str | None = None


ALIAS_TABLE: tuple[AliasRow, ...] = (
    AliasRow(0x1180, 0xE832, "func0"),
    AliasRow(0x1180, 0xE476, "func0"),
    AliasRow(0x6766, 0x3D40, "func0", "6.12"),  # 9246b487ab3c
    AliasRow(0x6766, 0x3D41, "func0", "6.12"),  # 9246b487ab3c
    AliasRow(0x1B4B, 0x9120, "func1"),  # cc346a4714a5
    AliasRow(0x1B4B, 0x9123, "func1"),  # cc346a4714a5
    AliasRow(0x1B4B, 0x9125, "func1", "5.17"),  # e44537588288
    AliasRow(0x1B4B, 0x9128, "func1"),  # aa0082066343
    AliasRow(0x1B4B, 0x9130, "func1"),
    AliasRow(0x1B4B, 0x9170, "func1"),  # 9cde402a5977
    AliasRow(0x1B4B, 0x9172, "func1"),
    AliasRow(0x1B4B, 0x917A, "func1"),
    AliasRow(0x1B4B, 0x9182, "func1"),  # 00456b35a527
    AliasRow(0x1B4B, 0x9183, "func1"),  # 7695e73f3db4
    AliasRow(0x1B4B, 0x91A0, "func1"),
    AliasRow(0x1B4B, 0x9215, "func1", "5.11"),  # 059983790a4c
    AliasRow(0x1B4B, 0x9220, "func1"),  # 832e4e1f76b8
    AliasRow(0x1B4B, 0x9230, "func1"),
    AliasRow(0x1B4B, 0x9235, "func1", "6.5"),  # 88d341716b83
    AliasRow(0x1103, 0x0642, "func1"),
    AliasRow(0x1103, 0x0645, "func1"),  # 1903be8222b7
    AliasRow(0x197B, 0x2392, "func1"),
    AliasRow(0x1C28, 0x0122, "func1"),
    AliasRow(0x9005, 0x0285, "fixed"),
    AliasRow(0x1B21, 0x1080, "pcie_bridge"),
    AliasRow(0x10E3, 0x8113, "pcie_bridge"),
    AliasRow(0x1283, 0x8892, "pcie_bridge"),
    AliasRow(0x1283, 0x8893, "pcie_bridge"),
    AliasRow(0x8086, 0x244E, "pcie_bridge"),
    AliasRow(0x8086, 0x2260, "mic_x200", "4.7"),  # b1a928cdb477
    AliasRow(0x8086, 0x2264, "mic_x200"),
    AliasRow(0x8086, 0x2954, "pex_vca", "5.5"),  # 56b4cd4b7da9
    AliasRow(0x8086, 0x2955, "pex_vca", "5.5"),  # 56b4cd4b7da9
    AliasRow(0x8086, 0x2956, "pex_vca", "5.5"),  # 56b4cd4b7da9
    AliasRow(0x8086, 0x2958, "pex_vca", "5.5"),  # 56b4cd4b7da9
    AliasRow(0x8086, 0x2959, "pex_vca", "5.5"),  # 56b4cd4b7da9
    AliasRow(0x8086, 0x295A, "pex_vca", "5.5"),  # 56b4cd4b7da9
    AliasRow(0x14E4, 0x9000, "xlate_root"),
    AliasRow(0x14E4, 0x9084, "xlate_root"),
    AliasRow(0x10B5, 0x87B0, "plx_ntb", "5.6"),  # 7b90dfc4873b
    AliasRow(0x10B5, 0x87B1, "plx_ntb", "5.6"),  # 7b90dfc4873b
)
# quirk_switchtec_ntb_dma_alias: aliases read from the NTB's MMIO partition tables
SWITCHTEC_NTB = frozenset(
    [
        (0x11F8, 0x8531),
        (0x11F8, 0x8532),
        (0x11F8, 0x8533),
        (0x11F8, 0x8534),
        (0x11F8, 0x8535),
        (0x11F8, 0x8536),
        (0x11F8, 0x8541),
        (0x11F8, 0x8542),
        (0x11F8, 0x8543),
        (0x11F8, 0x8544),
        (0x11F8, 0x8545),
        (0x11F8, 0x8546),
        (0x11F8, 0x8551),
        (0x11F8, 0x8552),
        (0x11F8, 0x8553),
        (0x11F8, 0x8554),
        (0x11F8, 0x8555),
        (0x11F8, 0x8556),
        (0x11F8, 0x8561),
        (0x11F8, 0x8562),
        (0x11F8, 0x8563),
        (0x11F8, 0x8564),
        (0x11F8, 0x8565),
        (0x11F8, 0x8566),
        (0x11F8, 0x8571),
        (0x11F8, 0x8572),
        (0x11F8, 0x8573),
        (0x11F8, 0x8574),
        (0x11F8, 0x8575),
        (0x11F8, 0x8576),
        (0x11F8, 0x4000),
        (0x11F8, 0x4084),
        (0x11F8, 0x4068),
        (0x11F8, 0x4052),
        (0x11F8, 0x4036),
        (0x11F8, 0x4028),
        (0x11F8, 0x4100),
        (0x11F8, 0x4184),
        (0x11F8, 0x4168),
        (0x11F8, 0x4152),
        (0x11F8, 0x4136),
        (0x11F8, 0x4128),
        (0x11F8, 0x4200),
        (0x11F8, 0x4284),
        (0x11F8, 0x4268),
        (0x11F8, 0x4252),
        (0x11F8, 0x4236),
        (0x11F8, 0x4228),
        (0x11F8, 0x4352),
        (0x11F8, 0x4336),
        (0x11F8, 0x4328),
        (0x11F8, 0x4452),
        (0x11F8, 0x4436),
        (0x11F8, 0x4428),
        (0x11F8, 0x4552),
        (0x11F8, 0x4536),
        (0x11F8, 0x4528),
        (0x11F8, 0x5000),
        (0x11F8, 0x5084),
        (0x11F8, 0x5068),
        (0x11F8, 0x5052),
        (0x11F8, 0x5036),
        (0x11F8, 0x5028),
        (0x11F8, 0x5100),
        (0x11F8, 0x5184),
        (0x11F8, 0x5168),
        (0x11F8, 0x5152),
        (0x11F8, 0x5136),
        (0x11F8, 0x5128),
        (0x11F8, 0x5200),
        (0x11F8, 0x5284),
        (0x11F8, 0x5268),
        (0x11F8, 0x5252),
        (0x11F8, 0x5236),
        (0x11F8, 0x5228),
        (0x11F8, 0x5300),
        (0x11F8, 0x5384),
        (0x11F8, 0x5368),
        (0x11F8, 0x5352),
        (0x11F8, 0x5336),
        (0x11F8, 0x5328),
        (0x11F8, 0x5400),
        (0x11F8, 0x5484),
        (0x11F8, 0x5468),
        (0x11F8, 0x5452),
        (0x11F8, 0x5436),
        (0x11F8, 0x5428),
        (0x11F8, 0x5500),
        (0x11F8, 0x5584),
        (0x11F8, 0x5568),
        (0x11F8, 0x5552),
        (0x11F8, 0x5536),
        (0x11F8, 0x5528),
        (0x1055, 0x1001),
        (0x1055, 0x1002),
        (0x1055, 0x1003),
        (0x1055, 0x1004),
        (0x1055, 0x1005),
        (0x1055, 0x1006),
    ]
)


ALIAS_WHY = {
    "func0": "quirk_dma_func0_alias: it uses function 0 of its slot as requester ID",
    "func1": "quirk_dma_func1_alias: it DMAs with function 1's requester ID (a ghost function)",
    "mic_x200": "quirk_mic_x200_dma_alias: Xeon Phi x200 DMAs as devfns 10.0, 11.0 and 12.3",
    "pex_vca": "quirk_pex_vca_alias: the VCA's functions alias functions 0-4 of every slot",
    "plx_ntb": "quirk_plx_ntb_dma_alias: a PLX NTB aliases every devfn of its bus",
}


_ALIAS_ROWS: dict[tuple[int, int], list[AliasRow]] = {}
for _row in ALIAS_TABLE:
    _ALIAS_ROWS.setdefault((_row.vendor, _row.device), []).append(_row)


def alias_quirk(fn: Function, kernel: tuple[int, ...]) -> tuple[frozenset[int], str] | None:
    """The devfns (on its own bus) a header fixup makes the function DMA-alias (its
    dma_alias_mask), and the fixup."""
    if fn.vendor is None or fn.address is None or fn.device is None:
        return None
    for row in _ALIAS_ROWS.get((fn.vendor, fn.device), ()):
        if row.since is not None and kernel < _version(row.since):
            continue
        slot, func = fn.address.device, fn.address.function
        devfns: set[int] = set()
        if row.function == "func0" and func != 0:
            devfns = {slot << 3}
        elif row.function == "func1" and func != 1:
            devfns = {(slot << 3) | 1}
        elif row.function == "mic_x200":
            devfns = {0x10 << 3, 0x11 << 3, (0x12 << 3) | 3}
        elif row.function == "pex_vca":
            devfns = {(s << 3) | f for s in range(0x20) for f in range(5)}
        elif row.function == "plx_ntb":
            devfns = set(range(256))
        if devfns:
            return frozenset(devfns), f"{QUIRKS_C}: {ALIAS_WHY[row.function]}"
    return None


def xlate_root(fn: Function) -> bool:
    """quirk_bridge_cavm_thrx2_pcie_root: PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT, the alias walk
    stops at this bridge (ThunderX2 root ports)."""
    if fn.vendor is None or fn.device is None:
        return False
    return any(r.function == "xlate_root" for r in _ALIAS_ROWS.get((fn.vendor, fn.device), ()))
