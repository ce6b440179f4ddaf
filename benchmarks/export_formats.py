"""Export every model shipped in `saved_models/` as ONNX, LiteRT and int8 ONNX, and measure it.

For each model and format: the export's wall time, the size of its graph files, and the
largest absolute difference of each graph's raw outputs from Keras on a right-padded probe
batch (`zoo.registry.export.parity`; float graphs must stay within 1e-4, which `export`
itself enforces, int8 graphs are measured only). Results go to
`benchmarks/results/export-formats.json` and between the README's `export-formats-table`
markers where it has them.

    python benchmarks/export_formats.py [--registry DIR] [--only PATTERN] [--formats onnx,litert,int8]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from report import ROOT, publish, read_json
from zoo import registry
from zoo.errors import ZooError
from zoo.registry.export import MANIFEST_FILE, export, parity

#: the variants measured: name -> (format, quantization)
VARIANTS = {"onnx": ("onnx", None), "litert": ("litert", None), "int8": ("onnx", "int8")}


def measure(model: registry.ZooModel, variant: str, folder: Path) -> dict[str, Any]:
    """Export `model` as `variant` into `folder` and measure the result."""
    format, quantize = VARIANTS[variant]
    started = time.perf_counter()
    try:
        export(model, folder, format=format, quantize=quantize)
    except ZooError as err:
        return {"error": str(err)}
    seconds = time.perf_counter() - started
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    return {
        "seconds": round(seconds, 1),
        "bytes": sum((folder / g["file"]).stat().st_size for g in manifest["graphs"].values()),
        "max_abs_diff": max(parity(model, folder).values()),
        "fixed_length": manifest["fixed_length"],
    }


def table(results: dict[str, dict[str, Any]], variants: list[str]) -> str:
    """The Markdown table: per model and variant, time, size and difference from Keras."""
    head = "| model | " + " | ".join(f"{v} s / MB / max diff" for v in variants) + " |"
    rows = [head, "|---" * (len(variants) + 1) + "|"]
    for name, row in results.items():
        cells = []
        for variant in variants:
            got = row[variant]
            cells.append(
                f"failed: {got['error']}"
                if "error" in got
                else f"{got['seconds']:.1f} / {got['bytes'] / 1e6:.2f} / {got['max_abs_diff']:.1e}"
            )
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=str(ROOT / "saved_models"))
    parser.add_argument("--only", default="*", help="shell pattern of model names")
    parser.add_argument("--formats", default=",".join(VARIANTS), help="comma-separated variants")
    args = parser.parse_args()
    variants = args.formats.split(",")
    names = [
        name
        for name in registry.list_models(root=args.registry)
        if fnmatch.fnmatch(name, args.only) and not name.startswith("demo-")
    ]
    # a run of some models (`--only`) keeps the other models' last results
    results: dict[str, dict[str, Any]] = {
        name: row
        for name, row in read_json("export-formats", {}).items()
        if not fnmatch.fnmatch(name, args.only)
    }
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            model = registry.load(name, root=args.registry)
            results[name] = {
                variant: measure(model, variant, Path(scratch) / f"{name}-{variant}")
                for variant in variants
            }
            print(name, json.dumps(results[name]), flush=True)
    publish("export-formats", results, table(results, variants))


if __name__ == "__main__":
    main()
