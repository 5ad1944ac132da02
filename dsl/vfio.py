"""VFIO: the driver each PCI function is bound to, and whether VFIO can use its group.

A function is bound to what the board says (`bound DRIVER`), else to vfio-pci where the
command line's ``vfio-pci.ids=`` names its IDs (drivers/vfio/pci/vfio_pci.c:
vfio_pci_fill_ids), else a PCIe port to pcieport (drivers/pci/pcie/portdrv.c); a function
of none of these is taken to have its own driver bound, as the kernel binds one wherever a
driver exists. A group VFIO uses must hold no function bound to a DMA-using kernel driver:
from 5.19 every driver without ``driver_managed_dma`` counts (iommu_device_use_default_domain
makes owner_cnt non-zero, and VFIO_GROUP_GET_STATUS leaves out VFIO_GROUP_FLAGS_VIABLE);
before, vfio_dev_viable allowed no driver, a vfio driver, pci-stub, and any bridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import Label, warning
from .eras import DMA_OWNERSHIP
from .provenance import Reason
from .resolution import NO_FLAGS, Resolution

# drivers that set driver_managed_dma (1ea2a07a532b's series, 5.19): they leave the
# group to its user
MANAGED_DMA = {
    "vfio-pci": "drivers/vfio/pci/vfio_pci.c: vfio_pci_driver (.driver_managed_dma)",
    "pci-stub": "drivers/pci/pci-stub.c: stub_driver (.driver_managed_dma, 18c7a349d072)",
    "pcieport": "drivers/pci/pcie/portdrv.c: pcie_portdriver (.driver_managed_dma, c7d469849747)",
}
VFIO_C = "drivers/vfio/vfio_main.c: vfio_group_ioctl_get_status"
OLD_VFIO_C = "drivers/vfio/vfio.c: vfio_dev_viable"
PORTS = ("root-port", "switch-port", "upstream-port", "downstream-port")
_ID = re.compile(r"^pci([0-9a-fA-F]{4}),([0-9a-fA-F]{4})")


@dataclass(frozen=True)
class Binding:
    driver: str | None  # None: no driver binds it
    known: bool  # stated, or decided by the command line or the port driver
    why: Reason


def bindings(res: Resolution) -> None:
    """Each PCI function's driver; vfio-pci and pci-stub add the `managed-dma` flag."""
    ids = _vfio_ids(res)
    for dev in res.model.devices.values():
        if dev.pci is None:
            continue
        flags = res.driver.get(dev.name, NO_FLAGS)
        if dev.bound is not None:
            said = Reason(f"'{dev.name}' says 'bound {dev.bound}'", dev.span)
            b = Binding(None if dev.bound == "none" else dev.bound, True, said)
        elif "none" in flags:
            b = Binding(None, True, flags["none"])
        elif ids and (vd := _ids(dev.compatibles)) is not None and vd in ids:
            b = Binding("vfio-pci", True, ids[vd])
        elif dev.bridge in PORTS:
            b = Binding(
                "pcieport",
                True,
                Reason(
                    f"pcieport binds the port '{dev.name}'",
                    dev.span,
                    "drivers/pci/pcie/portdrv.c: pcie_portdrv_probe",
                ),
            )
        elif dev.bridge is not None:
            b = Binding(None, True, Reason(f"no driver binds bridge '{dev.name}'", dev.span))
        elif "managed-dma" in flags:
            b = Binding("vfio-pci", True, flags["managed-dma"])
        else:
            b = Binding(
                None, False, Reason(f"no driver is stated for '{dev.name}' (no 'bound')", dev.span)
            )
        res.bound[dev.name] = b
        if b.driver in ("vfio-pci", "pci-stub") and "managed-dma" not in flags:
            res.driver.setdefault(dev.name, {})["managed-dma"] = Reason(
                f"'{dev.name}' is bound to {b.driver}, which sets driver_managed_dma",
                b.why.span,
                MANAGED_DMA[b.driver],
                (b.why,),
            )


def _ids(compatibles: tuple[str, ...]) -> tuple[int, int] | None:
    for c in compatibles:
        m = _ID.match(c)
        if m:
            return int(m.group(1), 16), int(m.group(2), 16)
    return None


def _vfio_ids(res: Resolution) -> dict[tuple[int, int], Reason]:
    """vfio-pci.ids=VVVV:DDDD[:...],...: the IDs vfio-pci takes at load."""
    out: dict[tuple[int, int], Reason] = {}
    for tok in res.platform.tokens:
        if tok.param != "vfio-pci.ids" or not tok.value:
            continue
        for item in tok.value.split(","):
            parts = item.split(":")
            try:
                vd = (int(parts[0], 16), int(parts[1], 16))
            except (ValueError, IndexError):
                continue
            out[vd] = Reason(
                f"vfio-pci.ids= names {item}: vfio-pci takes it",
                tok.span,
                "drivers/vfio/pci/vfio_pci.c: vfio_pci_fill_ids",
            )
    return out


def viability(res: Resolution) -> None:
    """Each device's `vfio`: whether VFIO can use its group (where something in it is
    bound to vfio-pci), with a warning naming what spoils it."""
    modern = res.platform.since(DMA_OWNERSHIP)
    bound_to_vfio = {name for name, b in res.bound.items() if b.driver == "vfio-pci"}
    devices = res.devices
    for group in res.groups:
        users = [m for m in group.members if m in bound_to_vfio] if bound_to_vfio else []
        # what spoils a group matters only to a group VFIO would use
        spoilers = (
            [(m, why) for m in group.members if (why := _spoils(res, m, modern))] if users else []
        )
        if not users:
            value, reason = "none", Reason(f"nothing in group {group.id} is bound to vfio-pci")
        elif not spoilers:
            value = "viable"
            reason = Reason(
                f"VFIO can use group {group.id}: every function is unbound, or bound to "
                "vfio-pci, pci-stub or pcieport",
                None,
                VFIO_C if modern else OLD_VFIO_C,
            )
        else:
            value = "not-viable"
            reason = Reason(
                f"group {group.id} is not viable for VFIO",
                None,
                VFIO_C if modern else OLD_VFIO_C,
                tuple(why for _, why in spoilers),
            )
            first, why = spoilers[0]
            dev = res.model.devices[first]
            user = res.model.devices[users[0]]
            where = f" ({dev.pci})" if dev.pci else ""
            res.diagnostics.append(
                warning(
                    "W220",
                    f"group {group.id} is not viable for VFIO: '{first}'{where} "
                    + (
                        f"is bound to {_driver(res, first)}"
                        if res.bound[first].known
                        else "has no stated driver, so its own binds"
                    ),
                    dev.span,
                    label="keeps the group from its VFIO user",
                    secondary=(Label(user.span, f"'{user.name}' is bound to vfio-pci"),),
                    help=f"bind '{first}' to vfio-pci as well (vfio-pci.ids="
                    f"{_id_text(dev.compatibles)}) or leave it unbound ('bound none'); every "
                    "function of an IOMMU group goes to the VM together",
                )
            )
        for m in group.members:  # DeviceResult.set, inline: 10,000 devices at 10k
            dres = devices[m]
            dres.values["vfio"], dres.reasons["vfio"] = value, reason
    for dres in res.devices.values():
        if "vfio" not in dres.values:
            dres.set("vfio", "none", Reason(f"'{dres.name}' has no IOMMU group"))


def _driver(res: Resolution, name: str) -> str | None:
    b = res.bound.get(name)
    return b.driver if b is not None else None


def _spoils(res: Resolution, name: str, modern: bool) -> Reason | None:
    """Why this member keeps VFIO from the group, or None."""
    b = res.bound.get(name)
    if b is None or (b.driver is None and b.known):
        return None
    dev = res.model.devices[name]
    if b.driver in ("vfio-pci", "pci-stub"):
        return None
    if modern and b.driver in MANAGED_DMA:
        return None
    if not modern and dev.bridge is not None:
        return None  # vfio_dev_driver_allowed: hdr_type != PCI_HEADER_TYPE_NORMAL
    if not b.known:
        return Reason(
            f"'{name}' is not bound to vfio-pci: with its own driver bound "
            + (
                "(no driver_managed_dma) the group has a kernel DMA owner"
                if modern
                else "vfio_dev_viable refuses it"
            ),
            dev.span,
            None,
            (b.why,),
        )
    return Reason(
        f"'{name}' is bound to {b.driver}, "
        + (
            "which uses the kernel's DMA API (no driver_managed_dma)"
            if modern
            else "which is not a vfio driver or pci-stub"
        ),
        dev.span,
        None,
        (b.why,),
    )


def _id_text(compatibles: tuple[str, ...]) -> str:
    vd = _ids(compatibles)
    return f"{vd[0]:04x}:{vd[1]:04x}" if vd else "VVVV:DDDD"
