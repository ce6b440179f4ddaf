"""Re-measure every model shipped in `saved_models/` and write the README's models table.

For each model: load it (hashes, safe mode, reference check), re-evaluate its headline
metric on the validation and test splits it was trained with (the data is prepared
again from the card's recorded source; without it, the card's numbers are shown and
marked), and time single-input `predict` on this CPU, every cell of a dataset on the same
input (the first reference input of its LSTM's card).
Results go to `benchmarks/results/models.json` and between the README's markers.

    python benchmarks/zoo_models.py [--registry DIR] [--repeats 30] [--only PATTERN]
"""

from __future__ import annotations

import argparse
import fnmatch
import os
from pathlib import Path
from typing import Any

from report import ROOT, latency_ms, publish, read_json
from zoo import registry
from zoo.errors import ZooError


def measure(ref: str, root: Path, repeats: int, probes: dict[str, Any]) -> dict[str, Any]:
    """One model's row. `probes` maps a task and dataset to the input every cell of it is
    timed on (the first model measured of that dataset sets it, from its card's reference
    inputs), so the latency column compares cells on the same input."""
    model = registry.load(ref, root=root)
    card, headline = model.card, model.card.headline_metric
    row: dict[str, Any] = {
        "name": card.name,
        "version": card.version,
        "task": card.task,
        "cell": card.cell,
        # cards record absolute data paths (older ones: relative to the checkout); the table
        # shows them relative to the checkout, the way ANCHORS names them
        "dataset": os.path.relpath(ROOT / card.dataset.source["path"], ROOT)
        if card.dataset.source
        else card.dataset.tfds_name,
        "metric": headline,
        "parameters": card.parameters,
        "bytes": card.files["model.keras"].bytes,
    }
    try:
        spec = model.training_dataset()
        for split in ("validation", "test"):
            if card.dataset.splits.get(split):
                row[split] = model.evaluate(spec, split)[headline]
        row["measured"] = True
    except (ZooError, OSError) as err:  # the training data is not on this machine
        row.update(
            {split: card.headline_value(split) for split in card.metrics},
            measured=False,
            why=str(err).splitlines()[0],
        )
    probe = probes.setdefault(
        f"{row['task']} {row['dataset']}",
        registry.reference_inputs(card, registry.resolve(ref, root=root))[0],
    )
    row["latency_input"] = probe
    row["latency_ms_p50"], _ = latency_ms(lambda: model.predict(probe), repeats)
    return row


#: published recurrent (or, where the field reports none, the usual) results on the same
#: benchmark, with what they used: the zoo trains from scratch, offline. By data, since a
#: task has more than one dataset (many-to-one: MR sentiment and TREC questions)
ANCHORS = {
    "../shared/data/ner": "BiLSTM-CRF + char features, random embeddings: 83.6 test (90.9 with "
    "pretrained vectors), Lample et al. 2016; dev runs 3–4 points above test",
    "../shared/data/translation": "attentional LSTM, no pretraining: 38.4 test 2016, greedy "
    "(Lample, Denoyer & Ranzato 2018)",
    "../shared/data/sentiment": "CNN-rand, no pretrained vectors: 76.1 (10-fold CV; CNN-static with "
    "word2vec 81.0), Kim 2014",
    "../shared/data/questions/train_5500.label": "CNN-rand, no pretrained vectors: 91.2 on the "
    "official 500-question test (CNN-multichannel 93.2), Kim 2014; the zoo's is a stratified 10 % "
    "of the training questions, the official test set unused",
    "../shared/data/captioning": "Show, Attend and Tell, ImageNet-pretrained encoder: BLEU-4 19.5 "
    "soft / 21.3 hard attention (Xu et al. 2015)",
    "zoo_digits": "— (scikit-learn's 8×8 digits, no published recurrent anchor)",
}


def table(rows: list[dict[str, Any]]) -> str:
    def value(row: dict[str, Any] | None, key: str) -> str:
        if row is None or key not in row:
            return "—"
        mark = "" if row.get("measured") else " (card)"
        bleu = row["metric"].startswith("bleu")  # BLEU is in [0, 100], the others in [0, 1]
        return f"{row[key]:.2f}{mark}" if bleu else f"{row[key]:.4f}{mark}"

    cells = [("lstm", "LSTM"), ("gru", "GRU"), ("simple_rnn", "SimpleRNN")]
    lines = [
        "| task | data | metric | "
        + " | ".join(f"{label} val / test" for _, label in cells)
        + " | published anchor (what it used) | size, params: "
        + " / ".join(label for _, label in cells)
        + " | CPU p50 predict "
        + " / ".join(label for _, label in cells)
        + " |",
        "|---|---|---|" + "---|" * len(cells) + "---|---|---|",
    ]
    groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["dataset"]), {})[row["cell"]] = row
    for (task, dataset), by_cell in sorted(groups.items()):
        shipped = [(label, by_cell.get(cell)) for cell, label in cells]
        # the cells' headline metrics differ while one of them is of an older recipe
        # (a captioner chosen on greedy BLEU beside one chosen on beam BLEU): say each
        metrics = {r["metric"] for _, r in shipped if r}
        metric = (
            metrics.pop()
            if len(metrics) == 1
            else ", ".join(f"{label} {r['metric']}" for label, r in shipped if r)
        )
        size = lambda r: f"{r['bytes'] / 1e6:.1f} MB, {r['parameters']:,}" if r else "—"  # noqa: E731
        scores = " | ".join(f"{value(r, 'validation')} / {value(r, 'test')}" for _, r in shipped)
        sizes = " / ".join(size(r) for _, r in shipped)
        latency = " / ".join(f"{r['latency_ms_p50']:.1f} ms" if r else "—" for _, r in shipped)
        lines.append(
            f"| {task} | `{dataset}` | {metric} | {scores} | {ANCHORS.get(dataset, '—')} | "
            f"{sizes} | {latency} |"
        )
    return "\n".join(lines)


def main() -> None:
    os.chdir(ROOT)  # cards record data paths relative to the checkout
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=Path, default=ROOT / "saved_models")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--only",
        metavar="PATTERN",
        help="re-measure only the models matching this wildcard; keep the others' last results",
    )
    args = parser.parse_args()
    previous = {row["name"]: row for row in read_json("models", [])} if args.only else {}
    names = registry.list_models(root=args.registry)
    kept = {
        name: previous[name]
        for name in names
        if name in previous
        and not fnmatch.fnmatch(name, args.only)
        and "latency_input" in previous[name]
    }
    probes = {f"{row['task']} {row['dataset']}": row["latency_input"] for row in kept.values()}
    # the LSTM of each dataset first: its reference input is the one every cell is timed on
    order = sorted(names, key=lambda name: not name.endswith("-lstm"))
    measured = {
        name: kept[name] if name in kept else measure(name, args.registry, args.repeats, probes)
        for name in order
    }
    rows = [measured[name] for name in names]
    publish("models", rows, table(rows))


if __name__ == "__main__":
    main()
