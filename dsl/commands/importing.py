"""`iommu-rules import`: a device tree or a PC's listings as a rule file."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_INPUT, EXIT_USAGE, Command, arg, diag_style, read_stdin, write_output


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..diagnostics import SourceMap, render_all

    sources = SourceMap()
    if args.format == "dts":
        from ..importers.dts import import_dts

        if len(args.files) != 1:
            print("iommu-rules import dts: give one device tree", file=sys.stderr)
            return EXIT_USAGE
        result = import_dts(Path(args.files[0]), list(args.include), args.arch)
        text, diags = result.text, result.diagnostics
    else:
        from ..importers.listing import import_listings
        from ..loader import read_source

        inputs: list[tuple[str, str]] = []
        problems = []
        stdin: str | None = None
        raw: str | None
        for name in args.files:
            if name == "-":
                stdin = read_stdin() if stdin is None else stdin
                display, raw = "<stdin>", stdin
            else:
                display = name
                raw, problem = read_source(Path(name), name, None)
                if problem is not None:
                    problems.append(problem)
                    continue
            assert raw is not None
            inputs.append((display, raw))
            sources.add(display, raw)  # every file, so each diagnostic shows its own line
        if problems:
            print(render_all(problems, sources, diag_style(args, sys.stderr)), file=sys.stderr)
            return EXIT_INPUT
        listing = import_listings(inputs)
        text, diags = listing.text, listing.diagnostics
    if diags:
        print(render_all(diags, sources, diag_style(args, sys.stderr)), file=sys.stderr)
    if any(d.is_error for d in diags) or not text:
        return EXIT_INPUT
    return write_output(text, args.output, args.force, "import")


COMMAND = Command(
    name="import",
    help="turn a device tree, or IOMMU-group listings, dmesg and lspci trees, into a rule file",
    description="Import a board: 'dts' reads a device tree source (.dts, run through cpp "
    "for its #includes) or blob (.dtb). 'listing' reads what people post about a PC: the "
    "'IOMMU Group N ...' script output, 'find' or 'ls' of /sys/kernel/iommu_groups, "
    "lspci -nn lines, lspci -vvv / -vvnn (PCI Express types, 'Bus:' numbers, ACS "
    "registers) and -k (drivers), lspci -tv (or -t, -tvnn) trees, a posted /proc/cmdline, "
    "and dmesg or journalctl -k output (IOMMU groups, the default domain type, DMAR / "
    "AMD-Vi / arm-smmu lines, POWER's 'Configured PE#' lines, the kernel version and "
    "command line, the ACS override's warning), alone or mixed, from "
    "one file or several files of the same machine, merged by PCI address. The tree and "
    "the bridges' bus numbers give each function's 'upstream' bridge; observed groups and "
    "the default domain type become expectations, and where they show ACS that nothing "
    "else does, an 'acs' statement says it. What is there is imported and the output says "
    "what was missing; lines "
    "that look like these but cannot be read are W801 warnings at file:line:col (other "
    "dmesg lines are skipped silently).",
    examples=(
        "iommu-rules import dts tegra30-grouper.dts -I linux/include -o nexus7.iommu",
        "iommu-rules import listing groups.txt -o my-pc.iommu",
        "iommu-rules import listing groups.txt dmesg.txt lspci-tv.txt -o board.iommu",
        "sudo lspci -vvnn | iommu-rules import listing - -o board.iommu",
        "sudo dmesg | iommu-rules import listing - lspci-tv.txt",
    ),
    exit_codes=None,
    args=(
        arg("format", choices=("dts", "listing"), help="what FILE is"),
        arg(
            "files",
            nargs="+",
            metavar="FILE",
            completes="file",
            help="the input: one device tree, or one or more listing, lspci or dmesg files of "
            "one machine ('-' reads stdin)",
        ),
        arg(
            "-I",
            "--include",
            action="append",
            default=[],
            metavar="DIR",
            completes="dir",
            help="include directory for cpp (dts)",
        ),
        arg(
            "--arch",
            choices=("arm", "arm64", "x86_64", "riscv64", "powerpc"),
            help="the architecture, when the root compatible does not tell (dts)",
        ),
        arg("-o", "--output", metavar="OUT", completes="file", help="write OUT instead of stdout"),
        arg("--force", action="store_true", help="overwrite an existing OUT"),
    ),
    run=run,
)
