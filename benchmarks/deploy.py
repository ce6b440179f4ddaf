"""Models that travel, measured: every model shipped in `saved_models/` exported to ONNX
(float and int8) and LiteRT, run by the TensorFlow-free runtime (`zoo_runtime`) beside
`zoo predict` on the model's validation split, and written into two README tables.

- `deploy-parity`: per model and format, the share of inputs whose decision (label, tags,
  translation, caption) equals `zoo predict`'s, the largest probability difference, the
  metric of each side on the same inputs, the file size, p50 single-input latency and
  batch throughput (TensorFlow `zoo predict` beside the runtime).
  Each folder is also run in a virtual environment holding only `rnn-zoo-runtime` (no
  TensorFlow, no Keras): the results there must be the runtime's own, with TensorFlow never
  imported.
- `deploy-int8`: per model, ONNX float against ONNX int8 (ONNX Runtime's dynamic
  quantisation): size, latency, throughput and the metric change; a drop of more than 0.5
  points is marked.

Needs the export extra (`pip install "rnn-zoo[export]"`) and the models' data
(`../shared/data`); without the data a model is skipped and says so.

    python benchmarks/deploy.py [--only PATTERN] [--limit N] [--repeats 30] [--batch 64]

`--only` re-measures the matching models and keeps the others' last results (one model per
process keeps memory low: TensorFlow holds on to every model a long run loaded).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sacrebleu
from seqeval.metrics import f1_score

import zoo_runtime
from report import ROOT, kept_rows, latency_ms, publish, write_readme_table
from zoo import registry
from zoo.errors import ZooError
from zoo.registry.export import export

#: the formats compared with `zoo predict`: (label, format, quantize)
FORMATS = (("onnx", "onnx", None), ("onnx int8", "onnx", "int8"), ("litert", "litert", None))
#: the output field that holds a prediction's decision, by task
DECISION = {
    "one-to-one": "label",
    "many-to-one": "label",
    "many-to-many-equal": "tags",
    "many-to-many-unequal": "translation",
    "one-to-many": "caption",
}


def validation_data(model: registry.ZooModel, limit: int | None) -> tuple[list[Any], list[Any]]:
    """The raw inputs of the model's validation split and their gold outputs.

    Args:
        model: a loaded registry model.
        limit: keep the first `limit` examples; None keeps all.

    Returns:
        `(inputs, gold)`: what `predict` takes, and per input its label name, its tag
        names, or its list of reference texts.
    """
    task = model.task
    spec = task.dataset(model.training_dataset())
    # the validation split where there is one: `evaluation_split` would read every example
    # of a model whose card records other data than its dataset prepares today
    raw = task.load(spec, "validation" if spec.validation else model.evaluation_split(spec)[0])
    if limit:
        raw = raw.take(limit)
    if task.name in ("many-to-many-unequal", "one-to-many"):
        return task.references(raw)
    inputs, gold = [], []
    for example in raw.as_numpy_iterator():
        inputs.append(task.raw_input(example))
        if task.name == "many-to-many-equal":
            gold.append([t.decode() for t in example["ner_name"]])
        else:
            gold.append(example["label_name"].decode())
    return inputs, gold


def metric(task: str, outputs: list[dict[str, Any]], gold: list[Any]) -> float:
    """The task's headline metric of `outputs` against `gold`, in points (0-100): accuracy,
    entity F1 (seqeval, CoNLL), or corpus BLEU (sacrebleu, lowercased as the zoo reports
    translation)."""
    if task == "many-to-many-equal":
        return 100 * f1_score(gold, [[tag for _, tag in o["tags"]] for o in outputs])
    if task in ("many-to-many-unequal", "one-to-many"):
        hypotheses = [o[DECISION[task]] for o in outputs]
        streams = max(len(r) for r in gold)
        references = [[r[i] if i < len(r) else None for r in gold] for i in range(streams)]
        return sacrebleu.corpus_bleu(
            hypotheses, references, lowercase=task == "many-to-many-unequal"
        ).score
    return 100 * float(np.mean([o["label"] == g for o, g in zip(outputs, gold, strict=True)]))


def probabilities(output: dict[str, Any]) -> list[float]:
    """Every probability an output reports, in a fixed order (empty for generators)."""
    values = [output["probability"]] if "probability" in output else []
    return values + [p for _, p in sorted(output.get("probabilities", {}).items())]


def agreement(reference: list[dict[str, Any]], other: list[dict[str, Any]], task: str) -> dict:
    """How far `other`'s outputs are from `reference`'s: the share of equal decisions and
    the largest probability difference."""
    key = DECISION[task]
    same = [a[key] == b[key] for a, b in zip(reference, other, strict=True)]
    gaps = [
        float(np.max(np.abs(np.subtract(probabilities(a), probabilities(b)))))
        for a, b in zip(reference, other, strict=True)
        if probabilities(a)
    ]
    return {"same": float(np.mean(same)), "max_probability_diff": max(gaps, default=None)}


def speed(
    predict: Callable[[list[Any]], Any], inputs: list[Any], repeats: int, batch: int
) -> tuple[float, float]:
    """p50 single-input latency (ms) and warm batch throughput (inputs/s) of `predict`: the
    batch's median time over `repeats // 4` calls (at least 3) after `latency_ms`'s warm-up,
    which traces or allocates for that batch size."""
    p50, _ = latency_ms(lambda: predict(inputs[:1]), repeats)
    chunk = (inputs * (batch // len(inputs) + 1))[:batch]
    batch_p50, _ = latency_ms(lambda: predict(chunk), max(3, repeats // 4))
    return p50, batch / (batch_p50 / 1000)


#: what the runtime-only environment runs: the folder's results for the pickled inputs, and
#: whether TensorFlow or Keras got imported on the way
ALONE = """
import json, pickle, sys, zoo_runtime
inputs = pickle.load(open(sys.argv[2], "rb"))
outputs = zoo_runtime.load(sys.argv[1]).predict_batch(inputs)
print(json.dumps({"outputs": outputs, "imported": [m for m in ("tensorflow", "keras") if m in sys.modules]}))
"""


def runtime_alone(directory: Path) -> Path:
    """The Python of a new virtual environment holding only `rnn-zoo-runtime[litert]`, built
    from a copy of `zoo/runtime` (its dependencies come from the package index).

    Args:
        directory: where to make the environment.

    Returns:
        The environment's `python`.
    """
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    python = directory / "bin" / "python"
    # built from a copy: setuptools leaves build/ and *.egg-info beside the sources
    source = shutil.copytree(
        ROOT / "zoo" / "runtime",
        directory.parent / "runtime-source",
        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"),
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{source}[litert]"],
        check=True,
    )
    return python


#: the inputs run in the runtime-only environment (its first ones): enough to see its
#: results are the runtime's own, without decoding a whole split twice
ALONE_INPUTS = 200


def alone(python: Path, folder: Path, inputs: list[Any], outputs: list[dict]) -> dict:
    """Run `folder` on the first `ALONE_INPUTS` of `inputs` in the runtime-only environment
    of `python`.

    Returns:
        `{"alone_same": whether its results equal `outputs`, "alone_imported": the modules of
        TensorFlow and Keras it imported}`.
    """
    inputs, outputs = inputs[:ALONE_INPUTS], outputs[:ALONE_INPUTS]
    pickled = folder.parent / "inputs.pickle"
    pickled.write_bytes(pickle.dumps(inputs))
    done = subprocess.run(
        [str(python), "-c", ALONE, str(folder), str(pickled)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    # through JSON, as `outputs` would print: tuples become lists
    return {
        "alone_same": result["outputs"] == json.loads(json.dumps(outputs)),
        "alone_imported": result["imported"],
    }


def measure(
    name: str,
    root: Path,
    limit: int | None,
    repeats: int,
    batch: int,
    python: Path,
) -> list[dict]:
    """All formats of one shipped model, `zoo predict` first; each folder also in the
    runtime-only environment of `python`."""
    model = registry.load(name, root=root)
    task = model.task.name
    inputs, gold = validation_data(model, limit)
    reference = model.predict_batch(inputs)
    p50, throughput = speed(model.predict_batch, inputs, repeats, batch)
    rows = [
        {
            "model": name,
            "format": "zoo predict (TensorFlow)",
            "examples": len(inputs),
            "metric": metric(task, reference, gold),
            "bytes": model.card.files["model.keras"].bytes,
            "latency_ms_p50": p50,
            "inputs_per_s": throughput,
        }
    ]
    for label, fmt, quantize in FORMATS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "export"
            started = time.perf_counter()
            export(model, folder, format=fmt, quantize=quantize)
            seconds = time.perf_counter() - started
            runtime = zoo_runtime.load(folder)
            outputs = runtime.predict_batch(inputs)
            p50, throughput = speed(runtime.predict_batch, inputs, repeats, batch)
            graphs = [p for p in folder.iterdir() if p.suffix in (".onnx", ".tflite")]
            rows.append(
                {
                    **alone(python, folder, inputs, outputs),
                    "model": name,
                    "format": label,
                    "examples": len(inputs),
                    "metric": metric(task, outputs, gold),
                    **agreement(reference, outputs, task),
                    "bytes": sum(p.stat().st_size for p in graphs),
                    "export_s": seconds,
                    "latency_ms_p50": p50,
                    "inputs_per_s": throughput,
                }
            )
    return rows


def parity_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | format | examples | same decision | max prob. diff | metric | size | p50 single | batch inputs/s | runtime alone |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        diff = r.get("max_probability_diff")
        same = "—" if "same" not in r else f"{100 * r['same']:.2f} %"
        lines.append(
            f"| {r['model']} | {r['format']} | {r['examples']} | {same} | "
            f"{'—' if diff is None else f'{diff:.1e}'} | {r['metric']:.2f} | "
            f"{r['bytes'] / 1e6:.1f} MB | {r['latency_ms_p50']:.2f} ms | {r['inputs_per_s']:,.0f} | "
            f"{alone_cell(r)} |"
        )
    return "\n".join(lines)


def alone_cell(row: dict[str, Any]) -> str:
    """The runtime-only environment's verdict: same results, and nothing of TensorFlow."""
    if "alone_same" not in row:
        return "—"
    imported = ", ".join(row["alone_imported"])
    same = "same results" if row["alone_same"] else "**other results**"
    return f"{same}, {'imported ' + imported if imported else 'no TensorFlow'}"


def int8_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | ONNX float → int8 size | p50 single (ms) | batch inputs/s | metric | change |",
        "|---|---|---|---|---|---|",
    ]
    by_model: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[r["format"]] = r
    for name, formats in by_model.items():
        if "onnx" not in formats or "onnx int8" not in formats:
            continue
        f, q = formats["onnx"], formats["onnx int8"]
        change = q["metric"] - f["metric"]
        flag = " **drop > 0.5**" if change < -0.5 else ""
        lines.append(
            f"| {name} | {f['bytes'] / 1e6:.1f} → {q['bytes'] / 1e6:.1f} MB | "
            f"{f['latency_ms_p50']:.2f} → {q['latency_ms_p50']:.2f} | "
            f"{f['inputs_per_s']:,.0f} → {q['inputs_per_s']:,.0f} | "
            f"{f['metric']:.2f} → {q['metric']:.2f} | {change:+.2f}{flag} |"
        )
    return "\n".join(lines)


def main() -> None:
    os.chdir(ROOT)  # older cards record data paths relative to the checkout
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=ROOT / "saved_models")
    parser.add_argument(
        "--only",
        metavar="PATTERN",
        default="*",
        help="re-measure only the models matching this wildcard; keep the others' last results",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="examples per model (default: the whole split)"
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    # a run of some models (`--only`) keeps the other models' last rows
    rows = kept_rows("deploy-parity", "model", lambda name: fnmatch.fnmatch(name, args.only))
    environment = tempfile.TemporaryDirectory()
    python = runtime_alone(Path(environment.name) / "venv")
    for name in registry.list_models(root=args.registry):
        if not fnmatch.fnmatch(name, args.only):
            continue
        try:
            rows += measure(name, args.registry, args.limit, args.repeats, args.batch, python)
        except (ZooError, OSError) as err:  # the model's data is not on this machine
            print(f"{name}: skipped ({str(err).splitlines()[0]})")
            continue
        rows.sort(key=lambda r: r["model"])  # stable: each model's formats keep their order
        # after every model, so that a long run interrupted keeps what it measured
        publish("deploy-parity", rows, parity_table(rows))
    write_readme_table("deploy-int8", int8_table(rows))


if __name__ == "__main__":
    main()
