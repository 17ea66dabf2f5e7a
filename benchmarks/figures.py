"""The one shape every benchmark reports: a figure beside a baseline measured in the same run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypedDict


class Figure(TypedDict):
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float
    ratio: float


def figure(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> Figure:
    """Build a figure; ``ratio`` is value / baseline (0 when there is no baseline value)."""
    ratio = value / baseline_value if baseline_value else 0.0
    return Figure(
        name=name,
        value=round(value, 3),
        unit=unit,
        baseline_name=baseline_name,
        baseline_value=round(baseline_value, 3),
        ratio=round(ratio, 4),
    )


def print_table(figures: list[Figure]) -> None:
    """Print figures as an aligned table, for a person reading a terminal."""
    rows = [
        (f["name"], f"{f['value']:,.2f} {f['unit']}", f["baseline_name"],
         f"{f['baseline_value']:,.2f}", f"{f['ratio']:.3f}")
        for f in figures
    ]
    header = ("figure", "value", "baseline", "baseline value", "ratio")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


def run_alone(run: Callable[[bool], list[Figure]], doc: str | None, quick_help: str) -> None:
    """``python benchmarks/NAME.py [--quick]``: one benchmark on its own, as a table."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    print_table(run(parser.parse_args().quick))
