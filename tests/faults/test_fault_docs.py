"""docs/reliability.md names, in every row of its fault table, the tests that
show the row, as `file::test`; each one exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
NAMED = re.compile(r"`([\w/.]+\.py)::(\w+)(?:\[[^`]*\])?`")


def _fault_rows() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Faults and what the connector does", 1)[1]
    table = table.split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    return rows[1:]  # the header row


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_every_fault_row_names_tests_that_exist() -> None:
    rows = _fault_rows()
    assert len(rows) >= 40
    for row in rows:
        last_cell = row.rstrip(" |").rsplit(" | ", 1)[-1]
        named = NAMED.findall(last_cell)
        assert named, f"no file::test in: {row}"
        for file, test in named:
            path = ROOT / file if "/" in file else ROOT / "tests" / "faults" / file
            assert path.is_file(), (file, row)
            assert test in _tests_in(path), f"{file}::{test} does not exist"
