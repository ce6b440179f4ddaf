"""Retraining on a small dataset with another label set, against training from scratch.

A simulated new domain built from what the project has: the CoNLL-2003 development
sentences (eng.testa; the shipped NER model chose its epoch on them but never trained on
them), relabelled with another entity-type set: PER becomes PERSON, ORG and MISC merge into
GROUP, and LOC is no longer an entity (its words become O). The sentences are shuffled with
`--seed` and cut into a test set (1,000 sentences), a development set (250: what early
stopping watches) and a pool from which the first N sentences are the training data.

For each N, the shipped parent is fine-tuned with `zoo retrain`'s defaults, and a model with
the parent's hyperparameters is trained from scratch on the same sentences (the parent's
epochs and patience; as `zoo retrain` does, without a moving average of the weights:
`zoo.training.finetune.SMALL_DATA_OVERRIDES`); both are scored by entity F1 (seqeval, the
data's IOB1 scheme) on the same test sentences. Results go to
`benchmarks/results/retrain-small.json` and the README's `retrain-small` table.

    python benchmarks/retrain_small.py [--sizes 500,1000,2000] [--parent ner-conll2003-lstm]

About 2 minutes per size on 2 CPU cores; needs `../shared/data/ner/eng.testa`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import zoo
from report import ROOT, publish
from zoo.training.finetune import SMALL_DATA_OVERRIDES

DATA = ROOT.parent / "shared" / "data" / "ner" / "eng.testa"
#: CoNLL type -> the new domain's type (None: no longer an entity)
NEW_TYPES = {"PER": "PERSON", "ORG": "GROUP", "MISC": "GROUP", "LOC": None}
TEST, DEV = 1000, 250


def sentences(path: Path) -> list[list[tuple[str, str]]]:
    """(token, tag) sentences of a CoNLL-2003 file, without its -DOCSTART- lines."""
    found, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if current:
                found.append(current)
            current = []
            continue
        current.append((parts[0], parts[-1]))
    if current:
        found.append(current)
    return found


def relabel(tag: str) -> str:
    """A CoNLL tag in the new domain's types, its IOB prefix kept."""
    if tag == "O":
        return tag
    prefix, kind = tag.split("-", 1)
    new = NEW_TYPES[kind]
    return f"{prefix}-{new}" if new else "O"


def write(path: Path, chosen: list[list[tuple[str, str]]]) -> None:
    path.write_text(
        "".join("".join(f"{t} {relabel(tag)}\n" for t, tag in s) + "\n" for s in chosen),
        encoding="utf-8",
    )


def run(
    size: int, parent: zoo.ZooModel, pool: list, dev: list, test: list, args: argparse.Namespace
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        write(Path(folder) / "train.txt", pool[:size])
        write(Path(folder) / "dev.txt", dev)
        write(Path(folder) / "test.txt", test)
        spec = zoo.prepare(folder, "conll", columns="tokens ner")
        row: dict[str, Any] = {"sentences": size}
        started = time.perf_counter()
        tuned = zoo.retrain(args.parent, spec, seed=args.seed, verbose=2)
        row["retrain"] = _scores(tuned, time.perf_counter() - started)
        started = time.perf_counter()
        scratch = zoo.train(
            "many-to-many-equal",
            dataset=spec,
            # the parent's recipe as retraining runs it on small data (no weight average)
            hparams={
                **parent.task.card_hyperparameters(parent.card.hyperparameters),
                **SMALL_DATA_OVERRIDES,
            },
            epochs=parent.card.training.epochs,
            patience=parent.card.training.patience,
            seed=args.seed,
            verbose=2,
        )
        row["scratch"] = _scores(scratch, time.perf_counter() - started)
    print(row)
    return row


def _scores(result: Any, seconds: float) -> dict[str, float]:
    return {
        "dev": result.metrics["validation"]["entity_f1"],
        "test": result.metrics["test"]["entity_f1"],
        "epochs": len(result.history["loss"]),
        "seconds": seconds,
    }


def table(rows: list[dict[str, Any]], parent: str) -> str:
    lines = [
        f"| training sentences | `zoo retrain {parent}` (defaults): test F1 (dev), epochs, time "
        "| from scratch, the parent's recipe: test F1 (dev), epochs, time |",
        "|---|---|---|",
    ]
    for row in rows:
        cells = [
            f"**{r['test']:.3f}** ({r['dev']:.3f}), {r['epochs']}, {r['seconds']:.0f} s"
            for r in (row["retrain"], row["scratch"])
        ]
        lines.append(f"| {row['sentences']:,} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000", help="training sentences per run")
    parser.add_argument("--parent", default="ner-conll2003-lstm", help="the model to retrain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA} is missing: this benchmark needs the CoNLL-2003 files.")
    found = sentences(DATA)
    random.Random(args.seed).shuffle(found)
    test, dev, pool = found[:TEST], found[TEST : TEST + DEV], found[TEST + DEV :]
    sizes = [int(n) for n in args.sizes.split(",")]
    if max(sizes) > len(pool):
        raise SystemExit(f"--sizes: at most {len(pool)} training sentences are left.")
    parent = zoo.load(args.parent)  # its recipe, for the runs from scratch
    rows = [run(size, parent, pool, dev, test, args) for size in sizes]
    results = {
        "parent": args.parent,
        "seed": args.seed,
        "types": NEW_TYPES,
        "test_sentences": len(test),
        "dev_sentences": len(dev),
        "rows": rows,
    }
    publish("retrain-small", results, table(rows, args.parent))


if __name__ == "__main__":
    main()
