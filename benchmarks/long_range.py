"""Long-range memory, measured: the adding problem at lengths 10 to 500, SimpleRNN against LSTM and GRU.

For each sequence length T (the `zoo_adding/length_T` TFDS builder) and each cell, a
model Input(T, 2) -> recurrent(units) -> Dense(1) is built with the zoo's own layer and
compile settings (`zoo.models.layers`: Adam, clipnorm 1.0) and trained for the same budget of
updates; training stops early once the task is solved. The score is test accuracy: the
share of sums predicted within 0.04 (Hochreiter & Schmidhuber's criterion). The chance
level is the accuracy of always predicting the mean training target.

At T = 100 the script also measures the gradient reaching each time step (`zoo.training.diagnostics`)
at initialisation and after training, for every cell, and times one epoch with and
without `unroll` at short and long lengths.

Writes benchmarks/results/long-range.json, adding.png and gradients-adding.png, and the
README table between the `long-range-table` markers. Finished runs are kept in
benchmarks/results/long-range.partial.json, so an interrupted run continues where it
stopped (`--fresh` starts over); the published `long-range.json` continues the same way
when no partial file is left, so a new cell adds only its own runs.

    python benchmarks/long_range.py [--lengths 10,25,50,100,200,500] [--epochs 20] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

import zoo.data.builders  # noqa: E402, F401  (registers zoo_adding)
from report import ROOT, publish  # noqa: E402
from zoo.constants import CELL_LABELS, CELLS  # noqa: E402
from zoo.data import loading  # noqa: E402
from zoo.data.builders.zoo_adding.zoo_adding import LENGTHS, TOLERANCE  # noqa: E402
from zoo.models.layers import compile_model, output_layer, recurrent  # noqa: E402
from zoo.tasks.base import hyperparameters  # noqa: E402
from zoo.training import diagnostics

RESULTS = ROOT / "benchmarks" / "results"
PARTIAL = RESULTS / "long-range.partial.json"
PROFILE_LENGTH = 100
SOLVED = 0.99  # test-free stopping rule: validation accuracy at which a run counts as solved


# registered: the gradient probe clones the compiled model, metrics included
@keras.saving.register_keras_serializable(package="long_range")
def within_tolerance(y_true: Any, y_pred: Any) -> Any:
    """Share of predictions within TOLERANCE of the true sum."""
    error = keras.ops.abs(keras.ops.reshape(y_true, (-1,)) - keras.ops.reshape(y_pred, (-1,)))
    return keras.ops.mean(keras.ops.cast(error < TOLERANCE, "float32"))


def splits(length: int, batch_size: int) -> dict[str, tf.data.Dataset]:
    name = f"zoo_adding/length_{length}"
    loaded = {
        s: tfds.load(name, split=s, data_dir=loading.data_dir(), as_supervised=True)
        for s in ("train", "validation", "test")
    }
    return {
        s: (ds.cache().shuffle(10_000, seed=0) if s == "train" else ds.cache())
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
        for s, ds in loaded.items()
    }


def build(length: int, cell: str, units: int, *, unroll: bool = False) -> keras.Model:
    hp = hyperparameters({"cell": cell, "unroll": unroll})
    sequence = keras.Input(shape=(length, 2), name="sequence")
    total = output_layer(1, "linear", name="sum")(recurrent(hp, units, name="rnn")(sequence))
    model = keras.Model(sequence, total, name=f"adding_{cell}")
    return compile_model(model, hp, loss="mse", metrics=[within_tolerance], learning_rate=1e-3)


class StopWhenSolved(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (logs or {}).get("val_within_tolerance", 0.0) >= SOLVED:
            self.model.stop_training = True


def chance(length: int) -> dict[str, float]:
    """Always predicting the mean training sum: the score of a model that remembers nothing."""
    data_ = splits(length, 1000)
    mean = float(np.mean(np.concatenate([y for _, y in data_["train"].as_numpy_iterator()])))
    targets = np.concatenate([y for _, y in data_["test"].as_numpy_iterator()])
    return {
        "accuracy": float(np.mean(np.abs(targets - mean) < TOLERANCE)),
        "mse": float(np.mean((targets - mean) ** 2)),
    }


def run(
    length: int, cell: str, args: argparse.Namespace, profiles: list | None = None
) -> dict[str, Any]:
    keras.utils.set_random_seed(args.seed)
    data_ = splits(length, args.batch_size)
    model = build(length, cell, args.units)
    label = CELL_LABELS[cell]
    if profiles is not None:
        profiles.append(
            diagnostics.gradient_profile(
                model, data_["validation"], label=f"{label}, T={length}, initial weights"
            )
        )
    started = time.perf_counter()
    history = model.fit(
        data_["train"],
        validation_data=data_["validation"],
        epochs=args.epochs,
        callbacks=[StopWhenSolved()],
        verbose=2,
    ).history
    seconds = time.perf_counter() - started
    if profiles is not None:
        profiles.append(
            diagnostics.gradient_profile(
                model, data_["validation"], label=f"{label}, T={length}, trained"
            )
        )
    loss, accuracy = model.evaluate(data_["test"], verbose=0)
    epochs = len(history["loss"])
    return {
        "length": length,
        "cell": cell,
        "units": args.units,
        "accuracy": float(accuracy),
        "mse": float(loss),
        "epochs": epochs,
        "updates": epochs * int(data_["train"].cardinality()),
        "seconds": seconds,
        "seconds_per_epoch": seconds / epochs,
        "curve": history["val_within_tolerance"],
    }


def unroll_timing(length: int, cell: str, args: argparse.Namespace) -> dict[str, Any]:
    """Seconds for one epoch with `unroll` off and on (after a warm-up epoch each)."""
    train = splits(length, args.batch_size)["train"]
    timings = {}
    for unroll in (False, True):
        keras.utils.set_random_seed(args.seed)
        model = build(length, cell, args.units, unroll=unroll)
        model.fit(train.take(5), verbose=0)  # trace and compile
        started = time.perf_counter()
        model.fit(train, verbose=0)
        timings["unrolled" if unroll else "loop"] = time.perf_counter() - started
    return {
        "length": length,
        "cell": cell,
        **timings,
        "speedup": timings["loop"] / timings["unrolled"],
    }


def plot_accuracy(
    rows: list[dict[str, Any]], chances: dict[int, dict[str, float]], path: Path
) -> None:
    """Accuracy and mean squared error against length, every cell and the chance level."""
    from zoo.registry.cards import plt

    lengths = sorted(chances)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in (
        (axes[0], "accuracy", f"test accuracy (|error| < {TOLERANCE})"),
        (axes[1], "mse", "test MSE (log)"),
    ):
        for cell, style in zip(CELLS, ("o--", "s-", "^-."), strict=True):
            mine = sorted((r for r in rows if r["cell"] == cell), key=lambda r: r["length"])
            ax.plot(
                [r["length"] for r in mine],
                [r[key] for r in mine],
                style,
                label=CELL_LABELS[cell],
            )
        ax.plot(
            lengths,
            [chances[t][key] for t in lengths],
            ":",
            color="grey",
            label="chance (predict the mean)",
        )
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Adding problem: remembering a value across T steps", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(
    rows: list[dict[str, Any]],
    chances: dict[int, dict[str, float]],
    profiles: list[dict[str, Any]],
    unrolls: list[dict[str, Any]],
) -> str:
    by_key = {(r["length"], r["cell"]): r for r in rows}
    labels = [CELL_LABELS[cell] for cell in CELLS]
    gated = [cell for cell in CELLS if cell != "simple_rnn"]
    lines = [
        "| T | chance: accuracy, MSE | "
        + " | ".join(f"{label}: accuracy, MSE" for label in labels)
        + f" | updates {' / '.join(labels)} | time per epoch against SimpleRNN: "
        + " / ".join(CELL_LABELS[cell] for cell in gated)
        + " |",
        "|---|---|" + "---|" * len(CELLS) + "---|---|",
    ]
    for t in sorted(chances):
        runs = {cell: by_key.get((t, cell)) for cell in CELLS}
        if not all(runs.values()):
            continue
        scores = " | ".join(f"{r['accuracy']:.3f}, {r['mse']:.4f}" for r in runs.values())
        updates = " / ".join(str(r["updates"]) for r in runs.values())
        simple = runs["simple_rnn"]["seconds_per_epoch"]
        times = " / ".join(f"{runs[cell]['seconds_per_epoch'] / simple:.2f}" for cell in gated)
        lines.append(
            f"| {t} | {chances[t]['accuracy']:.3f}, {chances[t]['mse']:.3f} | {scores} | {updates} | {times} |"
        )
    lines += [
        "",
        "| gradient at T=100 | factor per step back | share reaching step 1 | recommended clipnorm |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {p['label']} | {p['rate_per_step']:.3f} | {p['first_over_last']:.2e} | {p['recommended_clipnorm']:g} |"
        for p in profiles
    ]
    lines += ["", "| unroll, one epoch | loop (s) | unrolled (s) | speed-up |", "|---|---|---|---|"]
    lines += [
        f"| {u['cell']}, T={u['length']} | {u['loop']:.1f} | {u['unrolled']:.1f} | {u['speedup']:.2f}x |"
        for u in unrolls
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lengths",
        default=",".join(map(str, LENGTHS)),
        help="comma-separated sequence lengths (default: all configs)",
    )
    parser.add_argument(
        "--epochs", type=int, default=20, help="most epochs per run (157 updates each; default: 20)"
    )
    parser.add_argument("--units", type=int, default=64, help="recurrent units (default: 64)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--unroll-lengths",
        default="10,100",
        help="lengths at which to time unroll (default: 10,100)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="ignore the finished runs kept from an interrupted run"
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    published = RESULTS / "long-range.json"
    kept = PARTIAL if PARTIAL.exists() else published
    done = {} if args.fresh or not kept.exists() else json.loads(kept.read_text())
    done.pop("chance", None)
    settings = {
        "epochs": args.epochs,
        "units": args.units,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    if done.get("settings") != settings:
        done = {"settings": settings, "runs": {}, "profiles": {}, "unroll": []}

    lengths = [int(t) for t in args.lengths.split(",")]
    chances = {t: chance(t) for t in lengths}
    for t in lengths:
        for cell in CELLS:
            key = f"{t}/{cell}"
            if key in done["runs"]:
                continue
            print(f"\n== adding problem, T={t}, {cell}")
            profiles: list[diagnostics.GradientProfile] | None = [] if t == PROFILE_LENGTH else None
            done["runs"][key] = run(t, cell, args, profiles)
            if profiles:
                done["profiles"][cell] = [p.as_json() for p in profiles]
            PARTIAL.write_text(json.dumps(done, indent=2))
    timed = {(u["length"], u["cell"]) for u in done["unroll"]}
    for t in map(int, args.unroll_lengths.split(",")):
        for cell in CELLS:
            if (t, cell) not in timed:
                done["unroll"].append(unroll_timing(t, cell, args))
                PARTIAL.write_text(json.dumps(done, indent=2))
    done["unroll"].sort(key=lambda u: (u["length"], CELLS.index(u["cell"])))

    rows = [done["runs"][f"{t}/{cell}"] for t in lengths for cell in CELLS]
    plot_accuracy(rows, chances, RESULTS / "adding.png")
    # initial weights side by side, then trained side by side
    profiles = [
        done["profiles"][cell][stage]
        for stage in (0, 1)
        for cell in CELLS
        if cell in done["profiles"]
    ]
    if profiles:
        diagnostics.plot(
            [diagnostics.GradientProfile.from_json(p) for p in profiles],
            RESULTS / "gradients-adding.png",
            title=f"Adding problem, T={PROFILE_LENGTH}: gradient of the loss reaching each step",
        )
    results = {**done, "chance": {str(t): c for t, c in chances.items()}}
    publish("long-range", results, table(rows, chances, profiles, done["unroll"]))


if __name__ == "__main__":
    main()
