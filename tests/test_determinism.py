"""Same input, same bytes out, whatever the hash seed."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES, GOLDEN, processes_soon, run_cli

SEEDS = ["0", "1", "42", "1234", "random"]


COMMANDS = {
    "check-json": ["check", "--format", "json", "several_errors.iommu"],
    "fmt": ["fmt", str(EXAMPLES / "tegra30.iommu")],
    "whatif-diff": [
        "whatif", "--set", "kernel 6.8", "--drop-device", "vde", str(EXAMPLES / "tegra30.iommu")
    ],
    "whatif-json": ["whatif", "--json", "--set", "kernel 6.8", str(EXAMPLES / "tegra30.iommu")],
    "compare": [
        "compare", str(EXAMPLES / "x86-desktop.iommu"), "--kernel", "5.10", "--kernel", "6.8"
    ],
}  # fmt: skip
# One process per seed (the seed is the interpreter's): started once collection is over.
RUNS = {
    name: processes_soon(
        *args, cwd=GOLDEN / "diagnostics", envs=[{"PYTHONHASHSEED": seed} for seed in SEEDS]
    )
    for name, args in COMMANDS.items()
}


@pytest.mark.soon
@pytest.mark.parametrize("name", list(RUNS))
def test_output_is_byte_identical_across_hash_seeds(name: str) -> None:
    procs = RUNS[name].results()
    outputs = {seed: proc.stdout for seed, proc in zip(SEEDS, procs, strict=True)}
    assert len(set(outputs.values())) == 1, outputs
    assert next(iter(outputs.values()))


def test_independent_packs_in_either_order_give_the_same_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """std/linux (global default) and a SoC pack (driver wishes) do not depend on each other."""
    text = (EXAMPLES / "sdm845.iommu").read_text()
    a, b = 'include "std/linux"\n', 'include "std/soc/qcom"\n'
    assert a in text and b in text
    swapped = text.replace(a, "@@A@@").replace(b, a).replace("@@A@@", b)
    first = tmp_path / "first.iommu"
    second = tmp_path / "second.iommu"
    first.write_text(text)
    second.write_text(swapped)
    out1 = run_cli("resolve", "--json", "first.iommu", cwd=tmp_path).stdout
    out2 = run_cli("resolve", "--json", "second.iommu", cwd=tmp_path).stdout
    assert out1 and out1 == out2.replace("second.iommu", "first.iommu")


def _split_board(text: str, probe_order: bool) -> dict[str, str]:
    """sdm845 cut into one file per kind of statement; devices in two files.

    With ``probe_order`` every device states its place in the probe order
    (its index in the original file), which the language says makes the order
    of the device files irrelevant.
    """
    statements: list[str] = []
    for line in text.splitlines(keepends=True):
        if line[:1].isalpha() or not statements:
            statements.append(line)
        else:
            statements[-1] += line
    files: dict[str, list[str]] = {}
    devices = [s for s in statements if s.startswith("device ")]
    for stmt in statements:
        word = stmt.split()[0]
        if word == "device":
            index = devices.index(stmt)
            if probe_order:
                stmt = stmt.replace("{", f"{{ probe-order {index};", 1)
            name = "devices_a" if index < len(devices) // 2 else "devices_b"
        else:
            name = {"iommu": "iommus", "domain": "domains", "rule": "rules", "expect": "expects"}
            name = name.get(word, "head")  # type: ignore[assignment]
        files.setdefault(name, []).append(stmt)
    return {name: "".join(parts) for name, parts in files.items()}


def _resolve_split(tmp_path, parts: dict[str, str], order: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    for name, body in parts.items():
        (tmp_path / f"{name}.iommu").write_text(body)
    main = parts["head"] + "".join(f'include "{name}.iommu"\n' for name in order if name in parts)
    (tmp_path / "board.iommu").write_text(main)
    runs = [
        ["resolve", "board.iommu"],
        ["resolve", "--json", "board.iommu"],
        ["why", "board.iommu", "ufs.group"],
        ["dot", "--view", "groups", "board.iommu"],
        ["dot", "--view", "contexts", "board.iommu"],
        ["test", "board.iommu"],
    ]
    return [run_cli(*args, cwd=tmp_path).stdout for args in runs]


ORDERS = [
    ["iommus", "devices_a", "devices_b", "domains", "rules", "expects"],
    ["expects", "rules", "domains", "devices_b", "devices_a", "iommus"],
    ["devices_b", "expects", "iommus", "rules", "devices_a", "domains"],
]


def test_reordered_includes_give_the_same_bytes_when_probe_order_is_stated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Facts, rules, domains and expectations are order-free; with `probe-order` on every
    device (docs/language.md, 'Order') so are the device files."""
    parts = _split_board((EXAMPLES / "sdm845.iommu").read_text(), probe_order=True)
    outputs = [_resolve_split(tmp_path, parts, order) for order in ORDERS]
    assert all(outputs[0]), outputs[0]
    for other in outputs[1:]:
        assert other == outputs[0]


def test_device_files_in_another_order_probe_in_another_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without `probe-order`, declaration order is probe order: swapping the device files
    renumbers the groups, as the kernel's probe order would."""
    parts = _split_board((EXAMPLES / "sdm845.iommu").read_text(), probe_order=False)
    first = _resolve_split(tmp_path, parts, ORDERS[0])
    swapped = _resolve_split(tmp_path, parts, ORDERS[1])
    assert first[1] != swapped[1]  # the JSON: group numbers follow the probe order
