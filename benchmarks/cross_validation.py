"""k-fold cross-validation of a shipped model's recipe on its own training data, the way MR
sentence-polarity results are reported in the literature (Kim 2014, "Convolutional Neural
Networks for Sentence Classification", https://arxiv.org/abs/1408.5882: 10-fold CV).

For each model: every example of the card's training data (all its splits)
is shuffled with `--seed` and cut into `--folds` folds. Fold k is the test set; the rest is
split again, 90/10 with the same seed, into training and the development set that early
stopping watches (as the card's `--patience` did). Each fold trains the card's exact
hyperparameters, epochs, batch size and seed through the zoo's own `csv` format and
`zoo.train`; its test accuracy is one sample. The mean and sample standard deviation go to
`benchmarks/results/cross-validation.json` and the README's cross-validation table.

Usage: `python benchmarks/cross_validation.py [--models sentiment-mr-lstm ...] [--folds 10]`
(about a minute per fold and model on 2 CPU cores; needs `../shared/data`). The table keeps
the last results of the shipped models not named in `--models`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

import zoo
from report import publish, read_json
from zoo import registry
from zoo.constants import ALL_EXAMPLES

#: the shipped MR models, in the table's order
SHIPPED = ["sentiment-mr-lstm", "sentiment-mr-gru", "sentiment-mr-simple-rnn"]
#: published MR results (10-fold CV accuracy, %), with what each used
ANCHORS = (
    "Kim 2014: CNN-rand 76.1 (no pretrained vectors), CNN-static 81.0 (word2vec); "
    "Socher et al. 2011: RAE 77.7; Wang & Manning 2012: NBSVM 79.4"
)


def _examples(model: registry.ZooModel) -> list[tuple[str, str]]:
    """Every (text, label name) of the model's training data, all its splits."""
    raw = model.task.load(model.training_dataset(), ALL_EXAMPLES)
    return [(ex["text"].decode(), ex["label_name"].decode()) for ex in raw.as_numpy_iterator()]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def cross_validate(ref: str, *, folds: int, seed: int, work: Path) -> dict[str, Any]:
    """Test accuracy of each fold for the recipe of one registry model.

    Args:
        ref: the registry reference of a many-to-one model trained on files.
        folds: the number of folds k.
        seed: seed of the shuffle and of the development split.
        work: a folder for the folds' CSV files and their prepared datasets.

    Returns:
        `{"name", "version", "validation", "folds": [accuracy, ...], "mean", "std"}`.
    """
    model = registry.load(ref)
    card = model.card
    examples = _examples(model)
    random.Random(seed).shuffle(examples)
    cut = [len(examples) * k // folds for k in range(folds + 1)]
    accuracies = []
    for k in range(folds):
        test = examples[cut[k] : cut[k + 1]]
        rest = examples[: cut[k]] + examples[cut[k + 1] :]
        dev = len(rest) // 10
        folder = work / card.name / f"fold-{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in (("train", rest[dev:]), ("dev", rest[:dev]), ("test", test)):
            _write(folder / f"{name}.csv", rows)
        spec = zoo.prepare(folder, "csv", licence=card.dataset.licence)
        result = zoo.train(
            card.task,
            dataset=spec,
            hparams=dict(card.hyperparameters),
            epochs=card.training.epochs,
            batch_size=card.training.batch_size,
            patience=card.training.patience,
            seed=card.training.seed,
            verbose=0,
        )
        accuracies.append(result.metrics["test"]["accuracy"])
        print(f"{card.name} fold {k + 1}/{folds}: test accuracy {accuracies[-1]:.4f}", flush=True)
    return {
        "name": card.name,
        "version": card.version,
        "validation": card.headline_value("validation"),
        "folds": accuracies,
        "mean": statistics.mean(accuracies),
        "std": statistics.stdev(accuracies),
    }


def table(rows: list[dict[str, Any]], folds: int) -> str:
    lines = [
        f"| model | seeded validation split | {folds}-fold CV accuracy, mean ± sd | min – max |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['name']}@{r['version']} | {r['validation']:.4f} | {r['mean']:.4f} ± {r['std']:.4f} "
        f"| {min(r['folds']):.4f} – {max(r['folds']):.4f} |"
        for r in rows
    ]
    return "\n".join(lines) + f"\n\nPublished 10-fold results on MR: {ANCHORS}."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=SHIPPED,
        help="the models to cross-validate; the table keeps the last results of the other "
        f"shipped ones (default: {' '.join(SHIPPED)})",
    )
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    kept = read_json("cross-validation", {})
    # earlier results count only when measured the same way
    same = kept.get("seed") == args.seed and all(
        len(row["folds"]) == args.folds for row in kept.get("models", [])
    )
    rows = {row["name"]: row for row in kept.get("models", [])} if same else {}
    with tempfile.TemporaryDirectory(prefix="zoo-cv-") as work:
        # the folds' prepared datasets go with the folder, not into the user's data folder
        os.environ["ZOO_DATA_DIR"] = str(Path(work) / "tfds")
        for ref in args.models:
            row = cross_validate(ref, folds=args.folds, seed=args.seed, work=Path(work))
            rows[row["name"]] = row
    order = [name for name in SHIPPED if name in rows] + [n for n in rows if n not in SHIPPED]
    shown = [rows[name] for name in order]
    publish("cross-validation", {"seed": args.seed, "models": shown}, table(shown, args.folds))


if __name__ == "__main__":
    main()
