"""The coverage floor `make test` holds the suite to: branch coverage overall and per module.

Run after the suite (`python -m tests.coverage_floor`); reads the `.coverage` data pytest-cov
wrote, prints one line per module and exits non-zero when the whole or any module is under its
floor. A module is a top-level package of gonghui (members, insurance, …); the files directly in
`gonghui/` (the CLI, the demo, backup, readiness) count as the application shell.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePath

import coverage
from rich.console import Console
from rich.table import Table

OVERALL_FLOOR = 90.0
MODULE_FLOOR = 85.0


@dataclass
class Tally:
    statements: int = 0
    missed: int = 0
    branches: int = 0
    missed_branches: int = 0

    def add(self, other: Tally) -> None:
        self.statements += other.statements
        self.missed += other.missed
        self.branches += other.branches
        self.missed_branches += other.missed_branches

    @property
    def percent(self) -> float:
        """Coverage.py's own measure: covered lines and branches over all lines and branches."""
        total = self.statements + self.branches
        covered = self.statements - self.missed + self.branches - self.missed_branches
        return 100.0 * covered / total if total else 100.0


def module_of(filename: str) -> str:
    parts = PurePath(filename).parts
    inner = parts[len(parts) - parts[::-1].index("gonghui") :]
    if inner[0] == "migrations":
        return "migrations"
    return inner[0] if len(inner) > 1 else "shell"


def tallies(data_file: str = ".coverage") -> dict[str, Tally]:
    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        cov.json_report(outfile=str(report))
        files = json.loads(report.read_text())["files"]
    by_module: dict[str, Tally] = defaultdict(Tally)
    for filename, measured in files.items():
        summary = measured["summary"]
        by_module[module_of(filename)].add(
            Tally(
                summary["num_statements"],
                summary["missing_lines"],
                summary.get("num_branches", 0),
                summary.get("missing_branches", 0),
            )
        )
    return dict(by_module)


def failures(by_module: dict[str, Tally]) -> list[str]:
    whole = Tally()
    for tally in by_module.values():
        whole.add(tally)
    found = [
        f"{name} {tally.percent:.1f}% < {MODULE_FLOOR:.0f}%"
        for name, tally in sorted(by_module.items())
        if name != "migrations" and tally.percent < MODULE_FLOOR
    ]
    if whole.percent < OVERALL_FLOOR:
        found.insert(0, f"overall {whole.percent:.1f}% < {OVERALL_FLOOR:.0f}%")
    return found


def main() -> int:
    by_module = tallies()
    table = Table(title="Branch coverage by module")
    for column in ("module", "statements", "missed", "branches", "missed branches", "cover"):
        table.add_column(column, justify="left" if column == "module" else "right")
    whole = Tally()
    for name, tally in sorted(by_module.items()):
        whole.add(tally)
        table.add_row(
            name,
            *map(str, (tally.statements, tally.missed, tally.branches, tally.missed_branches)),
            f"{tally.percent:.1f}%",
        )
    table.add_row("all", "", "", "", "", f"{whole.percent:.1f}%", style="bold")
    console = Console()
    console.print(table)
    below = failures(by_module)
    for line in below:
        console.print(f"[red]coverage under the floor: {line}[/red]")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
