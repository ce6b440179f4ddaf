"""Performance, measured side by side in one run on both Keras backends (TensorFlow and JAX):
training throughput against the TensorFlow tutorial pipeline, training speed of every task,
inference latency and throughput, cost as sequences grow, and which LSTM kernel runs (GPU
readiness).

Keras reads its backend once per process, so every part runs in one fresh process per
backend (`--backend both`, the default) and the parent writes one table with the backends
side by side; `--backend tensorflow|jax` measures one.

- `throughput`: many-to-one and many-to-many-equal, the zoo's pipeline and model against a
  reference implementation of the tutorial "Text classification with an RNN"
  (`TextVectorization` in the model, batches padded to their longest, no bucketing, no
  cache, Bidirectional LSTM), same data, embedding 64 and LSTM 64 on both sides, Adam 1e-3
  on both (the tutorial's 1e-4 changes the time to a score, not the speed). Training
  examples and tokens per second, the best validation score, and the time to reach 98 %
  of the reference's best. The real data (`../shared/data`) is used when present,
  otherwise the embedded datasets.
- `training`: every task with every cell on its embedded data, the zoo's default model:
  training examples per second, the best validation headline metric, and the time to reach
  98 % of the lower of the two backends' best.
- `inference`: every shipped model, engine by engine: the zoo's traced `predict`, Keras
  `model.predict` on the same already-prepared input, and (TensorFlow process, text
  classifiers and taggers) the exported SavedModel's signature and ONNX Runtime through
  `zoo_runtime`: the first call (tracing, compiling) apart, p50 and p99 of one input after
  warm-up calls, warm batch throughput; for the decoders, greedy and beam-search time per
  output token.
- `files`: `zoo predict --input` on real files (100,000 MR and CoNLL-2003 lines, 10,000
  Multi30k lines): lines/s and peak memory of the whole command, start-up apart.
- `scaling`: one epoch of Embedding -> SimpleRNN|LSTM(64) -> Dense at lengths 50 ... 800,
  time and peak memory (each in a fresh process), and the FLOP/s of the LSTM training step
  (whole step, and the recurrent layer alone on random vectors) as a share of this
  machine's float32 matmul peak measured on the same backend.
- `kernels`: one training step of every task's LSTM and GRU model, reporting the kernel that ran
  (cuDNN or generic) and whether the settings are cuDNN-eligible; `--mixed-precision`
  builds the models under `mixed_float16` and checks that the outputs stay float32.

    python benchmarks/performance.py [throughput] [training] [inference] [files] [scaling] [kernels]
        [--backend both|tensorflow|jax] [--epochs 5] [--mixed-precision] [--file-scale 1]
        [--only PATTERN] [--cells simple_rnn,lstm,gru]

`--only` re-measures the matching models in `inference` and `files`, `--cells` the given
cells in `training`, and both keep the other rows of the last run (after retraining one
model or adding a cell, for example).

Results go to benchmarks/results/perf-*.json and the README's `perf-*-table` markers.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fnmatch
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from seqeval.metrics import f1_score  # noqa: E402

from report import ROOT, kept_rows, latency_ms, publish  # noqa: E402
from zoo import registry  # noqa: E402
from zoo.constants import CELLS  # noqa: E402
from zoo.data.pipeline import rounded_shapes  # noqa: E402
from zoo.errors import ZooError  # noqa: E402
from zoo.tasks.base import Task, get_task, hyperparameters  # noqa: E402
from zoo.training.fit import load_and_adapt  # noqa: E402

BACKENDS = ("tensorflow", "jax")
BATCH, WIDTH = 64, 64
SHIPPED = {"many-to-one": "sentiment-mr-lstm", "many-to-many-equal": "ner-conll2003-lstm"}
ZOO_HP = {
    "many-to-one": {
        "cell": "lstm",
        "embedding_dim": WIDTH,
        "units": WIDTH,
        "bidirectional": True,
        "pooling": "last",
    },
    "many-to-many-equal": {
        "cell": "lstm",
        "embedding_dim": WIDTH,
        "units": WIDTH,
        "bidirectional": True,
    },
}


# --- training throughput ----------------------------------------------------------------


class EpochClock(keras.callbacks.Callback):
    """Training seconds per epoch, validation excluded, and the validation score after it."""

    def __init__(self, score):
        super().__init__()
        self.score, self.seconds, self.scores = score, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_test_begin(self, logs=None):
        if len(self.seconds) == len(self.scores):  # the first validation of this epoch
            self.seconds.append(time.perf_counter() - self.started)

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(float(self.score(self.model, logs or {})))


def _data(task: Task, choice: str) -> tuple[Any, str]:
    """The shipped model's real training data when it is on this machine, else embedded."""
    with contextlib.suppress(ZooError, OSError):
        if choice == "embedded":
            raise ZooError("embedded data asked for")
        return registry.load(SHIPPED[task.name]).training_dataset(), "real"
    return "embedded", "embedded"


def _tokens_per_example(task: Task, raw: tf.data.Dataset) -> float:
    lengths = [int(task.length_fn(*example)) for example in task.encode(raw, training=False)]
    return float(np.mean(lengths))


def _in_model() -> bool:
    """Whether the reference keeps its string preprocessing inside the model, as the
    tutorial does: on TensorFlow. Other backends cannot run string ops in a model, so there
    the same layer runs in `tf.data` (Keras's guidance for preprocessing layers)."""
    return keras.config.backend() == "tensorflow"


def _word_tagger(task: Task, lookup: keras.layers.StringLookup | None) -> keras.Model:
    """The tutorial's recipe applied per token: lookup -> Embedding -> BiLSTM -> softmax. With
    `lookup` (the reference side, adapted on the training tokens), the model starts with it
    where `_in_model()`, else reads its ids; without, the model reads the zoo pipeline's
    word ids (the zoo side)."""
    if lookup is not None:
        size = lookup.vocabulary_size()
        front = (
            [keras.Input(shape=(None,), dtype="string"), lookup]
            if _in_model()
            else [keras.Input(shape=(None,), dtype="int64")]
        )
    else:
        front = [keras.Input(shape=(None,), dtype="int32")]
        size = len(task.preprocessing.vocabulary) + 2  # with the padding and [UNK] ids
    model = keras.Sequential(
        [
            *front,
            keras.layers.Embedding(size, WIDTH, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.LSTM(WIDTH, return_sequences=True)),
            keras.layers.Dense(len(task.preprocessing.tags), activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _entity_f1(task: Task, batches: tf.data.Dataset):
    """Validation entity F1 of a word-only tagger over `(tokens, tags, weights)` batches."""
    tags = task.preprocessing.tags

    def score(model, logs):
        truth, predicted = [], []
        for tokens, gold, weights in batches:
            lengths = np.asarray(weights).sum(axis=1).astype(int)
            ids = keras.ops.argmax(model(tokens, training=False), axis=-1)  # a softmax head
            predicted += task._tags(keras.ops.convert_to_numpy(ids), lengths)
            truth += [
                [tags[i] for i in row[:n]] for row, n in zip(np.asarray(gold), lengths, strict=True)
            ]
        return f1_score(truth, predicted)

    return score


def reference_side(
    task: Task, train_raw: tf.data.Dataset, val_raw: tf.data.Dataset
) -> tuple[keras.Model, Any, Any, Any]:
    """The tutorial's pipeline and model: (model, training batches, validation batches, score)."""
    if task.name == "many-to-one":
        encoder = keras.layers.TextVectorization(max_tokens=20000)
        encoder.adapt(train_raw.map(lambda ex: ex["text"]).batch(1024))
        front = (
            [keras.Input(shape=(), dtype="string"), encoder]
            if _in_model()
            else [keras.Input(shape=(None,), dtype="int64")]
        )
        model = keras.Sequential(
            [
                *front,
                keras.layers.Embedding(encoder.vocabulary_size(), WIDTH, mask_zero=True),
                keras.layers.Bidirectional(keras.layers.LSTM(WIDTH)),
                keras.layers.Dense(WIDTH, activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
        )

        def batches(raw, training):
            ds = raw.map(lambda ex: (ex["text"], ex["label"]))
            ds = (ds.shuffle(10000, seed=0) if training else ds).batch(BATCH)
            if not _in_model():
                # rounded as the zoo's batches are on JAX (unchanged on TensorFlow): padded only to
                # their longest, every new length compiled JAX's step anew until it ran out of memory
                ds = rounded_shapes(ds.map(lambda text, label: (encoder(text), label)))
            return ds.prefetch(tf.data.AUTOTUNE)

        return (
            model,
            batches(train_raw, True),
            batches(val_raw, False),
            lambda model, logs: logs["val_accuracy"],
        )

    lookup = keras.layers.StringLookup(mask_token="")
    lookup.adapt(train_raw.map(lambda ex: ex["tokens"]).unbatch().batch(4096))

    def tagged(raw, training):  # padded to the longest in the batch; padding weighs nothing
        ds = raw.map(lambda ex: (ex["tokens"], ex["ner"], tf.ones(tf.shape(ex["ner"]))))
        ds = ds.shuffle(10000, seed=0) if training else ds
        ds = ds.padded_batch(BATCH, padding_values=("", np.int64(0), 0.0))
        if not _in_model():
            ds = rounded_shapes(
                ds.map(lambda tokens, tags, weights: (lookup(tokens), tags, weights))
            )
        return ds.prefetch(tf.data.AUTOTUNE)

    val = tagged(val_raw, False)
    return _word_tagger(task, lookup), tagged(train_raw, True), val, _entity_f1(task, val)


def zoo_side(
    task: Task,
    train_raw: tf.data.Dataset,
    val_raw: tf.data.Dataset,
    *,
    own_model: bool,
    batch: int = BATCH,
) -> tuple[keras.Model, Any, Any, Any]:
    """The zoo's pipeline (cached encoding, length buckets) with the zoo's model, or, for
    tagging, with the reference's word-only model, which isolates what the pipeline gives."""
    train, val = (
        task.batches(train_raw, batch, training=True),
        task.batches(val_raw, batch, training=False),
    )
    if own_model or task.name == "many-to-one":
        model = task.build_model(hyperparameters(ZOO_HP[task.name]))
        headline = task.headline_metric
        return (
            model,
            train,
            val,
            lambda m, logs: task.evaluate(m, val_raw, batch_size=batch, quick=True)[headline],
        )
    words = lambda x, y, w: (x["words"], y, w)  # noqa: E731
    val = val.map(words)
    return _word_tagger(task, None), train.map(words), val, _entity_f1(task, val)


TASKS = ("one-to-one", "one-to-many", "many-to-one", "many-to-many-equal", "many-to-many-unequal")

#: per task: the zoo variants measured against the reference (label, own model?, batch size,
#: preprocessing options fitted for that variant alone)
VARIANTS = {
    "many-to-one": [
        ("zoo pipeline and model, same size, batch 64", True, 64, {}),
        ("the same at batch 128 (`--batch-size 128`)", True, 128, {}),
    ],
    "many-to-many-equal": [
        # the reference's StringLookup keeps case: so do these word ids (`lowercase=false`);
        # lowercased, the same model lost 4.5 points of F1 (0.7351 against 0.7797)
        (
            "zoo pipeline, the reference's word-only model, cased words",
            False,
            64,
            {"lowercase": False},
        ),
        ("zoo pipeline and model (+ characters and casing)", True, 64, {}),
    ],
}


def _interleaved(sides: dict[str, tuple], epochs: int, examples: int) -> dict[str, dict[str, Any]]:
    """Train every side one epoch at a time, in turn, so that all see the same machine
    conditions (epoch times here drift by tens of percent within minutes)."""
    clocks = {label: EpochClock(score) for label, (_, _, _, score) in sides.items()}
    for epoch in range(epochs):
        for label, (model, train, val, _) in sides.items():
            print(f"-- {label}: epoch {epoch + 1}/{epochs}")
            model.fit(
                train,
                validation_data=val,
                initial_epoch=epoch,
                epochs=epoch + 1,
                callbacks=[clocks[label]],
                verbose=2,
            )
    runs = {}
    for label, clock in clocks.items():
        steady = clock.seconds[1:] or clock.seconds  # the first epoch also traces and fills caches
        runs[label] = {
            "examples_per_s": examples / statistics.median(steady),
            "scores": clock.scores,
            "elapsed": np.cumsum(clock.seconds).tolist(),
            "best": max(clock.scores),
        }
    return runs


def _seconds_to(run: dict[str, Any], target: float) -> float | None:
    return next(
        (t for t, s in zip(run["elapsed"], run["scores"], strict=True) if s >= target), None
    )


def throughput(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The zoo's variants against the reference, trained in turn on this process's backend."""
    rows = []
    for name, variants in VARIANTS.items():
        task = get_task(name)()
        dataset, kind = _data(task, args.data)
        spec = task.dataset(dataset)
        train_raw, val_raw = load_and_adapt(task, spec)
        examples = sum(1 for _ in train_raw)
        tokens = _tokens_per_example(task, train_raw)
        sides = {}
        keras.utils.set_random_seed(0)
        sides["reference"] = reference_side(task, train_raw, val_raw)
        for label, own, batch, options in variants:
            fitted = task
            if options:  # this variant's own preprocessing, fitted on the same split
                fitted = get_task(name)()
                fitted.adapt(train_raw, spec, hyperparameters(options))
            keras.utils.set_random_seed(0)
            sides[label] = zoo_side(fitted, train_raw, val_raw, own_model=own, batch=batch)
        print(f"\n== {name}, {kind} data: {', '.join(sides)}")
        runs = _interleaved(sides, args.epochs, examples)
        reference = runs.pop("reference")
        target = 0.98 * reference["best"]
        for label, zoo in runs.items():
            rows.append(
                {
                    "task": name,
                    "variant": label,
                    "data": kind,
                    "dataset": spec.tfds_name,
                    "examples": examples,
                    "tokens_per_example": tokens,
                    "target": target,
                    "reference": reference,
                    "zoo": zoo,
                    "ratio": zoo["examples_per_s"] / reference["examples_per_s"],
                    "reference_seconds_to_target": _seconds_to(reference, target),
                    "zoo_seconds_to_target": _seconds_to(zoo, target),
                }
            )
    return rows


def throughput_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    # the tutorial is TensorFlow's: every row is also compared with the TensorFlow reference
    tf_reference = {
        r["task"]: r["reference"]["examples_per_s"] for r in rows if r["backend"] == "tensorflow"
    }
    lines = [
        "| task (data, tokens/example) | zoo side | backend | reference examples/s | zoo examples/s | ratio "
        "| ratio to the TensorFlow reference | best validation: reference / zoo "
        "| time to 98 % of the reference's best: reference / zoo |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["task"], r["variant"], r["backend"])):
        to_target = " / ".join(
            f"{r[f'{s}_seconds_to_target']:.0f} s"
            if r[f"{s}_seconds_to_target"] is not None
            else "not reached"
            for s in ("reference", "zoo")
        )
        to_tf = (
            f"{r['zoo']['examples_per_s'] / tf_reference[r['task']]:.2f}x"
            if r["task"] in tf_reference
            else "—"
        )
        lines.append(
            f"| {r['task']} ({r['data']}, {r['tokens_per_example']:.0f}) | {r['variant']} | {r['backend']} "
            f"| {r['reference']['examples_per_s']:,.0f} | {r['zoo']['examples_per_s']:,.0f} | {r['ratio']:.2f}x | {to_tf} "
            f"| {r['reference']['best']:.4f} / {r['zoo']['best']:.4f} | {to_target} |"
        )
    lines.append(
        f"\n{args.epochs} epochs each; embedding and LSTM {WIDTH}; the reference at batch {BATCH} with Adam 1e-3, the zoo "
        "with its own learning rate (3e-3 for many-to-one); examples/s is the median over epochs 2 onwards (the first "
        "also traces and fills the zoo's cache), validation excluded; within a backend the sides train an epoch each in "
        "turn; `ratio` is against the reference on the same backend (on JAX its `TextVectorization`/`StringLookup` runs "
        "in `tf.data`: JAX models cannot hold string ops; and its batch lengths are rounded up to a multiple of 8, as the "
        "zoo's are on JAX, since padded only to their longest they made JAX compile a step per length until it ran out "
        "of memory), the next column against the tutorial as written, on "
        "TensorFlow, measured in the other process."
    )
    return "\n".join(lines)


# --- training speed of every task, both cells -------------------------------------------


def training(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every task and cell, the zoo's default model on the embedded data, on this backend."""
    rows = []
    for name in TASKS:
        # the data is loaded, adapted and counted once per task; every cell trains on it
        task = get_task(name)()
        train_raw, val_raw = load_and_adapt(task, task.dataset("embedded"))
        examples = sum(1 for _ in train_raw)
        batch = task.default_batch_size
        for cell in args.cells:
            keras.utils.set_random_seed(0)
            side = (
                task.build_model(hyperparameters({"cell": cell})),
                task.batches(train_raw, batch, training=True),
                task.batches(val_raw, batch, training=False),
                lambda m, logs, t=task, v=val_raw, b=batch: t.evaluate(
                    m, v, batch_size=b, quick=True
                )[t.headline_metric],
            )
            print(f"\n== {name} {cell}")
            run = _interleaved({cell: side}, args.epochs, examples)[cell]
            rows.append({"task": name, "cell": cell, "metric": task.headline_metric, **run})
    return rows


def training_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    by = {(r["task"], r["cell"], r["backend"]): r for r in rows}
    lines = [
        "| task | cell | examples/s TensorFlow / JAX | JAX ÷ TensorFlow | best validation (metric) TensorFlow / JAX "
        "| time to 98 % of the lower best: TensorFlow / JAX |",
        "|---|---|---|---|---|---|",
    ]
    for name in TASKS:
        for cell in CELLS:
            pair = [by.get((name, cell, b)) for b in BACKENDS]
            if None in pair:
                continue
            target = 0.98 * min(r["best"] for r in pair)
            to_target = " / ".join(
                f"{t:.0f} s" if (t := _seconds_to(r, target)) is not None else "not reached"
                for r in pair
            )
            lines.append(
                f"| {name} | {cell} | {pair[0]['examples_per_s']:,.0f} / {pair[1]['examples_per_s']:,.0f} "
                f"| {pair[1]['examples_per_s'] / pair[0]['examples_per_s']:.2f}x "
                f"| {pair[0]['best']:.4f} / {pair[1]['best']:.4f} ({pair[0]['metric']}) | {to_target} |"
            )
    lines.append(
        f"\nThe zoo's default model of each task and cell on its embedded dataset, {args.epochs} epochs at the task's "
        "default batch size, seed 0; examples/s is the median over epochs 2 onwards (the first also compiles: "
        "once per input shape on JAX), validation excluded; each backend in its own process, one after the other. "
        + _cells_by_date(rows)
    )
    return "\n".join(lines)


def _cells_by_date(rows: list[dict[str, Any]]) -> str:
    """When each cell's rows were measured, if not all on one day (`--cells` keeps rows):
    the shared cores' load differs between runs, so speeds compare within one day only."""
    days: dict[str, list[str]] = {}
    for r in rows:
        if r["cell"] not in days.setdefault(r["date"], []):
            days[r["date"]].append(r["cell"])
    if len(days) == 1:
        return f"Measured {next(iter(days))}."
    measured = "; ".join(f"{', '.join(cells)} on {day}" for day, cells in sorted(days.items()))
    return f"Measured {measured}, under other loads of the shared cores: compare speeds within one day."


# --- inference ---------------------------------------------------------------------------


#: inputs per call of the warm batch throughput, for every engine
ENGINE_BATCH = 64
#: warm-up: single calls before the timed ones; batches before the timed ones
WARMUP_CALLS, WARMUP_BATCHES, TIMED_BATCHES = 3, 1, 5


def engine_speed(single: Any, batch: Any, batch_size: int, repeats: int) -> dict[str, float | int]:
    """One engine's speed, compilation apart from the warm figures.

    Args:
        single: calls the engine on one input.
        batch: calls it on `batch_size` inputs.
        batch_size: inputs per `batch()` call.
        repeats: timed single calls.

    Returns:
        `first_ms` (the first single call: tracing or compilation included), `p50_ms` and
        `p99_ms` of single calls after `WARMUP_CALLS` untimed ones, `batch_first_ms` (the
        first batch: a new shape compiles), and `batch_per_s` over `TIMED_BATCHES` batches
        after `WARMUP_BATCHES` untimed ones.
    """
    first = _timed(single) * 1000
    p50, p99 = latency_ms(single, repeats, warmup=WARMUP_CALLS)
    batch_first = _timed(batch) * 1000
    for _ in range(WARMUP_BATCHES - 1):
        batch()
    seconds = sum(_timed(batch) for _ in range(TIMED_BATCHES))
    return {
        "first_ms": first,
        "p50_ms": p50,
        "p99_ms": p99,
        "batch_first_ms": batch_first,
        "batch_size": batch_size,
        "batch_per_s": batch_size * TIMED_BATCHES / seconds,
    }


def _exported_engines(loaded: Any, inputs: list[Any]) -> dict[str, tuple[Any, Any]]:
    """On TensorFlow, for text classifiers and taggers: the exported SavedModel's serving
    signature (raw strings in, labels or tags out) and ONNX Runtime through `zoo_runtime`
    (raw inputs in, readable results out), as (single call, batch call) pairs."""
    if keras.config.backend() != "tensorflow" or loaded.task.name not in (
        "many-to-one",
        "many-to-many-equal",
    ):
        return {}
    import zoo_runtime
    from zoo.registry.export import export

    scratch = Path(tempfile.mkdtemp(prefix="zoo-engines-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # the engines live until then
    export(loaded, scratch / "savedmodel", format="savedmodel")
    export(loaded, scratch / "onnx", format="onnx")
    signature = tf.saved_model.load(str(scratch / "savedmodel" / "savedmodel")).signatures[
        "serving_default"
    ]

    def serve(batch: list[Any]) -> Any:
        if loaded.task.name == "many-to-one":
            return signature(text=tf.constant(batch))
        longest = max(len(s) for s in batch)
        return signature(tokens=tf.constant([s + [""] * (longest - len(s)) for s in batch]))

    runtime = zoo_runtime.load(scratch / "onnx")
    return {
        "SavedModel signature": (lambda: serve(inputs[:1]), lambda: serve(inputs)),
        "ONNX Runtime (zoo_runtime)": (
            lambda: runtime.predict(inputs[0]),
            lambda: runtime.predict_batch(inputs),
        ),
    }


def inference(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every shipped model on this process's backend, engine by engine: the zoo's traced
    `predict`, Keras `model.predict` on the same prepared input, and on TensorFlow the
    exported SavedModel and ONNX Runtime; for the decoders, greedy and beam-search time per
    output token."""
    rows = []
    for name in registry.list_models(root=ROOT / "saved_models"):
        if not fnmatch.fnmatch(name, args.only):
            continue
        loaded = registry.load(name, root=ROOT / "saved_models")
        task, model = loaded.task, loaded.model
        references = registry.reference_inputs(
            loaded.card, registry.resolve(name, root=ROOT / "saved_models")
        )
        raw = references[0]
        batch = (references * ENGINE_BATCH)[:ENGINE_BATCH]
        base = {"name": name, "task": task.name, "cell": loaded.card.cell}
        engines: dict[str, tuple[Any, Any]] = {
            "zoo predict (traced)": (
                lambda m=loaded, r=raw: m.predict(r),
                lambda m=loaded, b=batch: m.predict_batch(b),
            )
        }
        prepared = _prepared(task, [raw])
        if prepared is not None:
            prepared_batch = _prepared(task, batch)
            engines["Keras model.predict"] = (
                lambda m=model, x=prepared: m.predict(x, verbose=0),
                lambda m=model, x=prepared_batch: m.predict(x, batch_size=ENGINE_BATCH, verbose=0),
            )
            engines.update(_exported_engines(loaded, batch))
        for engine, (single, many) in engines.items():
            rows.append(
                {**base, "engine": engine, **engine_speed(single, many, ENGINE_BATCH, args.repeats)}
            )
        if prepared is None:  # decoders: time per generated token, greedy and beam search
            for label, width in (("greedy", 1), ("beam", 4)):
                output = task.predict(model, [raw], beam_width=width)[0]
                words = len(next(iter(output.values())).split()) + 1  # + the end token
                p50, _ = latency_ms(
                    lambda t=task, m=model, r=raw, w=width: t.predict(m, [r], beam_width=w),
                    max(5, args.repeats // 3),
                )
                rows[-1][f"{label}_ms_per_token"] = p50 / words
    return rows


def inference_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"| model | engine | backend | first call (trace / compile) | one input p50 / p99, after {WARMUP_CALLS} warm-up calls "
        f"| warm batches of {ENGINE_BATCH}: inputs/s (first batch, compiling) | greedy / beam ms per token |",
        "|---|---|---|---|---|---|---|",
    ]
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    for r in sorted(
        rows, key=lambda r: (r["name"], engines.index(r["engine"]), BACKENDS.index(r["backend"]))
    ):
        tokens = (
            f"{r['greedy_ms_per_token']:.1f} / {r['beam_ms_per_token']:.1f}"
            if "greedy_ms_per_token" in r
            else "—"
        )
        lines.append(
            f"| {r['name']} | {r['engine']} | {r['backend']} | {r['first_ms']:,.0f} ms | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms "
            f"| {r['batch_per_s']:,.0f} ({r['batch_first_ms']:,.0f} ms) | {tokens} |"
        )
    lines.append(
        f"\n{_dates(rows)}, Keras {keras.__version__}, TensorFlow {tf.__version__}, "
        f"{_jax_version()}, {os.cpu_count()} CPU cores shared with other jobs; each backend in its own process. "
        f"Warm batches: the model's reference inputs repeated to {ENGINE_BATCH}, {WARMUP_BATCHES} untimed batch, "
        f"then {TIMED_BATCHES} timed; the first batch's time (tracing or compiling that shape) is given apart. "
        "Every engine but Keras `model.predict` takes raw inputs (text, tokens, images) and returns the result; "
        "`model.predict` reads inputs already prepared. SavedModel and ONNX Runtime run the folders of "
        "`zoo export` (TensorFlow process; ONNX through `zoo_runtime`), for the text classifiers and taggers."
    )
    return "\n".join(lines)


def _dates(rows: list[dict[str, Any]]) -> str:
    """When `rows` were measured: one date, or the first and the last (`--only` keeps rows)."""
    dates = sorted({r["date"] for r in rows})
    return dates[0] if len(dates) == 1 else f"measured {dates[0]} to {dates[-1]}"


def _jax_version() -> str:
    try:
        import jax
    except ImportError:
        return "JAX not installed"
    return f"JAX {jax.__version__}"


def _prepared(task: Task, raws: list[Any]) -> Any:
    """The model's own input for a batch of raw inputs, as `predict` prepares it (None for
    decoders)."""
    from zoo.data.images import to_model_image

    if task.name == "many-to-one":
        return task.preprocessing.model_inputs(tf.constant(raws))
    if task.name == "many-to-many-equal":
        sentences = [raw if isinstance(raw, list) else raw.split() for raw in raws]
        longest = max(map(len, sentences))
        return task.preprocessing.model_inputs(
            tf.constant([s + [""] * (longest - len(s)) for s in sentences])
        )
    if task.name == "one-to-one":
        shape = tuple(task.preprocessing.image_shape)
        return np.stack([to_model_image(raw, shape) for raw in raws])
    return None


# --- real files --------------------------------------------------------------------------

#: `zoo predict --input` on real text: (shipped model, lines in the file)
FILE_RUNS = (
    ("sentiment-mr-lstm", 100_000),
    ("ner-conll2003-lstm", 100_000),
    ("translation-multi30k-de-en-lstm", 10_000),
)
#: lines of the file that measures the command's start-up (loading TensorFlow and the model)
STARTUP_LINES = 10


def real_lines(name: str, count: int, data: Path) -> list[str]:
    """`count` input lines for a shipped model from the real data, the data's lines repeated
    in order as often as needed: MR snippets (Latin-1), CoNLL-2003 training sentences (JSON
    token lists, which `zoo predict` reads as tokens), Multi30k's German training sentences.

    Args:
        name: a model name of `FILE_RUNS`.
        count: lines wanted.
        data: the folder of the real data (`../shared/data`).

    Returns:
        The lines, without line ends.
    """
    import gzip

    if name.startswith("sentiment"):
        lines = [
            line
            for polarity in ("pos", "neg")
            for line in (data / "sentiment" / f"rt-polarity.{polarity}")
            .read_text(encoding="latin-1")
            .splitlines()
        ]
    elif name.startswith("ner"):
        sentences = [
            [row.split()[0] for row in block.splitlines()]
            for block in (data / "ner" / "eng.train").read_text().split("\n\n")
        ]
        lines = [json.dumps(s) for s in sentences if s and s[0] != "-DOCSTART-"]
    else:
        with gzip.open(data / "translation" / "train.de.gz", "rt", encoding="utf-8") as f:
            lines = f.read().splitlines()
    lines = [line for line in lines if line.strip()]
    return (lines * (count // len(lines) + 1))[:count]


def _run_measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one command (its own rusage, via wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def files(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`zoo predict --input FILE` on this process's backend for each of `FILE_RUNS`: wall
    time and peak memory of the whole command, and of the same command on a
    `STARTUP_LINES`-line file (start-up)."""
    data = ROOT.parent / "shared" / "data"
    if not data.is_dir():
        print("files: ../shared/data is not here; skipped")
        return []
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, count in FILE_RUNS:
            if not fnmatch.fnmatch(name, args.only):
                continue
            count = max(1, int(count * args.file_scale))
            lines = real_lines(name, count, data)
            measured = {}
            for label, subset in (("startup", lines[:STARTUP_LINES]), ("file", lines)):
                path = Path(scratch) / f"{name}-{label}.txt"
                path.write_text("\n".join(subset) + "\n")
                command = [sys.executable, "-m", "zoo", "predict", name, "--input", str(path)]
                command += ["--registry", str(ROOT / "saved_models")]
                command += ["--output", str(Path(scratch) / "results.jsonl")]
                measured[label] = _run_measured(command)
                (Path(scratch) / "results.jsonl").unlink()
            (seconds, peak), (startup, _) = measured["file"], measured["startup"]
            rows.append(
                {
                    "name": name,
                    "lines": count,
                    "seconds": seconds,
                    "startup_seconds": startup,
                    "lines_per_s": count / seconds,
                    "lines_per_s_after_startup": count / max(1e-9, seconds - startup),
                    "peak_mb": peak,
                }
            )
            print(rows[-1], flush=True)
    return rows


def files_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| model | lines | backend | wall time | lines/s, whole command | lines/s after start-up | start-up | peak memory |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["name"], BACKENDS.index(r["backend"]))):
        lines.append(
            f"| {r['name']} | {r['lines']:,} | {r['backend']} | {r['seconds']:.1f} s | {r['lines_per_s']:,.0f} "
            f"| {r['lines_per_s_after_startup']:,.0f} | {r['startup_seconds']:.1f} s | {r['peak_mb']:,.0f} MB |"
        )
    lines.append(
        f"\n`zoo predict MODEL --input FILE --output results.jsonl` (batches of 64, file order), {_dates(rows)}, "
        f"Keras {keras.__version__}, TensorFlow {tf.__version__}, {_jax_version()}, {os.cpu_count()} CPU cores shared "
        "with other jobs. Files made of the real data's lines repeated in order (MR snippets, CoNLL-2003 training "
        "sentences as JSON token lists, Multi30k German training sentences). Start-up: the same command on a "
        f"{STARTUP_LINES}-line file (importing TensorFlow, loading the model, first traces). Peak memory: the command's "
        "own process, resident."
    )
    return "\n".join(lines)


# --- scaling -----------------------------------------------------------------------------

_SCALING_CHILD = """
import json, re, sys, time
from pathlib import Path
import keras, numpy as np
def status(key):  # kB -> MB, from this process's own accounting (a fresh exec starts its own)
    return int(re.search(rf"{key}:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
length, cell, alone, batches = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "layer", 16
layer = keras.layers.LSTM if cell == "lstm" else keras.layers.SimpleRNN
y = np.random.default_rng(1).random((batches * 32, 1))
if alone:  # the recurrent layer on random vectors, with only a Dense(1) after it
    x = np.random.default_rng(0).standard_normal((batches * 32, length, 64)).astype("float32")
    model = keras.Sequential([keras.Input((length, 64)), layer(64), keras.layers.Dense(1)])
else:
    x = np.random.default_rng(0).integers(1, 10000, (batches * 32, length))
    model = keras.Sequential([keras.Input((length,)), keras.layers.Embedding(10000, 64), layer(64), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x[:64], y[:64], batch_size=32, verbose=0)
before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) here
started = time.perf_counter(); model.fit(x, y, batch_size=32, verbose=0); seconds = time.perf_counter() - started
peak = status("VmHWM")
print(json.dumps({"length": length, "cell": cell, "alone": alone, "seconds": seconds, "tokens_per_s": batches * 32 * length / seconds,
                  "peak_mb": peak, "growth_mb": peak - before}))
"""


def matmul_peak() -> float:
    """Float32 FLOP/s of a large square matmul on this process's backend (best of five)."""
    a = keras.random.normal((1024, 1024), seed=0)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
    best = min(_timed(lambda: keras.ops.convert_to_numpy(keras.ops.matmul(a, a))) for _ in range(5))
    return 2 * 1024**3 / best


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# LSTM: 4 gates of (input 64 + state 64) x 64 per step, 2 FLOPs per multiply-add, backward ~2x forward
LSTM_FLOPS_PER_TOKEN = 3 * 2 * 4 * (64 + 64) * 64


def scaling(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each length and cell in a fresh process of this backend; the LSTM's share of the
    matmul peak, for the whole model and for the recurrent layer alone."""
    rows = []
    runs = [(n, cell, "model") for n in (50, 100, 200, 400, 800) for cell in ("simple_rnn", "lstm")]
    runs += [(n, "lstm", "layer") for n in (50, 200, 800)]
    for length, cell, what in runs:
        done = subprocess.run(
            [sys.executable, "-c", _SCALING_CHILD, str(length), cell, what],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1])
    peak = matmul_peak()
    for row in rows:
        row["matmul_peak_flops"] = peak
        if row["cell"] == "lstm":
            row["flops_share_of_peak"] = row["tokens_per_s"] * LSTM_FLOPS_PER_TOKEN / peak
    return rows


def scaling_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| length | backend | SimpleRNN s/epoch | LSTM s/epoch | SimpleRNN peak / growth MB | LSTM peak / growth MB "
        "| LSTM tokens/s | LSTM FLOP/s share of matmul peak: whole model / recurrent layer alone |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["length"], r["cell"], r.get("alone", False), r["backend"]): r for r in rows}
    for length in sorted({r["length"] for r in rows}):
        for backend in BACKENDS:
            if (length, "lstm", False, backend) not in by:
                continue
            s, lstm = (
                by[(length, "simple_rnn", False, backend)],
                by[(length, "lstm", False, backend)],
            )
            alone = by.get((length, "lstm", True, backend))
            layer_share = f"{alone['flops_share_of_peak']:.1%}" if alone else "—"
            lines.append(
                f"| {length} | {backend} | {s['seconds']:.2f} | {lstm['seconds']:.2f} | {s['peak_mb']:.0f} / {s['growth_mb']:.0f} "
                f"| {lstm['peak_mb']:.0f} / {lstm['growth_mb']:.0f} | {lstm['tokens_per_s']:,.0f} "
                f"| {lstm['flops_share_of_peak']:.1%} / {layer_share} |"
            )
    peaks = {r["backend"]: r["matmul_peak_flops"] for r in rows}
    lines.append(
        "\nOne epoch = 512 sequences in batches of 32; the recurrent layer alone reads random 64-wide vectors "
        "(no embedding) at three lengths; matmul peak measured here (float32, 1024x1024): "
        + ", ".join(f"{b} {p / 1e9:.1f} GFLOP/s" for b, p in peaks.items())
        + "."
    )
    return "\n".join(lines)


# --- kernels -----------------------------------------------------------------------------


def kernels(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One training step of every task's LSTM and GRU model on this backend: the kernel that
    ran."""
    import kernels as zoo_kernels

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    rows = []
    for name in (
        "one-to-one",
        "one-to-many",
        "many-to-one",
        "many-to-many-equal",
        "many-to-many-unequal",
    ):
        task = get_task(name)()
        train_raw, _ = load_and_adapt(task, task.dataset("embedded"))
        batch = next(task.batches(train_raw, 8, training=True).as_numpy_iterator())
        for cell in zoo_kernels.FUSED:
            model = task.build_model(hyperparameters({"cell": cell}))
            with zoo_kernels.record() as ran:
                model.train_on_batch(*batch)
            outputs = model(batch[0], training=False)
            rows.append(
                {
                    "task": name,
                    "cell": cell,
                    "policy": keras.mixed_precision.global_policy().name,
                    "ran": sorted(set(ran)),
                    "eligible": zoo_kernels.cudnn_eligible(model),
                    "gpu": bool(tf.config.list_physical_devices("GPU")),
                    "output_dtype": keras.backend.standardize_dtype(
                        keras.tree.flatten(outputs)[0].dtype
                    ),
                }
            )
    return rows


def kernels_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| task | cell | backend | policy | GPU | recurrent layers' settings cuDNN-eligible | kernel that ran | output dtype |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['task']} | {r['cell']} | {r['backend']} | {r['policy']} | {'yes' if r['gpu'] else 'no'} "
        f"| {'all' if all(r['eligible'].values()) else r['eligible']} | {', '.join(r['ran'])} | {r['output_dtype']} |"
        for r in sorted(
            rows,
            key=lambda r: (TASKS.index(r["task"]), r["cell"], BACKENDS.index(r["backend"])),
        )
    ]
    return "\n".join(lines)


#: part -> (measure on this process's backend, table of both backends' rows); timing-sensitive parts first
PARTS = {
    "inference": (inference, inference_table),
    "files": (files, files_table),
    "kernels": (kernels, kernels_table),
    "scaling": (scaling, scaling_table),
    "training": (training, training_table),
    "throughput": (throughput, throughput_table),
}


def _measured_on(backend: str, part: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run one part in a fresh process of `backend` (Keras reads the backend once per
    process); its rows, each marked with the backend."""
    options = ["--epochs", str(args.epochs), "--data", args.data, "--repeats", str(args.repeats)]
    options += ["--mixed-precision"] if args.mixed_precision else []
    options += ["--file-scale", str(args.file_scale), "--only", args.only]
    options += ["--cells", ",".join(args.cells)]
    with tempfile.TemporaryDirectory() as scratch:
        rows_file = Path(scratch) / "rows.json"
        subprocess.run(
            [sys.executable, __file__, part, "--backend", backend, "--rows", str(rows_file)]
            + options,
            env={**os.environ, "KERAS_BACKEND": backend},
            check=True,
        )
        return json.loads(rows_file.read_text())


def _cells(text: str) -> list[str]:
    """`--cells`: comma-separated cell names, each one of `CELLS`."""
    cells = text.split(",")
    if unknown := sorted(set(cells) - set(CELLS)):
        raise argparse.ArgumentTypeError(
            f"unknown cell(s) {', '.join(unknown)}: choose from {', '.join(CELLS)}"
        )
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "parts",
        nargs="*",
        metavar="PART",
        help=f"what to measure, of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--backend",
        choices=(*BACKENDS, "both"),
        default="both",
        help="the Keras backends to measure, each in its own process (default: both)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=5,
        help="epochs per training run in `throughput` and `training` (default: 5)",
    )
    parser.add_argument(
        "--data",
        choices=("auto", "embedded"),
        default="auto",
        help="`throughput`: the real data when ../shared/data has it (auto, default) or the embedded data",
    )
    parser.add_argument(
        "--repeats", type=int, default=50, help="timed calls per latency (default: 50)"
    )
    parser.add_argument(
        "--mixed-precision", action="store_true", help="`kernels`: build under mixed_float16"
    )
    parser.add_argument(
        "--file-scale",
        type=float,
        default=1.0,
        help="`files`: this share of each file's lines (default: 1, 100,000 / 10,000 lines)",
    )
    parser.add_argument(
        "--only",
        default="*",
        metavar="PATTERN",
        help="`inference`, `files`: re-measure the models matching this pattern; keep the "
        "others' last rows (default: every model)",
    )
    parser.add_argument(
        "--cells",
        default=",".join(CELLS),
        type=_cells,
        help="`training`: the cells to train, comma-separated; keep the others' last rows "
        f"(default: {','.join(CELLS)})",
    )
    # a child process: measure one part on the backend Keras runs, write its rows to this file
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.parts) - set(PARTS):
        parser.error(
            f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}"
        )
    os.chdir(ROOT)  # cards record data paths relative to the checkout
    if args.rows:
        (part,) = args.parts
        rows = PARTS[part][0](args)
        for row in rows:
            row["backend"], row["date"] = keras.config.backend(), date.today().isoformat()
        Path(args.rows).write_text(json.dumps(rows))
        return
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    for part in args.parts or tuple(PARTS):
        rows = [row for backend in backends for row in _measured_on(backend, part, args)]
        name = f"perf-{part}" + ("-mixed" if part == "kernels" and args.mixed_precision else "")
        if part in ("inference", "files"):  # a run of some models keeps the others' rows
            rows = kept_rows(name, "name", lambda model: fnmatch.fnmatch(model, args.only)) + rows
        if part == "training":  # and a run of some cells the others'
            rows = kept_rows(name, "cell", lambda cell: cell in args.cells) + rows
        publish(name, rows, PARTS[part][1](rows, args))
    print(
        f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
