"""Where the NER recipe loses on JAX: its training epochs over the same CoNLL-2003 batches,
with characters padded per batch as before (each batch's longest word, rounded up to a
multiple of 8) and with one character width as now (`many_to_many_equal.encode` under JAX),
two models of the shipped recipe trained an epoch each in turn, and the number of distinct
batch shapes (each one a compilation of the training step on JAX).

    KERAS_BACKEND=jax python benchmarks/jax_ner.py [--sentences 3000] [--epochs 3]
    KERAS_BACKEND=tensorflow python benchmarks/jax_ner.py   # the same on TensorFlow

Needs `../shared/data/ner`. Writes `benchmarks/results/jax-ner-<backend>.json`.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import keras
import numpy as np

from report import ROOT, write_json
from zoo import registry
from zoo.tasks.base import get_task, hyperparameters
from zoo.training.fit import load_and_adapt


def per_batch_width(batch: tuple[dict[str, np.ndarray], Any, Any]) -> tuple[Any, ...]:
    """A batch with its `chars` cut to its longest word rounded up to a multiple of 8 (at
    least 8): the shapes the pipeline gave before one character width."""
    inputs, tags, weights = batch
    chars = inputs["chars"]
    used = int((chars != 0).any(axis=(0, 1)).sum())
    return {**inputs, "chars": chars[:, :, : max(8, -(-used // 8) * 8)]}, tags, weights


def shapes(batches: list[tuple[Any, ...]]) -> int:
    """Distinct input shapes among `batches`."""
    return len({tuple((k, v.shape) for k, v in sorted(b[0].items())) for b in batches})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=3000, help="training sentences")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    os.chdir(ROOT)  # cards record data paths relative to the checkout
    shipped = registry.load("ner-conll2003-lstm", root=ROOT / "saved_models")
    task = get_task(shipped.card.task)()
    hp = hyperparameters(shipped.card.hyperparameters)
    train_raw, _ = load_and_adapt(task, shipped.training_dataset(), hp)
    batch_size = shipped.card.training.batch_size
    now = list(
        task.batches(train_raw.take(args.sentences), batch_size, training=True).as_numpy_iterator()
    )
    sides = {"per-batch width (before)": [per_batch_width(b) for b in now], "one width (now)": now}
    models = {}
    for label in sides:
        keras.utils.set_random_seed(0)
        models[label] = task.build_model(hp)
    seconds: dict[str, list[float]] = {label: [] for label in sides}
    for epoch in range(args.epochs):
        order = list(sides) if epoch % 2 == 0 else list(sides)[::-1]
        for label in order:
            started = time.perf_counter()
            for inputs, tags, weights in sides[label]:
                models[label].train_on_batch(inputs, tags, sample_weight=weights)
            seconds[label].append(time.perf_counter() - started)
            print(f"{label}, epoch {epoch + 1}: {seconds[label][-1]:.1f} s", flush=True)
    backend = keras.config.backend()
    results = {
        "backend": backend,
        "sentences": args.sentences,
        "batches": len(now),
        "shapes": {label: shapes(batches) for label, batches in sides.items()},
        "epoch_seconds": seconds,
    }
    write_json(f"jax-ner-{backend}", results)
    print(results)


if __name__ == "__main__":
    main()
