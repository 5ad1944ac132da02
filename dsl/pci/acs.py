"""ACS flags and registers (include/uapi/linux/pci_regs.h, drivers/pci/pci.c).

A function states its ACS capability and control registers (``acs cap ... ctl ...``, or
``acs yes``/``acs no``); the kernel then enables what it wants when an IOMMU asked for ACS
(pci_enable_acs), and the command line may turn bits off or on (``pci=disable_acs_redir=``,
``pci=config_acs=``). pci_acs_flags_enabled reads the result.
"""

from __future__ import annotations

from enum import IntFlag


class AcsFlag(IntFlag):
    """PCI_ACS_* bits of the ACS capability and control registers."""

    SV = 0x01  # source validation
    TB = 0x02  # translation blocking
    RR = 0x04  # P2P request redirect
    CR = 0x08  # P2P completion redirect
    UF = 0x10  # upstream forwarding
    EC = 0x20  # P2P egress control
    DT = 0x40  # direct translated P2P


NONE = AcsFlag(0)
# drivers/iommu/iommu.c: "To consider a PCI device isolated, we require ACS to support Source
# Validation, Request Redirection, Completer Redirection, and Upstream Forwarding."
REQ_ACS_FLAGS = AcsFlag.SV | AcsFlag.RR | AcsFlag.CR | AcsFlag.UF
# pci.c: pci_std_enable_acs sets these where the capability has them
STD_ENABLE = AcsFlag.SV | AcsFlag.RR | AcsFlag.CR | AcsFlag.UF
# pci.c: pci=disable_acs_redir= clears these
REDIRECT = AcsFlag.RR | AcsFlag.CR | AcsFlag.EC
WORDS = {f.name.lower(): f for f in AcsFlag if f.name}  # "sv" -> SV, as lspci's columns


def words(flags: AcsFlag) -> str:
    """'sv rr cr uf', or 'none'."""
    said = _SAID.get(flags)
    if said is None:
        # an IntFlag's & runs in Python: each of the 128 values is spelled once (a board's
        # every root port is)
        out = [name for name, f in WORDS.items() if flags & f]
        said = _SAID[int(flags)] = " ".join(out) if out else "none"
    return said


_SAID: dict[int, str] = {}


def flags_enabled(cap: AcsFlag | None, ctl: AcsFlag, wanted: AcsFlag) -> bool:
    """pci.c: pci_acs_flags_enabled. No capability: false. A feature the capability lacks
    counts as hard-wired enabled (except egress control); the rest must be set in control."""
    if cap is None:
        return False
    wanted &= cap | AcsFlag.EC
    return (ctl & wanted) == wanted
