"""`iommu-rules why`: the derivation of one value."""

from __future__ import annotations

import argparse
import sys

from .base import EXIT_INPUT, EXIT_OK, EXIT_USAGE, Command, arg, resolve_each


def run(args: argparse.Namespace) -> int:
    import json

    from ..explain import QueryError

    boards, status = resolve_each(args, [args.file])
    if not boards:
        return status
    query = " ".join(args.query)
    not_value = None
    if args.query and args.query[0] == "not":
        if len(args.query) != 3:
            print(
                "iommu-rules why: 'why not' takes a query and a value, e.g. "
                "'why FILE not gr3d.dma_ops iommu-dma'",
                file=sys.stderr,
            )
            return EXIT_USAGE
        query, not_value = args.query[1], args.query[2]
    try:
        ex = boards[0].why(query, not_value)
    except QueryError as exc:
        print(f"iommu-rules why: {exc}", file=sys.stderr)
        return EXIT_INPUT if exc.unknown else EXIT_USAGE  # an unknown name is an input error
    print(
        json.dumps(ex.to_json(), indent=2, sort_keys=True, default=str) if args.json else ex.text()
    )
    return EXIT_OK


COMMAND = Command(
    name="why",
    help="explain a derived value: the rules and facts behind it",
    description="Explain a derived value: each rule and fact that produced it with its "
    "file:line, and the kernel source it mirrors. QUERY is NAME.ATTRIBUTE "
    "(gr3d.dma_ops, mc.contexts_used), 'group-of NAME', or 'not NAME.ATTRIBUTE VALUE' "
    "to see what blocks a value.",
    examples=(
        "iommu-rules why examples/tegra30.iommu gr3d.dma_ops",
        "iommu-rules why examples/tegra30.iommu group-of dc0",
        "iommu-rules why examples/tegra30.iommu not host1x.dma_ops dma-direct",
    ),
    args=(
        arg("file", metavar="FILE", completes="rules", help="rule file ('-' reads stdin)"),
        arg("query", nargs="+", metavar="QUERY", help="what to explain"),
        arg("--json", action="store_true", help="JSON output"),
    ),
    run=run,
)
