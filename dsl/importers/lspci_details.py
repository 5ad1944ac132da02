"""The indented lines `lspci -vvv` and `lspci -k` print below a function, and the group
listings `ls` and `find` make of /sys/kernel/iommu_groups.

From -vvv the PCI layer wants what the kernel reads from config space: the Express
capability's port type (pci_pcie_type), the bridge's bus numbers (the topology), and the ACS
capability and control registers (`ACSCap:`/`ACSCtl:`, pci_acs_flags_enabled); from -k the
driver bound (VFIO viability). Every other detail line is known lspci output, read and
dropped. lspci run without root prints "Capabilities: <access denied>": then the type and
ACS stay unknown rather than taken as absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX2 = "[0-9a-fA-F]{2}"
ADDRESS = r"(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]"

# "Capabilities: [58] Express (v2) Root Port (Slot+), MSI 00" (setpci's names, lspci's ls-caps.c)
EXPRESS_TYPES = {
    "endpoint": "endpoint",
    "legacy endpoint": "legacy-endpoint",
    "root port": "root-port",
    "upstream port": "upstream-port",
    "downstream port": "downstream-port",
    "pci-express to pci/pci-x bridge": "pci-bridge",
    "pci/pci-x to pci-express bridge": "pcie-bridge",
    "root complex integrated endpoint": "rc-endpoint",
    "root complex event collector": "rc-event-collector",
}
# lspci's ACS column names, in the language's words
ACS_WORDS = {
    "SrcValid": "sv",
    "TransBlk": "tb",
    "ReqRedir": "rr",
    "CmpltRedir": "cr",
    "UpstreamFwd": "uf",
    "EgressCtrl": "ec",
    "DirectTrans": "dt",
}

_EXPRESS = re.compile(r"^Capabilities:\s*\[[0-9a-fA-F]+\]\s*Express\s*\(v\d\)\s*(.+?)(?:\s*\(|,|$)")
_CAP = re.compile(r"^Capabilities:\s*\[([0-9a-fA-F]+)(?:\s+v\d+)?\]")
_ACS = re.compile(r"^(ACSCap|ACSCtl):\s*(.*)$")
_BUS = re.compile(rf"^Bus:\s*primary=({_HEX2}),\s*secondary=({_HEX2}),\s*subordinate=({_HEX2})")
_DRIVER = re.compile(r"^Kernel driver in use:\s*(\S+)\s*$")
_GROUP = re.compile(r"^IOMMU group:\s*(\d{1,9})\s*$")

# find /sys/kernel/iommu_groups/ -type l: ".../iommu_groups/7/devices/0000:00:1c.0"
SYSFS_LINK = re.compile(rf"^\S*/iommu_groups/(\d{{1,9}})/devices/({ADDRESS})\s*$")
# ls /sys/kernel/iommu_groups/*/devices: a header, then the group's addresses
SYSFS_HEADER = re.compile(r"^\S*/iommu_groups/(\d{1,9})/devices:\s*$")
ADDRESSES = re.compile(rf"^(?:{ADDRESS})(?:\s+{ADDRESS})*\s*$")


@dataclass(frozen=True)
class Detail:
    """One fact from a detail line: what it is and its value."""

    kind: str  # express, acs_cap, acs_ctl, bus, driver, group, capability, denied, other
    value: object = None


def detail(text: str) -> Detail:
    """What one (stripped) indented line below a function says."""
    m = _EXPRESS.match(text)
    if m:
        name = m.group(1).strip().lower()
        return Detail("express", EXPRESS_TYPES.get(name, ""))
    if text.startswith("Capabilities:") and "access denied" in text:
        return Detail("denied")
    m = _CAP.match(text)
    if m:
        return Detail("capability", int(m.group(1), 16))
    m = _ACS.match(text)
    if m:
        flags = tuple(
            word for name, word in ACS_WORDS.items() if re.search(rf"\b{name}\+", m.group(2))
        )
        return Detail("acs_cap" if m.group(1) == "ACSCap" else "acs_ctl", flags)
    m = _BUS.match(text)
    if m:
        return Detail("bus", tuple(int(g, 16) for g in m.groups()))
    m = _DRIVER.match(text)
    if m:
        return Detail("driver", m.group(1))
    m = _GROUP.match(text)
    if m:
        return Detail("group", int(m.group(1)))
    return Detail("other")
