"""Memory of a long search in one process: does it grow with the number of trials?

Runs a random search of N trials (default 20) on a task's embedded data in this process.
The model's shape is fixed (units, depth, batch size), so every trial needs the same
memory and any growth is a leak; learning rate, dropout and clipnorm are searched.
After each trial the zoo's tuner records the resident and the peak memory in the trial
folder. keras-tuner clears the Keras session before each build, and nothing in the zoo
keeps a reference to an old model. The reference is this process after its first trial:
the table gives memory after trial k as a ratio of it, and the growth per trial over the
second half of the search.

    python benchmarks/tuning_memory.py [--task one-to-one] [--trials 20] [--epochs 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile

from report import publish
from zoo.tuning import records, tune
from zoo.tuning.search import resident_mb

SHAPE = {"units": 128, "layers": 1, "steps": 4, "batch_size": 64, "cell": "lstm"}


def plain_keras(fits: int) -> list[float]:
    """Resident memory after each of `fits` fresh LSTM models fitted in a loop: the leak
    that Keras and TensorFlow have on their own (keras-team/keras#20552)."""
    import keras
    import numpy as np

    x, y = np.random.rand(1797, 4, 64).astype("float32"), np.random.randint(0, 10, 1797)
    resident = []
    for _ in range(fits):
        keras.backend.clear_session()
        gc.collect()
        model = keras.Sequential(
            [
                keras.Input((4, 64)),
                keras.layers.LSTM(SHAPE["units"]),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=SHAPE["batch_size"], epochs=1, verbose=0)
        del model
        gc.collect()
        resident.append(resident_mb())
    return resident


def _growth(resident: list[float]) -> float:
    half = len(resident) // 2
    return (resident[-1] - resident[half - 1]) / max(1, len(resident) - half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="one-to-one")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument(
        "--reference", action="store_true", help="run only the plain-Keras reference; print JSON"
    )
    args = parser.parse_args()
    if args.reference:
        print(json.dumps(plain_keras(args.trials)))
        return
    done = subprocess.run(
        [sys.executable, __file__, "--reference", "--trials", str(args.trials)],
        capture_output=True,
        text=True,
        check=True,
    )
    reference = json.loads(done.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as directory:
        result = tune(
            args.task,
            directory=directory,
            max_trials=args.trials,
            epochs=args.epochs,
            fixed=SHAPE,
            tensorboard=False,
            registry_root=f"{directory}/registry",
            verbose=0,
        )
        trials = sorted(records.load(result.directory)["trials"], key=lambda t: t["trial_id"])
    resident = [t["rss_mb"] for t in trials]
    peaks = [t["peak_rss_mb"] for t in trials]
    growth, reference_growth = _growth(resident), _growth(reference)
    results = {
        "task": args.task,
        "fixed": SHAPE,
        "trials": len(trials),
        "epochs_per_trial": args.epochs,
        "rss_mb_after_trial": resident,
        "peak_rss_mb_after_trial": peaks,
        "growth_mb_per_trial_second_half": round(growth, 2),
        "reference_rss_mb_after_fit": reference,
        "reference_growth_mb_per_fit_second_half": round(reference_growth, 2),
    }
    marks = sorted({1, 5, 10, len(trials)} & set(range(1, len(trials) + 1)))
    table = "\n".join(
        [
            "| after trial | "
            + " | ".join(str(k) for k in marks)
            + " | growth per trial, second half |",
            "|---|" + "---|" * (len(marks) + 1),
            "| resident memory (MB) | "
            + " | ".join(f"{resident[k - 1]:.0f}" for k in marks)
            + f" | {growth:.1f} MB |",
            "| ratio to trial 1 | "
            + " | ".join(f"{resident[k - 1] / resident[0]:.2f}" for k in marks)
            + " | |",
            "| peak memory (MB) | " + " | ".join(f"{peaks[k - 1]:.0f}" for k in marks) + " | |",
            "| reference: plain Keras fits, resident (MB) | "
            + " | ".join(f"{reference[k - 1]:.0f}" for k in marks)
            + f" | {reference_growth:.1f} MB |",
        ]
    )
    publish(
        "tuning-memory",
        results,
        f"{len(trials)} trials of a random search over `{args.task}` in one process:\n\n{table}",
    )


if __name__ == "__main__":
    main()
