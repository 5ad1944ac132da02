"""Device tree (.dts / .dtb) → rule file.

Kernel device trees use C preprocessor includes and dt-bindings macros, so a
.dts goes through ``cpp`` first (as the kernel's build does: -nostdinc -undef
-x assembler-with-cpp), then the devicetree package's dtlib parses it; a .dtb
is decoded with the fdt package.  What is imported: IOMMU nodes (those with
``#iommu-cells``; the kind from their compatible), every node with ``iommus``
(phandle + cells, read as the driver's of_xlate reads them), ``dma-coherent``,
``status = "disabled"`` (skipped), memory nodes, PCI hosts' ``iommu-map``, and
the root compatible, which picks the SoC policy pack.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, Span, error, plural, warning
from ..fmt import format_text
from ..grammar import keywords
from ..kinds import KINDS
from . import driver_packs, unchecked, unique_name


def _matches() -> list[tuple[str, str]]:
    """(compatible prefix, kind), in the order they are tried: the kinds' own compatibles,
    the longest (most specific) first, and the generic Arm IP's ("arm,mmu-500") last, as
    a vendor's implementation of it names the driver's impl (qcom,sdm845-smmu-500 before
    arm,mmu-500: qcom_smmu_impl_init)."""
    pairs = [(c, k.name) for k in KINDS.values() for c in k.compatibles]
    return sorted(pairs, key=lambda p: (p[0].startswith("arm,"), -len(p[0])))


MATCHES = _matches()
# drivers/memory/tegra/tegra*.c: .num_asids
TEGRA_ASIDS = {"tegra30": 4, "tegra114": 4, "tegra124": 128, "tegra132": 128, "tegra210": 128}


def _words(text: str) -> list[str]:
    return text.split()


# include/dt-bindings/memory/tegra{30,114,124,210}-mc.h: TEGRA_SWGROUP_* by value, so that an
# `iommus = <&mc TEGRA_SWGROUP_DC>` that cpp turned into 1 comes back as `swgroup dc`, the
# name the SoC packs' groups list.
_T124 = _words(
    "ptc dc dcb afi avpc hda hc msenc ppcs sata vde mpcorelp mpcore isp2 xusb_host xusb_dev "
    "isp2b tsec a9avp gpu sdmmc1a sdmmc2a sdmmc3a sdmmc4a vic vi"
)
SWGROUPS = {
    "tegra30": _words(
        "ptc dc dcb epp g2 mpe vi afi avpc nv nv2 hda hc ppcs sata vde mpcorelp mpcore isp"
    ),
    "tegra114": _words(
        "ptc dc dcb epp g2 avpc nv hda hc msenc ppcs vde mpcorelp mpcore vi isp xusb_host "
        "xusb_dev emucif tsec"
    ),
    "tegra124": _T124,
    "tegra132": _T124,  # Tegra132 uses tegra124-mc.h
    "tegra210": _words(
        "ptc dc dcb afi avpc hda hc nvenc ppcs sata mpcore isp2 xusb_host xusb_dev isp2b tsec "
        "a9avp gpu sdmmc1a sdmmc2a sdmmc3a sdmmc4a vic vi nvdec ape nvjpg se axiap etr tsecb"
    ),
}
# Root compatible -> the SoC's fact pack: its IOMMUs (ASIDs, SoC groups by era, PCIe maps,
# MSM8916's context banks) and, through std/soc/tegra, the drivers' policy. The pack's
# IOMMUs replace the nodes'.
FACT_PACKS = {
    "nvidia,tegra30": "std/soc/tegra30",
    "nvidia,tegra114": "std/soc/tegra114",
    "nvidia,tegra124": "std/soc/tegra124",
    "nvidia,tegra132": "std/soc/tegra124",
    "nvidia,tegra210": "std/soc/tegra210",
    "nvidia,tegra186": "std/soc/tegra186",
    "nvidia,tegra194": "std/soc/tegra194",
    "nvidia,tegra234": "std/soc/tegra234",
    "qcom,sdm845": "std/soc/sdm845",
    "qcom,sc7180": "std/soc/sc7180",
    "qcom,sc7280": "std/soc/sc7280",
    "qcom,sm8150": "std/soc/sm8150",
    "qcom,sm8250": "std/soc/sm8250",
    "mediatek,mt8192": "std/soc/mt8192",
    "mediatek,mt8195": "std/soc/mt8195",
    "qcom,msm8916": "std/soc/msm8916",
    "qcom,apq8016": "std/soc/msm8916",
}
# Root compatible -> policy pack: what the IOMMU drivers and the client drivers (DRM, GPU,
# remote processors) do. std/soc/tegra is the tegra-smmu and GART drivers' and the Tegra
# client drivers' (Tegra186 and later reach it through their fact packs); std/soc/rockchip
# and std/soc/exynos say which domains Rockchip DRM and Exynos DRM build.
PACKS = [
    *((f"nvidia,tegra{soc}", "std/soc/tegra") for soc in ("20", "30", "114", "124", "132", "210")),
    ("qcom,", "std/soc/qcom"),
    ("rockchip,", "std/soc/rockchip"),
    ("samsung,exynos", "std/soc/exynos"),
]
ARCH = [
    ("samsung,exynos5433", "arm64"),  # before "samsung,exynos5": Cortex-A57/A53, arm64 only
    ("samsung,exynos7", "arm64"),
    ("nvidia,tegra132", "arm64"),  # Denver: arm64 (its DTs also say "nvidia,tegra124")
    ("nvidia,tegra20", "arm"),
    ("nvidia,tegra30", "arm"),
    ("nvidia,tegra114", "arm"),
    ("nvidia,tegra124", "arm"),
    ("samsung,exynos5", "arm"),
    ("rockchip,rk32", "arm"),
    ("qcom,msm8960", "arm"),
    ("qcom,apq8064", "arm"),
    ("mediatek,mt2701", "arm"),
    ("mediatek,mt7623", "arm"),
    ("ti,omap", "arm"),
    ("ti,am33", "arm"),
    ("ti,am43", "arm"),
    ("ti,am57", "arm"),
    ("ti,dra7", "arm"),
]


# CPU cores an arm64 kernel cannot run on (32-bit only), and cores that run AArch32 at EL0
# at most, so only an arm64 kernel (the `compatible` of /cpus/cpu@N, cpus/arm,cpus.yaml).
# Cores that run either (Cortex-A35/A53/A57/A72/A73) decide nothing.
ARM32_CORES = re.compile(
    r"arm,(cortex-a(5|7|8|9|12|15|17|32)|cortex-r[4-8]|cortex-m\d+\w*"
    r"|arm(7|9|10|11)[\w-]*|arm1136[\w-]*|arm1176[\w-]*|sa1100)"
    r"|qcom,(krait|scorpion)|marvell,(pj4[\w-]*|sheeva[\w-]*|feroceon|mohawk)"
    r"|brcm,brahma-b15|faraday,fa526|intel,sa1100"
)
ARM64_CORES = re.compile(
    r"arm,(cortex-a(34|55|65|65ae|75|76|76ae|77|78\w*|320|510|520\w*|710|715|720\w*|725)"
    r"|cortex-x\d+\w*|cortex-r82|neoverse-[\w-]+|c1-[\w-]+)"
    r"|nvidia,tegra\d+-(denver|carmel)|apple,[\w-]+|qcom,(kryo[3-9]\d\d|oryon[\w-]*)"
)
# the source tree's arch directories: arch/<arch>/boot/dts (a kernel), src/<arch>/ (the
# devicetree-rebasing tree U-Boot carries)
TREE_ARCH = {"arm64": "arm64", "arm": "arm", "riscv": "riscv64", "powerpc": "powerpc"}


def _arch_of_tree(path: Path) -> str | None:
    """The arch directory the board comes from, when its path has one."""
    parts = path.resolve().parts
    for i, part in enumerate(parts[:-1]):
        if part in TREE_ARCH and (
            parts[i + 1 : i + 3] == ("boot", "dts") or (i > 0 and parts[i - 1] == "src")
        ):
            return TREE_ARCH[part]
    return None


def _arch_of_cpus(dt: Any) -> str | None:
    """What the CPU cores allow: a RISC-V hart ("riscv", cpus/riscv,cpus.yaml), a core
    only arm32 runs on, or one only arm64 runs on."""
    cpus = dt.get_node("/cpus").nodes.values() if dt.has_node("/cpus") else []
    compat = {c for cpu in cpus for c in _strings(cpu, "compatible")}
    if "riscv" in compat:
        return "riscv64"
    if any(ARM64_CORES.fullmatch(c) for c in compat):
        return "arm64"
    if any(ARM32_CORES.fullmatch(c) for c in compat):
        return "arm"
    return None


@dataclass
class DtsImport:
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


# IOMMU drivers the language has no kind for, matched before KINDS so that a generic
# prefix there ("qcom,") does not claim them: compatible -> the driver.
UNMODELLED = {
    "xen,grant-dma": "drivers/xen/grant-dma-ops.c (Xen grant DMA ops, not an IOMMU driver)",
}


def _kind(compatibles: list[str]) -> str | None:
    """The first KINDS entry any of the compatibles matches: the table runs from specific
    to generic, as the drivers test of_device_is_compatible on the whole list
    ("qcom,sdm845-smmu-v2", "qcom,adreno-smmu" is the Adreno SMMU: qcom_smmu_impl_init)."""
    if any(c in UNMODELLED for c in compatibles):
        return None
    for prefix, kind in MATCHES:
        if any(compat.startswith(prefix) for compat in compatibles):
            return kind
    return None


def preprocess(path: Path, includes: list[str]) -> tuple[str | None, Diagnostic | None]:
    """Run cpp over a .dts the way the kernel's build does; decode a .dtb."""
    where = Span(str(path), 0, 0, 0, 0)
    from ..loader import MAX_FILE_BYTES

    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, error("E811", f"cannot read '{path}': {exc.strerror}", where)
    if size > MAX_FILE_BYTES:
        return None, error(
            "E811",
            f"cannot read '{path}': it is too large ({size / 1e6:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB)",
            where,
        )
    if path.suffix == ".dtb":
        try:
            import fdt

            return fdt.parse_dtb(path.read_bytes()).to_dts(), None
        except Exception as exc:  # fdt raises plain Exceptions for bad blobs
            return None, error("E812", f"cannot decode '{path}' as a .dtb: {exc}", where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, error("E811", f"cannot read '{path}': {exc}", where)
    if "#include" not in text:
        return text, None
    cpp = shutil.which("cpp")
    if cpp is None:
        return None, error(
            "E813",
            f"'{path}' uses #include, which needs the C preprocessor 'cpp'",
            where,
            help="install it (Debian: apt-get install cpp), or preprocess the file yourself",
        )
    args = [cpp, "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-E", "-P"]
    for inc in [str(path.parent), *includes]:
        args += ["-I", inc]
    proc = subprocess.run([*args, str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, _cpp_failure(path, proc.stderr, where)
    return proc.stdout, None


# gcc's cpp: "FILE:LINE:COL: fatal error: NAME: No such file or directory"
CPP_MISSING = re.compile(r"^(.+?):(\d+):(\d+): fatal error: (.+?): No such file or directory$")


def _cpp_failure(path: Path, stderr: str, where: Span) -> Diagnostic:
    """E813 naming what cpp could not find and where it was included, with the include
    directories that find it in a kernel tree and in the devicetree-rebasing tree."""
    lines = stderr.strip().splitlines()
    missing = next((m for line in lines if (m := CPP_MISSING.match(line))), None)
    if missing is None:
        error_line = next((line for line in lines if "error" in line), None)
        return error(
            "E813",
            f"cpp failed on '{path}': {error_line or (lines[0] if lines else 'no message')}",
            where,
        )
    name = missing.group(4)
    line, col = int(missing.group(2)), int(missing.group(3))
    at = Span(missing.group(1), line, col, line, col + len(name) + 2)  # <name> or "name"
    arch_dir = name.split("/")[0] in ("arm", "arm64", "riscv", "powerpc", "mips")
    found_in = (
        "another arch's dts directory: a kernel tree has them in scripts/dtc/include-prefixes/ "
        "(-I linux/scripts/dtc/include-prefixes), the devicetree-rebasing tree in src/ "
        "(-I dts/upstream/src)"
        if arch_dir
        else "the include directory (-I linux/include, or -I dts/upstream/include)"
        if name.startswith("dt-bindings/")
        else "the board's own directory or another -I"
    )
    return error(
        "E813",
        f"cpp cannot find '{name}', included from {missing.group(1)}:{line}",
        at,
        label="this #include",
        help=f"'{name}' lives in {found_in}",
    )


def _ident(node: Any, used: set[str]) -> str:
    reserved = keywords()
    raw = node.labels[0] if getattr(node, "labels", None) else node.name
    base = re.sub(r"[^A-Za-z0-9_]", "_", raw.split("@")[0] if not node.labels else raw)
    if not base or not re.match(r"[A-Za-z_]", base):
        base = "n_" + base
    if base in reserved:
        base += "_dev"
    return unique_name(base, used)


def _strings(node: Any, prop: str) -> list[str]:
    p = node.props.get(prop)
    if p is None:
        return []
    try:
        return list(p.to_strings())
    except Exception:
        return []


def _number(cells: list[int]) -> int:
    """A multi-cell number, most significant cell first."""
    out = 0
    for c in cells:
        out = (out << 32) | c
    return out


def _dma_range(node: Any) -> tuple[str, str] | None:
    """The `dma-range` of_dma_get_range finds for the node, and where it came from: up from
    its parent, an empty dma-ranges is 1:1 and the walk goes on, a bus without one ends it
    with no limit, and the first non-empty one gives the window (its first entry,
    <bus-address cpu-address size> in the bus's and its parent's cells; a PCI bus's 3-cell
    address without its phys.hi cell). The parent address is taken as the CPU address (a
    window translated again further up is not followed)."""
    bus = node.parent
    while bus is not None:
        if "dma-ranges" not in bus.props:
            return None  # "we've gone too far": no translation, no limit
        cells = _cells(bus, "dma-ranges")
        if cells:
            child = (_cells(bus, "#address-cells") or [1])[0]
            parent = (_cells(bus.parent, "#address-cells") or [1])[0] if bus.parent else 1
            size = (_cells(bus, "#size-cells") or [1])[0]
            if len(cells) < child + parent + size:
                return None
            pci = _strings(bus, "device_type") == ["pci"]
            at = _number(cells[1 if pci and child == 3 else 0 : child])
            cpu = _number(cells[child : child + parent])
            length = _number(cells[child + parent : child + parent + size])
            if length == 0 or at + length > 1 << 64 or cpu + length > 1 << 64:
                return None
            more = ", the first of its windows" if len(cells) > child + parent + size else ""
            prop = f"dma-range {cpu:#x} size {length:#x}" + (f" bus {at:#x}" if at != cpu else "")
            return prop, f"{bus.path}'s dma-ranges{more}"
        bus = bus.parent
    return None


def _cells(node: Any, prop: str) -> list[int]:
    p = node.props.get(prop)
    if p is None:
        return []
    data = p.value
    return [int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data) - 3, 4)]


def _qcom_iommu_contexts(node: Any) -> list[str]:
    """An MSM IOMMU v1's context banks are its children: bank reg / 0x1000 (get_asid), as
    many as the highest one (qcom_iommu_device_probe), "-sec" ones secure."""
    banks: dict[int, bool] = {}
    for child in node.nodes.values():
        compat = _strings(child, "compatible")
        reg = _cells(child, "reg")
        if reg and any(c in ("qcom,msm-iommu-v1-ns", "qcom,msm-iommu-v1-sec") for c in compat):
            banks[reg[0] // 0x1000] = "qcom,msm-iommu-v1-sec" in compat
    if not banks:
        return []
    out = [f"contexts {max(banks)}  # qcom_iommu_device_probe: the highest iommu-ctx child"]
    missing = [b for b in range(1, max(banks)) if b not in banks]
    if missing:
        out.append(f"reserved {', '.join(map(str, missing))}  # no iommu-ctx child")
    secure = sorted(b for b, sec in banks.items() if sec)
    if secure:
        out.append(f"secure {', '.join(map(str, secure))}  # qcom,msm-iommu-v1-sec children")
    return out


def _liodn_client(node: Any, pamu: str, used: set[str]) -> str:
    """A PAMU client: its `fsl,liodn` list as sids (fsl_pamu_attach_device reads them all).
    A PCI controller's LIODN is its functions', which a device tree does not list."""
    liodns = ", ".join(f"sid {v}" for v in _cells(node, "fsl,liodn"))
    if not liodns:
        return f"# {node.path}: an empty fsl,liodn, no LIODN to program: not imported"
    if _strings(node, "device_type") == ["pci"]:
        return (
            f"# {node.path}: PCI controller, fsl,liodn {liodns.replace('sid ', '')}: the "
            "functions behind it use it\n# (they are not in a device tree; add them with their "
            "'pci' addresses)"
        )
    name = _ident(node, used)
    return (
        f"# {node.path}: fsl,liodn\ndevice {name}: {_compatibles(node)} {{ iommu {pamu} {liodns} }}"
    )


def _compatibles(node: Any) -> str:
    """The node's compatible list as rule-file strings (its name when it has none)."""
    names = _strings(node, "compatible") or [node.name]
    return ", ".join('"' + c.replace('"', "'") + '"' for c in names)


def _enabled(node: Any) -> bool:
    """Available, and so are all its parents: the kernel creates no device below an
    unavailable node (drivers/of/platform.c: of_platform_bus_create checks
    of_device_is_available, and nothing populates the children of a device never made)."""
    while node is not None:
        status = _strings(node, "status")
        if status and status[0] not in ("okay", "ok"):
            return False
        node = node.parent
    return True


def _is_host1x(node: Any) -> bool:
    return any(re.fullmatch(r"nvidia,tegra\d+-host1x", c) for c in _strings(node, "compatible"))


def _host1x_contexts(
    node: Any, dt: Any, iommus: dict[str, tuple[str, int]], names: dict[str, str], used: set[str]
) -> list[str]:
    """host1x's context devices (drivers/gpu/host1x/context.c:
    host1x_memory_context_list_init, from 8aa5bcb61612, 6.0): one per four-cell `iommu-map`
    entry of the host1x node, host1x-ctx.N, with a 38-bit DMA mask, configured by
    of_dma_configure_id with ID N, which the map turns into a stream ID (of_map_id). One
    without an IOMMU ("Context device %d has no IOMMU!") unregisters them all, so then none is
    written. No DT node and no compatible of their own: "host1x-ctx" stands in for one."""
    cells = _cells(node, "iommu-map")
    count = len(cells) // 4
    entries = [cells[i : i + 4] for i in range(0, count * 4, 4)]
    contexts = []
    for i in range(count):
        hit = next((e for e in entries if e[0] <= i < e[0] + e[3]), None)
        target = dt.phandle2node.get(hit[1]) if hit is not None else None
        if hit is None or target is None or target.path not in iommus or not _enabled(target):
            return []
        contexts.append((i, names[target.path], hit[2] + i - hit[0]))
    base = names.get(node.path) or _ident(node, set(used))
    out = []
    for i, iommu, sid in contexts:
        name = unique_name(f"{base}_ctx{i}", used)
        out.append(
            f"# {node.path}: context device host1x-ctx.{i} (iommu-map ID {i}; 6.0+)\n"
            f'device {name}: "host1x-ctx" {{ iommu {iommu} sid {sid:#x}; dma-mask 38 }}'
        )
    return out


def _host_maps(
    path: Path,
    nodes: list[Any],
    dt: Any,
    iommus: dict[str, tuple[str, int]],
    iommu_props: dict[str, list[str]],
    diags: list[Diagnostic],
    notes: list[str],
    mapless: dict[str, str],
    host_maps: list[str],
) -> None:
    """PCI host bridges' iommu-map and iommu-map-mask become `map` entries on their IOMMU.

    Each entry is (rid-base, phandle, sid-base, length), four cells
    (Documentation/devicetree/bindings/pci/pci-iommu.yaml; drivers/of/base.c:
    of_map_id).  A host's PCI domain is its linux,pci-domain; hosts without one
    get the lowest numbers no "pci" node claims (disabled ones included), in
    device-tree order where the kernel uses probe order (drivers/pci/pci.c:
    of_pci_reserve_static_domain_nr, of_pci_bus_find_domain_nr; 6.0+).  With a
    single host the entries serve every domain and say none.  An IOMMU a SoC fact
    pack declares carries the SoC's maps already: those entries become a note; where the
    pack gives it none (MT8195's infra IOMMU: which domain a host gets depends on the hosts
    a board enables), the board says the host's entries with top-level `map NAME ...` lines.
    """
    where = Span(str(path), 0, 0, 0, 0)
    hosts = []
    for n in nodes:
        if "iommu-map" not in n.props or not _enabled(n):
            continue
        if _is_host1x(n):
            continue  # its context devices: _host1x_contexts
        if _strings(n, "device_type") != ["pci"]:
            fsl_mc = "fsl,qoriq-mc" in _strings(n, "compatible")
            diags.append(
                warning(
                    "W814",
                    f"'{n.path}': iommu-map on a node that is not a PCI host "
                    '(device_type "pci"); not imported'
                    + (
                        ": the fsl-mc bus's objects (DPAA2 DPNIs, DPIOs, ...) come from the "
                        "MC firmware at run time, each with the ICID its iommu-map turns into "
                        "a stream ID (fsl_mc_dma_configure)"
                        if fsl_mc
                        else ""
                    ),
                    where,
                    help="declare the devices its IDs belong to with 'iommu NAME sid N'"
                    + (" (the ICIDs: 'ls-listni' or /sys/bus/fsl-mc)" if fsl_mc else ""),
                )
            )
            continue
        hosts.append(n)
    fixed = {
        n.path: _cells(n, "linux,pci-domain")[0]
        for n in nodes
        if _cells(n, "linux,pci-domain") and _strings(n, "device_type") == ["pci"]
    }
    taken = set(fixed.values())
    domains: dict[str, int] = {}
    for host in hosts:
        if host.path in fixed:
            domains[host.path] = fixed[host.path]
            continue
        nr = 0
        while nr in taken:
            nr += 1
        taken.add(nr)
        domains[host.path] = nr
    for host in hosts:
        cells = _cells(host, "iommu-map")
        entries, problem = _map_entries(cells, dt, iommus)
        if problem:
            diags.append(warning("W814", f"'{host.path}': iommu-map {problem}; skipped", where))
            continue
        dom = f"pci-domain {domains[host.path]} " if len(hosts) > 1 or host.path in fixed else ""
        mask = _cells(host, "iommu-map-mask")
        if any(len(e[2]) > 1 for e in entries):
            notes.append(
                f"# {host.path}: iommu-map entries carry the IOMMU's #iommu-cells, as of_map_id "
                "reads them since ccb2fd725d41; older kernels reject the map ('Bad iommu-map "
                "length')"
            )
        for rid, target, spec, length in entries:
            sid = spec[0]
            smr = ""
            if len(spec) > 1 and spec[1]:
                kind = (
                    iommus[target.path][0] if target is not None and target.path in iommus else ""
                )
                if kind in KINDS and KINDS[kind].smr and spec[1:] < [0x10000]:
                    smr = f" smr-mask {spec[1]:#x}"  # arm_smmu_of_xlate: args[1]
                else:
                    diags.append(
                        warning(
                            "W814",
                            f"'{host.path}': iommu-map entry for RID {rid:#x} has a second "
                            f"specifier cell {spec[1]:#x}, which `map` carries only as an "
                            "arm-smmu SMR mask; imported without it",
                            where,
                        )
                    )
            if target is None or target.path not in iommus:
                diags.append(
                    warning(
                        "W812",
                        f"'{host.path}': iommu-map entry points at no known IOMMU; skipped",
                        where,
                    )
                )
                continue
            masked = f" mask {mask[0]:#x}" if mask else ""
            if target.path in mapless:  # declared by the fact pack, without maps: the board
                # says the host's map (its domain number depends on the hosts it enables)
                name = mapless[target.path]
                host_maps.append(
                    f"# {host.path}: its iommu-map, onto the fact pack's '{name}'\n"
                    f"map {name} {dom}rid {rid:#x} sid {sid:#x}{smr} length {length:#x}{masked}"
                )
                continue
            if target.path not in iommu_props:  # declared by the fact pack, maps and all
                notes.append(f"# {host.path}: its iommu-map is the fact pack's, on that IOMMU")
                break
            iommu_props[target.path].append(
                f"map {dom}rid {rid:#x} sid {sid:#x}{smr} length {length:#x}{masked}  # {host.path}"
            )


def _map_entries(
    cells: list[int], dt: Any, iommus: dict[str, tuple[str, int]]
) -> tuple[list[tuple[int, Any, list[int], int]], str]:
    """iommu-map entries as (rid-base, target node, output specifier, length), or why not.

    drivers/of/base.c: of_map_id: an entry is <rid-base phandle specifier... length>. Since
    ccb2fd725d41 the specifier has as many cells as the target's #iommu-cells; before, one,
    and a map of such 4-cell entries onto a 2-cell IOMMU (all of length 1, one target) is
    still read that way (of_check_bad_map). A DT may be written for either kernel, so the
    #iommu-cells reading is taken when it divides the map into entries whose phandles all
    resolve, else the 4-cell one. A multi-cell specifier maps a single ID ("cannot handle
    %d-ID range")."""

    def width(node: Any) -> int:
        if node.path in iommus:
            return iommus[node.path][1]
        found = _cells(node, "#iommu-cells")
        return found[0] if found else 1

    def read(multi: bool) -> list[tuple[int, Any, list[int], int]] | None:
        out, at = [], 0
        while at < len(cells):
            target = dt.phandle2node.get(cells[at + 1]) if len(cells) - at >= 2 else None
            if target is None:
                return None
            n = width(target) if multi else 1
            if len(cells) - at < 3 + n:
                return None
            out.append((cells[at], target, cells[at + 2 : at + 2 + n], cells[at + 2 + n]))
            at += 3 + n
        return out

    legacy = read(False)
    old_form = legacy is not None and all(
        e[1] is legacy[0][1] and e[3] == 1 and width(e[1]) == 2 for e in legacy
    )
    entries = None if old_form else read(True)
    if entries is None or all(len(e[2]) == 1 for e in entries):
        entries = legacy
    if entries is None:
        return [], f"has {len(cells)} cells, which do not divide into entries"
    for rid, _, spec, length in entries:
        if length > 1 and len(spec) > 1:
            return (
                [],
                f"maps {length} IDs from {rid:#x} onto a {len(spec)}-cell specifier (-EINVAL)",
            )
    return entries, ""


def _pack_iommus(pack: str) -> dict[str, tuple[str, bool, int | None]]:
    """The IOMMUs a SoC fact pack declares: name -> (kind, whether it has `map` entries,
    its `reg`)."""
    from ..loader import load_text
    from ..validate import build_model

    model = build_model(load_text(f'include "{pack}"\n', "<import>"))
    return {name: (i.kind, bool(i.maps), i.reg) for name, i in model.iommus.items()}


def _reg_entries(node: Any) -> list[tuple[int, int]]:
    """The node's `reg` as (address, size) pairs, in its parent's #address-cells and
    #size-cells (2 and 1 when the parent does not say, as the DT spec's defaults)."""
    reg = _cells(node, "reg")
    parent = node.parent
    ac = (_cells(parent, "#address-cells") or [2])[0] if parent is not None else 2
    sc = (_cells(parent, "#size-cells") or [1])[0] if parent is not None else 1
    step = ac + sc
    out = []
    for j in range(0, len(reg) - step + 1, step) if step else ():
        base = 0
        for c in reg[j : j + ac]:
            base = (base << 32) | c
        size = 0
        for c in reg[j + ac : j + step]:
            size = (size << 32) | c
        out.append((base, size))
    return out


def _unit_address(node: Any) -> int | None:
    """The node's unit address (iommu@12000000), which a .dtb keeps though labels go."""
    _, _, unit = node.name.partition("@")
    try:
        return int(unit.split(",")[0], 16) if unit else None
    except ValueError:
        return None


ALIAS = re.compile(r"[0-9a-z-]+$")  # what dtlib accepts as an alias name


def _tolerant(dtlib: Any) -> Any:
    """dtlib's DT, but taking the /aliases names dtc only warns about (`d_can0` on AM57xx):
    dtlib refuses the whole tree for one, and the import uses no alias."""

    class TolerantDT(dtlib.DT):  # type: ignore[misc, name-defined]
        def _register_aliases(self) -> None:
            aliases = self.root.nodes.get("aliases")
            if aliases is not None:
                for name in [n for n in aliases.props if not ALIAS.match(n)]:
                    del aliases.props[name]
            super()._register_aliases()

    return TolerantDT if hasattr(dtlib.DT, "_register_aliases") else dtlib.DT


def import_dts(path: Path, includes: list[str] | None = None, arch: str | None = None) -> DtsImport:
    """A formatted rule file for the board; never raises."""
    diags: list[Diagnostic] = []
    text, diag = preprocess(path, includes or [])
    if diag is not None:
        return DtsImport("", [diag])
    assert text is not None
    try:
        from devicetree import dtlib
    except ImportError:  # pragma: no cover - a dependency of the package
        return DtsImport(
            "",
            [error("E814", "the devicetree package is not installed", Span(str(path), 0, 0, 0, 0))],
        )
    with tempfile.NamedTemporaryFile("w", suffix=".dts", delete=False) as tmp:
        tmp.write(text)
    try:
        # cpp leaves dtc's own `/include/` lines: resolve them where cpp looked
        dt = _tolerant(dtlib)(tmp.name, include_path=[str(path.parent), *(includes or [])])
    except Exception as exc:  # dtlib.DTError, with its own file:line in the message
        msg = str(exc).replace(tmp.name, str(path))
        return DtsImport(
            "", [error("E815", f"device tree syntax: {msg}", Span(str(path), 0, 0, 0, 0))]
        )
    finally:
        Path(tmp.name).unlink(missing_ok=True)

    root = dt.root
    root_compat = _strings(root, "compatible")
    soc = next((c.split(",")[1] for c in root_compat if c.startswith("nvidia,tegra")), None)
    nodes = list(dt.node_iter())
    # The QorIQ PAMU has no #iommu-cells: its clients carry the `fsl,liodn` U-Boot writes
    # (drivers/iommu/fsl_pamu.c: fsl_pamu_probe matches "fsl,pamu"; e500mc, so powerpc).
    pamu = next((n for n in nodes if "fsl,pamu" in _strings(n, "compatible")), None)
    if pamu is not None:
        arch = arch or "powerpc"
    # an IOMMU whose driver one architecture only builds (Kconfig) says which this is
    only = {
        arch_of[0]
        for n in nodes
        if "#iommu-cells" in n.props
        and (k := _kind(_strings(n, "compatible"))) is not None
        and (arch_of := KINDS[k].arch) is not None
    }
    if len(only) == 1:
        arch = arch or only.pop()
    arch = arch or _arch_of_tree(path) or _arch_of_cpus(dt)
    arch = arch or next((a for c in root_compat for p, a in ARCH if c.startswith(p)), None)
    arch = arch or "arm64"
    used: set[str] = set()
    names: dict[str, str] = {}
    mapless: dict[str, str] = {}  # node path -> name, IOMMUs the pack declares without maps
    iommus: dict[str, tuple[str, int]] = {}  # node path -> (kind, #iommu-cells)
    out_iommus: list[str] = []
    iommu_props: dict[str, list[str]] = {}  # node path -> its properties in the rule file
    fact_pack = next((FACT_PACKS[c] for c in root_compat if c in FACT_PACKS), None)
    pack_iommus = _pack_iommus(fact_pack) if fact_pack else {}
    pack_notes: list[str] = []
    skipped: set[str] = set()  # IOMMU nodes of no modelled kind (W811)
    for node in nodes:
        if "#iommu-cells" not in node.props:
            continue
        kind = _kind(_strings(node, "compatible"))
        if kind is None:
            skipped.add(node.path)
            compats = _strings(node, "compatible")
            driver = next((UNMODELLED[c] for c in compats if c in UNMODELLED), None)
            diags.append(
                warning(
                    "W811",
                    f"IOMMU node '{node.path}' is driven by {driver}, which iommu-rules does "
                    "not model; skipped"
                    if driver
                    else f"IOMMU node '{node.path}' has an unknown compatible {compats}; skipped",
                    Span(str(path), 0, 0, 0, 0),
                )
            )
            continue
        ncells = _cells(node, "#iommu-cells")[0] if _cells(node, "#iommu-cells") else 1
        iommus[node.path] = (kind, ncells)
        label = node.labels[0] if node.labels else None
        # the pack's IOMMU this node is: by label (a .dts), by address (a .dtb keeps the
        # unit address, not the labels), or the pack's only one of the kind whose address
        # does not say otherwise
        address = _unit_address(node)
        same_kind = [
            n
            for n, (k, _, reg) in pack_iommus.items()
            if k == kind and (reg is None or address is None or reg == address)
        ]
        at = [n for n in same_kind if address is not None and pack_iommus[n][2] == address]
        declared = label if label in pack_iommus else None
        if declared is None and at:
            declared = at[0]
        elif declared is None and len(same_kind) == 1:
            declared = same_kind[0]
        if declared is not None:
            names[node.path] = declared
            used.add(declared)
            if not pack_iommus[declared][1]:
                mapless[node.path] = declared
            del pack_iommus[declared]
            pack_notes.append(f"# {node.path}: declared by {fact_pack} as '{declared}'")
            continue
        name = _ident(node, used)
        names[node.path] = name
        props = []
        if KINDS[kind].dt_stream is not None:  # a kind whose clients' cells are imported
            props.append(f"cells {ncells}")
        if KINDS[kind].stream_matching and _cells(node, "stream-match-mask"):
            mask = _cells(node, "stream-match-mask")[0]
            props.append(f"stream-match-mask {mask:#x}  # arm_smmu_of_xlate: one-cell streams")
        regs = _reg_entries(node) if kind == "tegra-gart" else []
        if len(regs) > 1 and regs[1][1]:
            base, size = regs[1]
            props.append(
                f"aperture {base:#x} size {size:#x}  # the MC's second reg (tegra_gart_probe)"
            )
        if kind == "tegra-smmu" and soc in TEGRA_ASIDS:
            props.append(f"contexts {TEGRA_ASIDS[soc]}  # drivers/memory/tegra/{soc}.c: num_asids")
        if kind == "qcom-iommu":
            props += _qcom_iommu_contexts(node)
        if kind == "msm-iommu" and _cells(node, "qcom,ncb"):
            ncb = _cells(node, "qcom,ncb")[0]
            props.append(f"contexts {ncb}  # qcom,ncb (msm_iommu_probe)")
        elif kind == "msm-iommu" and _enabled(node):
            props.append("disabled  # no qcom,ncb: msm_iommu_probe fails ('could not get ncb')")
            diags.append(
                warning(
                    "W815",
                    f"IOMMU node '{node.path}' has no qcom,ncb: its driver does not probe, "
                    "so it is written as disabled and its clients are untranslated",
                    Span(str(path), 0, 0, 0, 0),
                )
            )
        if not _enabled(node):
            props.append("disabled")
        iommu_props[node.path] = props
    if pamu is not None:
        iommus[pamu.path] = ("fsl-pamu", 0)
        names[pamu.path] = unique_name("pamu", used)
        iommu_props[pamu.path] = [] if _enabled(pamu) else ["disabled"]
    host_maps: list[str] = []  # `map NAME ...` onto IOMMUs the fact pack declares
    _host_maps(path, nodes, dt, iommus, iommu_props, diags, pack_notes, mapless, host_maps)
    for ipath, props in iommu_props.items():
        node = dt.get_node(ipath)
        compat = ", ".join(_strings(node, "compatible"))
        body = "\n    ".join(props)
        block = f" {{\n    {body}\n}}" if props else ""
        out_iommus.append(f"# {ipath}: {compat}\niommu {names[ipath]}: {iommus[ipath][0]}{block}")
    devices: list[str] = []
    device_names: dict[str, str] = {}  # node path -> its device's name
    for node in nodes:
        if pamu is not None and "fsl,liodn" in node.props and _enabled(node):
            devices.append(_liodn_client(node, names[pamu.path], used))
            continue
        if "iommus" not in node.props or "#iommu-cells" in node.props:
            continue
        if not _enabled(node):
            continue
        name = _ident(node, used)
        device_names[node.path] = name
        cells = _cells(node, "iommus")
        streams: dict[str, list[str]] = {}  # IOMMU name -> stream arguments
        unmodelled = ""
        i = 0
        while i < len(cells):
            target = dt.phandle2node.get(cells[i])
            if target is not None and target.path in skipped:
                unmodelled = (
                    f"# {node.path}: behind {target.path}, whose IOMMU iommu-rules does not "
                    "model (W811): shown untranslated\n"
                )
                diags.append(
                    warning(
                        "W812",
                        f"'{node.path}': its IOMMU '{target.path}' is not modelled; the device "
                        "is written without it and shows as untranslated",
                        Span(str(path), 0, 0, 0, 0),
                    )
                )
                break
            if target is None or target.path not in iommus:
                diags.append(
                    warning(
                        "W812",
                        f"'{node.path}': iommus entry points at no known IOMMU; skipped",
                        Span(str(path), 0, 0, 0, 0),
                    )
                )
                break
            kind, n = iommus[target.path]
            args = cells[i + 1 : i + 1 + n]
            i += 1 + n
            if len(args) < n:
                # of_parse_phandle_with_args fails on a short specifier, so
                # of_iommu_configure gives the device no IOMMU (dtc: "property size too small")
                diags.append(
                    warning(
                        "W812",
                        f"'{node.path}': its iommus entry for '{target.path}' has "
                        f"{plural(len(args), 'cell')}, and the IOMMU's #iommu-cells is {n}: the "
                        "kernel cannot parse it (of_parse_phandle_with_args: -EINVAL), so the "
                        "device is written untranslated",
                        Span(str(path), 0, 0, 0, 0),
                        help=f"give the entry its {plural(n, 'cell')}: "
                        f"<&{target.labels[0] if target.labels else target.path} ID>",
                    )
                )
                unmodelled = f"# {node.path}: its iommus entry is short: untranslated\n"
                streams = {}
                break
            entry = streams.setdefault(names[target.path], [])
            form = KINDS[kind].dt_stream
            if form == "swgroup" and args:
                table = SWGROUPS.get(soc or "", [])
                known = args[0] < len(table)
                entry.append(f"swgroup {table[args[0]] if known else args[0]}")
            elif form == "context" and args:
                entry.append(f"context {args[0]}")
            elif form is None:
                pass
            elif args:
                entry.append(f"sid {args[0]:#x}" + (f" mask {args[1]:#x}" if len(args) > 1 else ""))
        props = [
            f"iommu {iommu}" + (f" {', '.join(dict.fromkeys(args))}" if args else "")
            for iommu, args in streams.items()
        ]
        if "dma-coherent" in node.props:
            props.append("coherent")
        window = _dma_range(node)
        note = ""
        if window is not None:
            props.append(window[0])
            note = f" (dma-range: {window[1]})"
        devices.append(
            f"{unmodelled}# {node.path}{note}\ndevice {name}: {_compatibles(node)} "
            f"{{ {'; '.join(props)} }}"
        )
    for node in nodes:
        if _is_host1x(node) and "iommu-map" in node.props and _enabled(node):
            devices += _host1x_contexts(node, dt, iommus, {**names, **device_names}, used)
    ram: list[str] = []
    for node in nodes:
        # early_init_dt_scan_memory: the root's children with device_type = "memory" that are
        # available; a /reserved-memory child named memory@... is a carve-out, not RAM
        if node.parent is None or node.parent.parent is not None:
            continue
        if _strings(node, "device_type")[:1] != ["memory"] or "reg" not in node.props:
            continue
        if not _enabled(node):
            continue
        for base, size in _reg_entries(node):
            if size:
                ram.append(f"    ram {base:#x} size {size:#x}")
    packs = sorted({p for c in root_compat for pre, p in PACKS if c.startswith(pre)})
    if fact_pack is not None:
        packs = [fact_pack]  # it includes the policy pack
    lines = [
        f"# Imported from {path.name} by iommu-rules import dts.",
        f"# Root compatible: {', '.join(root_compat) or 'none'}.",
        "# Set the kernel version (and the command line) of the boot you want to model.",
        'include "std/linux"',
        *[f'include "{p}"' for p in packs],
        *driver_packs(kind for kind, _cells in iommus.values()),
        "",
        "platform {",
        f"    arch {arch}",
        "    kernel 6.8  # an assumption: set the kernel you run",
        *ram,
        "}",
        "",
        *pack_notes,
        *out_iommus,
        *(["", *host_maps] if host_maps else []),
        "",
        *devices,
    ]
    text_out = "\n".join(lines) + "\n"
    if not devices:
        masters = [n for n in nodes if "iommus" in n.props and "#iommu-cells" not in n.props]
        message, hint = "no node with an 'iommus' property was found", ""
        if masters:  # of_iommu_configure runs for no disabled node: none probes
            shown = ", ".join(n.path for n in masters[:3]) + (", ..." if len(masters) > 3 else "")
            message = (
                "every node with an 'iommus' property is disabled "
                f"({plural(len(masters), 'node')}: {shown}): no device is translated"
            )
            hint = (
                'a board\'s .dts enables (status = "okay") the devices it uses; '
                "the SoC's .dtsi alone leaves them disabled"
            )
        diags.append(warning("W813", message, Span(str(path), 0, 0, 0, 0), help=hint))
    try:
        text_out = format_text(text_out, "<import>")
    except Exception as exc:
        problem: str | None = f"does not parse: {exc}"
    else:
        refused = unchecked(text_out, path)  # never hand the user a file `check` rejects
        problem = None if refused is None else f"does not check: {refused}"
    if problem is not None:
        diags.append(
            error(
                "E816",
                f"the generated rule file {problem}",
                Span(str(path), 0, 0, 0, 0),
                help="please report this with the device tree",
            )
        )
    return DtsImport(text_out, diags)
