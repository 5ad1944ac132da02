"""What the PCI layer takes from the platform: whether an IOMMU asked for ACS, the ACS
options of the command line, and the out-of-tree ACS override where the kernel has it."""

from __future__ import annotations

from ..conditions import Platform
from ..diagnostics import Diagnostic, warning
from ..provenance import Reason
from .isolation import DeviceSpec, Isolation, Override, Params, config_flags, device_spec
from .quirks import Facts
from .topology import Topology

# The out-of-tree patch has no Kconfig symbol of its own: `std/pci/acs-override` states
# this one for the kernels that carry it, so the patch's option does something there only.
OVERRIDE_SYMBOL = "PCIE_ACS_OVERRIDE"


def isolation(platform: Platform, topo: Topology) -> tuple[Isolation, list[Diagnostic]]:
    model = platform.model
    pci_iommus = [
        i
        for i in model.iommus.values()
        if not i.disabled and (i.driver.pci_claim is not None or i.maps)
    ]
    requested = bool(pci_iommus)
    if requested:
        names = ", ".join(f"{i.kind} '{i.name}'" for i in pci_iommus)
        why = Reason(
            f"{names} translates PCI functions, and its driver asks for ACS "
            "(pci_request_acs: intel-iommu detect_intel_iommu, amd-iommu detect_ivrs, "
            "of_iommu_configure / IORT on Arm)",
            pci_iommus[0].span,
            "drivers/pci/pci.c: pci_request_acs",
        )
    else:
        why = Reason("no IOMMU translates PCI functions: nobody asks for ACS")
    facts = Facts(
        acs_requested=requested,
        ivrs=any(i.kind == "amd-vi" for i in model.iommus.values()),
        kernel=platform.kernel,
    )
    params, diags = _params(platform)
    return Isolation(topo, facts, params, why), diags


def _params(platform: Platform) -> tuple[Params, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    disable: list[DeviceSpec] = []
    config: list[tuple[object, object, DeviceSpec]] = []
    override = None
    for tok in platform.tokens:
        if tok.param == "pci" and tok.value:
            for opt in tok.value.split(","):
                name, _, arg = opt.partition("=")
                if name == "disable_acs_redir":
                    for item in arg.split(";"):
                        spec = device_spec(item)
                        if spec is None:
                            diags.append(_bad(tok.span, f"disable_acs_redir device '{item}'"))
                        else:
                            disable.append(spec)
                elif name == "noacs":
                    diags.append(
                        warning(
                            "W219",
                            'the kernel has no pci=noacs: pci_setup prints "PCI: Unknown '
                            "option `noacs'\" and ACS stays as it was",
                            tok.span,
                            help="to turn ACS redirection off for devices, use "
                            "pci=disable_acs_redir=DEVICE;... (4.19+) or pci=config_acs= (6.11+)",
                        )
                    )
                elif name == "config_acs":
                    for item in arg.split(";"):
                        flags_text, at, dev = item.partition("@")
                        flags = config_flags(flags_text)
                        spec = device_spec(dev) if at else None
                        if flags is None or spec is None:
                            diags.append(_bad(tok.span, f"config_acs entry '{item}'"))
                        else:
                            config.append((flags[0], flags[1], spec))
        elif tok.param == "pcie_acs_override" and not platform.enabled(OVERRIDE_SYMBOL):
            diags.append(
                warning(
                    "W221",
                    "pcie_acs_override= does nothing on a mainline kernel: the ACS override "
                    "is an out-of-tree patch",
                    tok.span,
                    help="if your kernel carries it (Proxmox VE, Zen, XanMod, CachyOS), "
                    'include "std/pci/acs-override"',
                )
            )
        elif tok.param == "pcie_acs_override":
            ids: set[tuple[int, int]] = set()
            opts = (tok.value or "").split(",")
            for opt in opts:
                if opt.startswith("id:"):
                    v, _, d = opt[3:].partition(":")
                    if len(v) == 4 and len(d) == 4 and _hex(v) and _hex(d) and len(ids) < 15:
                        ids.add((int(v, 16), int(d, 16)))
            override = Override(
                downstream="downstream" in opts,
                multifunction="multifunction" in opts,
                ids=frozenset(ids),
                span=tok.span,
            )
    return (
        Params(tuple(disable), tuple(config), override),  # type: ignore[arg-type]
        diags,
    )


def _hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def _bad(span, what: str) -> Diagnostic:  # type: ignore[no-untyped-def]
    return warning(
        "W219",
        f"the kernel cannot read pci= {what}",
        span,
        help="a device is [DDDD:]BB:DD.F or pci:VVVV:DDDD; config_acs flags are up to 7 of "
        "0, 1 and x, rightmost SV (Documentation/admin-guide/kernel-parameters.txt)",
    )
