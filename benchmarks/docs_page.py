"""The benchmark run as a Markdown page fragment, for the docs site.

``benchmarks/run.py --markdown docs/benchmarks/latest.md`` writes it; the docs'
benchmarks page includes that file (pymdownx.snippets), so the figures a reader
sees are the ones a run printed, never retyped, and the fragment says which
commit, machine and moment they were measured on. Pure functions of the run's
report (``dataclasses.asdict`` of ``run.Report``), so tests render one without
running a benchmark.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def commit(root: Path = ROOT) -> str:
    """The checkout's commit, and whether the tree had changes the commit does not hold."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed args
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head}, with uncommitted changes" if dirty else head


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _table(lines: Sequence[Sequence[object]]) -> list[str]:
    header, *rows = lines
    out = ["| " + " | ".join(_cell(c) for c in header) + " |"]
    out.append("|" + "---|" * len(header))
    out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return out


def _value(row: Mapping[str, Any]) -> str:
    value, unit = row["value"], row["unit"]
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit in ("req/s", "cycles/s", "bytes", "us"):
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}"


def render(report: Mapping[str, Any], *, measured_on: str, when: str) -> str:
    """The page fragment: where and when, the side-by-side GET table, then every row."""
    env = report["environment"]
    lines = [
        f"Measured by `benchmarks/run.py` on commit `{measured_on}`, {when}: "
        f"{env.get('cpus')} CPUs, {env.get('platform')}, Python {env.get('python')}, "
        f"load average {env.get('loadavg_start')} at the start and "
        f"{env.get('loadavg_end')} at the end, {env.get('wall_s')} s in all "
        f"(load generator: {env.get('load_generator', '-')}).",
        "",
    ]
    matrix = report.get("details", {}).get("side_by_side")
    if matrix:
        lines += [*_table(matrix), ""]
    rows = report.get("rows", [])
    if rows:
        table: list[list[object]] = [["group", "figure", "value", "vs baseline", "target", ""]]
        for row in rows:
            name = row["name"] + (f" ({row['note']})" if row.get("note") else "")
            table.append(
                [row["group"], name, _value(row), row["versus"], row["target"], row["status"]]
            )
        met = sum(row["status"] == "MET" for row in rows)
        missed = sum(row["status"] == "MISSED" for row in rows)
        lines += [*_table(table), "", f"Targets: {met} met, {missed} missed.", ""]
    return "\n".join(lines)


def write(path: Path, report: Mapping[str, Any], *, when: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, measured_on=commit(), when=when))
