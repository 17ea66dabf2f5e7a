"""Run every benchmark and print one table plus one JSON line per figure.

    uv run python -m benchmarks            # full run
    uv run python -m benchmarks --quick    # under a minute
    uv run python -m benchmarks ingest     # only the named ones
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time

import orjson

from benchmarks.figures import Figure, print_table

#: Benchmark modules, in the order they run. Each has ``run(quick: bool) -> list[Figure]``.
BENCHMARKS = (
    "ingest", "metrics", "fanout", "latency", "console", "memory", "middleware", "traces", "lnav",
    "journal", "fleet",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (under 60 s total)")
    parser.add_argument("only", nargs="*", metavar="NAME", help=f"run only these: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark {sorted(unknown)[0]!r}; choose from {', '.join(BENCHMARKS)}")
    names = args.only or BENCHMARKS
    print(f"# {platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
          file=sys.stderr)
    figures: list[Figure] = []
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        results: list[Figure] = module.run(quick=args.quick)
        figures.extend(results)
        print(f"# {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print_table(figures)
    for result in figures:
        print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
