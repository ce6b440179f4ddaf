"""The README's bad-input table: run the hostile-input tests (`tests/test_hostile_input.py`),
count every generated case by class of input and outcome, and write the table.

The tests draw their cases with derandomised hypothesis and no example database, and run
here in one process, in file order: hypothesis also draws literals from the local modules
imported so far, and under pytest-xdist which modules those are depends on how the tests
were shared out, which made the counts change from run to run. Here they are the same on
every run of the same code, libraries and (editable) install. Results go to
`benchmarks/results/bad-input.json` and between the README's markers.

    python benchmarks/bad_input.py
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from report import ROOT, publish

HOSTILE = ROOT / "tests" / "test_hostile_input.py"
HEADER = (
    "| class of input | cases | ended in a result | ended in a clear zoo error | other exception |"
)


def run_hostile_tests(records: Path) -> None:
    """Run the hostile-input tests; the suite's `hostile` fixture saves its counts in `records`."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(HOSTILE),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
    ]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "ZOO_HOSTILE_RECORDS": str(records)}
    )
    if done.returncode != 0:
        sys.exit(
            f"the hostile-input tests failed (pytest exit code {done.returncode}); the table was not written"
        )


def merge(records: Path) -> tuple[dict[str, dict[str, int]], set[str]]:
    """{class of input: {outcome: cases}} over every process's record, and the tests that ran."""
    by_kind: dict[str, dict[str, int]] = collections.defaultdict(dict)
    ran: set[str] = set()
    for path in sorted(records.glob("*.json")):
        record = json.loads(path.read_text())
        ran.update(record["ran"])
        for key, n in record["counts"].items():
            kind, outcome = key.split("\t")
            by_kind[kind][outcome] = by_kind[kind].get(outcome, 0) + n
    return {kind: dict(sorted(outcomes.items())) for kind, outcomes in sorted(by_kind.items())}, ran


def table(by_kind: dict[str, dict[str, int]]) -> str:
    # "other exception" is 0 by construction: any other exception fails the run above
    lines = [HEADER, "|---|---|---|---|---|"]
    for kind, outcomes in by_kind.items():
        errors = ", ".join(f"{n} {name}" for name, n in outcomes.items() if name != "result") or "0"
        lines.append(
            f"| {kind} | {sum(outcomes.values())} | {outcomes.get('result', 0)} | {errors} | 0 |"
        )
    return "\n".join(lines)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory(prefix="zoo-hostile-") as folder:
        run_hostile_tests(Path(folder))
        by_kind, ran = merge(Path(folder))
    expected = set(re.findall(r"^def (test_\w+)", HOSTILE.read_text(), flags=re.M))
    if not expected <= ran:
        sys.exit(
            f"these hostile-input tests counted no case: {', '.join(sorted(expected - ran))}; the table was not written"
        )
    publish("bad-input", by_kind, table(by_kind))


if __name__ == "__main__":
    main()
