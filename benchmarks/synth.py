"""Synthetic boards of N devices: a mix of SoC masters on arm-smmus and PCI functions.

Used by the benchmarks; the output is a valid rule file that resolves.
"""

from __future__ import annotations

import argparse
import sys


def board(n: int, kernel: str = "6.8") -> str:
    """A board with ``n`` devices: 60% SoC masters on arm-smmus, 40% PCI functions."""
    out = [
        'include "std/linux"',
        "",
        "platform {",
        "    arch arm64",
        f"    kernel {kernel}",
        "    ram 0x80000000 size 16G",
        '    cmdline "console=ttyAMA0"',
        "}",
        "",
    ]
    soc = n * 6 // 10
    pci = n - soc
    smmus = max(1, soc // 500)
    for s in range(smmus):
        out.append(f"iommu smmu{s}: arm-smmu {{ contexts 128; cells 2 }}")
    out.append("iommu pcie_smmu: arm-smmu-v3")
    for i in range(soc):
        tag = ("gpu", "display", "storage", "net", "dma")[i % 5]
        out.append(
            f'device soc{i}: "vendor,ip-{i % 37}" {{ tags {tag}; '
            f"iommu smmu{i % smmus} sid {hex(i)} mask 0x0; dma-mask {32 + (i % 3) * 8} }}"
        )
    ports = max(1, pci // 8)
    for p in range(ports):
        bus, dev = divmod(p, 32)
        out.append(
            f"bridge rp{p}: root-port {{ pci 0000:{bus % 256:02x}:{dev:02x}.0; "
            f"acs {'yes' if p % 3 else 'no'} }}"
        )
    for j in range(pci):
        port = j % ports
        idx = j // ports  # the function's place below its port
        addr = f"{port + 1:04x}:01:{(idx // 8) % 32:02x}.{idx % 8}"
        out.append(
            f'device pci{j}: "pci10de,{j % 4096:04x}" {{ tags pcie; pci {addr}; '
            f"upstream rp{port}; iommu pcie_smmu sid {hex(0x10000 + j)} }}"
        )
    out.append("")
    out.append('rule "GPUs own their address space": gpu excludes implicit')
    out.append("rule display requires identity")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("devices", type=int)
    ap.add_argument("--kernel", default="6.8")
    args = ap.parse_args()
    sys.stdout.write(board(args.devices, args.kernel))


if __name__ == "__main__":
    main()
