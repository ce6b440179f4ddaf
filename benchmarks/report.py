"""Where every benchmark writes: `benchmarks/results/<name>.json`, and its Markdown table
between the README's `<!-- <name>-table:start -->` and `<!-- <name>-table:end -->` markers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def publish(name: str, results: Any, table: str) -> None:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    start, end = f"<!-- {name}-table:start -->", f"<!-- {name}-table:end -->"
    readme = ROOT / "README.md"
    text = readme.read_text()
    if start in text and end in text:
        head, rest = text.split(start, 1)
        readme.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")
    print(table)
