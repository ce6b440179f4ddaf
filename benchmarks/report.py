"""Where every benchmark writes: `benchmarks/results/<name>.json`, and its Markdown table
between the README's `<!-- <name>-table:start -->` and `<!-- <name>-table:end -->` markers.
Only these scripts write into the checkout; the test suite never does."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_readme_table(name: str, table: str) -> None:
    """Replace what stands between the README's markers for `name` (nothing if they are absent)."""
    start, end = f"<!-- {name}-table:start -->", f"<!-- {name}-table:end -->"
    readme = ROOT / "README.md"
    text = readme.read_text()
    if start in text and end in text:
        head, rest = text.split(start, 1)
        readme.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


def read_json(name: str, default: Any) -> Any:
    """The last results written as `name` (`benchmarks/results/<name>.json`), or `default`
    when there are none: a run of some models (`--only`) keeps the others' last results."""
    last = ROOT / "benchmarks" / "results" / f"{name}.json"
    return json.loads(last.read_text()) if last.exists() else default


def kept_rows(name: str, key: str, remeasured: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The rows of the last results written as `name` (a list of dicts) that this run does
    not measure again: a run of some models (`--only`) or tasks (`--tasks`) keeps the
    others' last rows instead of dropping them.

    Args:
        name: the results' name (`benchmarks/results/<name>.json`).
        key: the field naming what a row measured, e.g. `model` or `task`.
        remeasured: whether this run measures the thing a row's `key` names.

    Returns:
        The rows kept, in their order; none when there are no last results.
    """
    return [row for row in read_json(name, []) if not remeasured(row[key])]


def write_json(name: str, results: Any) -> None:
    """Write `results` to `benchmarks/results/<name>.json`."""
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))


def publish(name: str, results: Any, table: str) -> None:
    """Write `results` as JSON, `table` between the README's markers for `name`, and print it."""
    write_json(name, results)
    write_readme_table(name, table)
    print(table)


def latency_ms(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> tuple[float, float]:
    """p50 and p99 in milliseconds of `fn()`, after `warmup` calls that trace and compile."""
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), float(np.percentile(timings, 99))
