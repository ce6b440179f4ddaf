"""The zoo side by side with Flair (https://github.com/flairNLP/flair), the closest rival for
recurrent taggers and text classifiers, in one run on the same machine and the same data.

- NER, CoNLL-2003 (`../shared/data/ner`): the zoo's shipped NER recipe (the card of
  `ner-conll2003-lstm`: word, casing and character features, BiLSTM, CRF, its batch size and
  optimiser; without its moving average of the weights, which spans as many updates as
  this whole run has, `zoo.training.finetune.SMALL_DATA_OVERRIDES`) against Flair's
  `SequenceTagger` with a CRF (`use_crf=True`) of the same sizes: randomly initialised word
  embeddings (`OneHotEmbeddings` from the training sentences) and Flair's character BiLSTM
  (`CharacterEmbeddings`), trained by Flair's own recipe (SGD, learning rate 0.1, gradients
  clipped at 5, as its `ModelTrainer`).
- Sentiment, MR (`../shared/data/sentiment`): the recipe of `sentiment-mr-lstm` against
  Flair's `TextClassifier` over a bidirectional LSTM document embedding
  (`DocumentRNNEmbeddings`) of the same sizes on random word embeddings.

Each library runs in its own process (its own threads, its own peak memory); the parent
trains the two an epoch each in turn, starting with the other side every epoch, so both see
the same machine conditions. Both read the same sentences: the zoo's process loads the
dataset through the zoo (TFDS, its seeded split for MR) and hands the raw sentences to
Flair's process. Reported per task and side: training sentences/s (median over epochs 2
onwards, validation excluded), wall time of the training, the validation score (entity F1 /
accuracy) after equal epochs and within equal time (the faster side's whole training time),
inference sentences/s one sentence at a time (p50 and p99 latency) and in batches (file
order, warm: after one untimed pass over the same inputs), and each process's peak resident
memory while training and predicting.

Flair is an optional extra and never runs in CI:

    pip install -e ".[peers]"     # torch first: `pip install torch==2.13.0` (a CPU wheel)
    python benchmarks/peers.py [--quick] [--epochs 10] [--tasks ner sentiment]

`--quick` (a few minutes) trains on a slice of each training set for 2 epochs and writes
`benchmarks/results/peers-quick.json` only; the full run writes `peers.json` and the
README's `peers-table`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from report import ROOT, kept_rows, latency_ms, publish, write_json

#: per task: the shipped model whose recipe the zoo side trains, and Flair's label type
SHIPPED = {"ner": "ner-conll2003-lstm", "sentiment": "sentiment-mr-lstm"}
#: `--quick`: training and validation sentences kept, and epochs
QUICK = {"train": 1000, "validation": 300, "epochs": 2}
#: the full run's training sentences per task (None: all); validation is always whole.
#: NER keeps the first 3,000 of eng.train's 14,041: Flair's epoch over all of them takes
#: minutes on 2 shared cores, and 10 epochs of both sides must fit in well under an hour
FULL_TRAIN = {"ner": 3000, "sentiment": None}
#: sentences per call of the batched inference (both sides get the same chunks, file order)
INFERENCE_BATCH = 256
#: one sentence at a time: inputs cycled through, the warm-up being one pass over them
SINGLE_INPUTS = 100
INSTALL_HINT = (
    "Flair is not installed. Install the optional extra (a CPU build of PyTorch first, "
    'or pip pulls a CUDA build of several GB): pip install torch==2.13.0 && pip install -e ".[peers]"'
)

Example = tuple[list[str], Any]  # NER: (tokens, IOB tags); sentiment: (text, label)


# --- pure helpers --------------------------------------------------------------------------


def entity_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """The entities of one sentence's tags as `(type, first token, last token)`, by
    conlleval's rules (an `I-` after another type or `O` starts an entity: IOB1 and IOB2).

    Args:
        tags: IOB1 or IOB2 tags such as `["I-PER", "I-PER", "O", "B-LOC"]`.

    Returns:
        The set of entity spans, token indices inclusive.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    return set(get_entities(list(tags)))


def span_f1(gold: Iterable[set[Any]], predicted: Iterable[set[Any]]) -> float:
    """Micro-averaged F1 of predicted against gold spans, sentence by sentence (CoNLL's
    entity F1: a span counts only when its type and both ends are right).

    Args:
        gold: per sentence, its gold spans.
        predicted: per sentence, its predicted spans, in the same order.

    Returns:
        F1 in [0, 1]; 0 when nothing is predicted or nothing is gold.
    """
    hits = found = expected = 0
    for truth, guess in zip(gold, predicted, strict=True):
        hits, found, expected = hits + len(truth & guess), found + len(guess), expected + len(truth)
    if not hits:
        return 0.0
    precision, recall = hits / found, hits / expected
    return 2 * precision * recall / (precision + recall)


def score_within(elapsed: Sequence[float], scores: Sequence[float], budget: float) -> float | None:
    """The score of the last epoch that ended within a time budget.

    Args:
        elapsed: cumulative training seconds at the end of each epoch.
        scores: the validation score after each epoch.
        budget: seconds allowed.

    Returns:
        That epoch's score, or None when not even the first epoch ended in time.
    """
    within = [s for t, s in zip(elapsed, scores, strict=True) if t <= budget * 1.0001]
    return within[-1] if within else None


def steady_rate(sentences: int, seconds: Sequence[float]) -> float:
    """Training sentences per second: median epoch time over epochs 2 onwards (the first also
    traces, compiles and fills caches), or the only epoch.

    Args:
        sentences: training sentences per epoch.
        seconds: training seconds of each epoch.

    Returns:
        Sentences per second.
    """
    steady = list(seconds[1:]) or list(seconds)
    return sentences / statistics.median(steady)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) since the last `reset_peak_rss`, in MB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def reset_peak_rss() -> None:
    """Restart the peak of `peak_rss_mb` from the current resident memory (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """`items` cut into consecutive slices of at most `size`."""
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- the zoo's side ------------------------------------------------------------------------


class ZooSide:
    """The zoo's recipe for `task`, trained and timed in this (TensorFlow) process."""

    def __init__(self, task: str, limits: dict[str, int | None]) -> None:
        import keras

        from zoo import registry
        from zoo.tasks.base import get_task, hyperparameters
        from zoo.training.finetune import SMALL_DATA_OVERRIDES
        from zoo.training.fit import load_and_adapt

        shipped = registry.load(SHIPPED[task], root=ROOT / "saved_models")
        card = shipped.card
        self.kind, self.batch_size = task, card.training.batch_size
        self.model_name = f"{card.name}@{card.version}"
        self.task = get_task(card.task)()
        # ten epochs on a slice are ~1,000 updates, as many as an average of the weights with
        # the card's ema_momentum spans: it would stay near the initial weights
        self.hyperparameters = {**card.hyperparameters, **SMALL_DATA_OVERRIDES}
        hp = hyperparameters(self.hyperparameters)
        spec = shipped.training_dataset()
        train_raw, val_raw = load_and_adapt(self.task, spec, hp)
        if limits["validation"]:
            val_raw = val_raw.take(limits["validation"])
        if limits["train"]:
            train_raw = train_raw.take(limits["train"])
            self.task.adapt(train_raw, spec, hp)  # the vocabulary of the slice, as Flair's
        self.train_raw, self.val_raw = train_raw.cache(), val_raw.cache()
        # the card's seed, as Flair's side seeds torch: the same initial weights every run
        keras.utils.set_random_seed(card.training.seed)
        self.train = self.task.batches(self.train_raw, self.batch_size, training=True)
        self.model = self.task.build_model(hp)
        self.epoch = 0

    def examples(self) -> dict[str, Any]:
        """What Flair's process needs: the raw training and validation sentences, the
        recipe's hyperparameters and its batch size; and the card's `name@version`."""
        return {
            "train": self._raw(self.train_raw),
            "validation": self._raw(self.val_raw),
            "hyperparameters": self.hyperparameters,
            "batch_size": self.batch_size,
            "model": self.model_name,
        }

    def _raw(self, raw: Any) -> list[Example]:
        if self.kind == "ner":
            return [
                ([t.decode() for t in ex["tokens"]], [t.decode() for t in ex["ner_name"]])
                for ex in raw.as_numpy_iterator()
            ]
        names = self.task.preprocessing.labels
        return [(ex["text"].decode(), names[int(ex["label"])]) for ex in raw.as_numpy_iterator()]

    def train_epoch(self) -> tuple[float, float]:
        """One epoch: its training seconds and the validation score after it."""
        started = time.perf_counter()
        self.model.fit(self.train, initial_epoch=self.epoch, epochs=self.epoch + 1, verbose=0)
        seconds = time.perf_counter() - started
        self.epoch += 1
        metric = "entity_f1" if self.kind == "ner" else "accuracy"
        scores = self.task.evaluate(self.model, self.val_raw, batch_size=64, quick=True)
        return seconds, float(scores[metric])

    def predict(self, inputs: Sequence[Any]) -> Any:
        """The zoo's end-to-end predict (raw sentences in, readable results out)."""
        return self.task.predict(self.model, list(inputs))

    def versions(self) -> dict[str, str]:
        import keras
        import tensorflow as tf

        return {"keras": keras.__version__, "tensorflow": tf.__version__}


# --- Flair's side --------------------------------------------------------------------------


class FlairSide:
    """Flair's comparable model for `task`, trained by Flair's own recipe in this process."""

    def __init__(
        self,
        task: str,
        train: list[Example],
        validation: list[Example],
        hyperparameters: dict[str, Any],
        batch_size: int,
    ) -> None:
        try:
            import flair  # noqa: F401
        except ImportError as err:
            raise SystemExit(INSTALL_HINT) from err
        import torch
        from flair.data import Corpus, Dictionary
        from flair.datasets import SentenceDataset
        from flair.embeddings import (
            CharacterEmbeddings,
            DocumentRNNEmbeddings,
            OneHotEmbeddings,
            StackedEmbeddings,
        )
        from flair.models import SequenceTagger, TextClassifier

        torch.manual_seed(0)
        self.kind, self.batch_size, self.label = task, batch_size, task
        self.train = [self._sentence(example) for example in train]
        self.validation = validation
        corpus = Corpus(
            train=SentenceDataset(self.train),
            dev=SentenceDataset([self._sentence(e) for e in validation[:1]]),
            test=SentenceDataset([self._sentence(e) for e in validation[:1]]),
            sample_missing_splits=False,
        )
        labels = corpus.make_label_dictionary(self.label, add_unk=False)
        # random word vectors of the zoo's size over the training words (seen at least once)
        words = OneHotEmbeddings.from_corpus(
            corpus, min_freq=1, embedding_length=hyperparameters["embedding_dim"]
        )
        if task == "ner":
            # the characters of the training words (Flair would download its own list)
            alphabet = Dictionary(add_unk=True)
            for sentence in self.train:
                for token in sentence:
                    for character in token.text:
                        alphabet.add_item(character)
            characters = CharacterEmbeddings(
                path_to_char_dict=alphabet,
                char_embedding_dim=hyperparameters["char_embedding_dim"],
                hidden_size_char=hyperparameters["char_units"],
            )
            self.model = SequenceTagger(
                hidden_size=hyperparameters["units"],
                embeddings=StackedEmbeddings([words, characters]),
                tag_dictionary=labels,
                tag_type=self.label,
                use_crf=True,
                rnn_layers=hyperparameters.get("layers", 1),
            )
        else:
            document = DocumentRNNEmbeddings(
                [words],
                hidden_size=hyperparameters["units"],
                bidirectional=True,
                rnn_type="LSTM",
                dropout=hyperparameters["dropout"],
            )
            self.model = TextClassifier(document, label_type=self.label, label_dictionary=labels)
        # Flair's ModelTrainer's defaults: SGD at 0.1, gradients clipped at norm 5
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.random = __import__("random").Random(0)

    def _sentence(self, example: Example) -> Any:
        from flair.data import Sentence

        if self.kind == "ner":
            tokens, tags = example
            sentence = Sentence(list(tokens))
            for kind, first, last in entity_spans(tags):
                sentence[first : last + 1].add_label(self.label, kind)
            return sentence
        text, label = example
        sentence = Sentence(text.split())
        sentence.add_label(self.label, label)
        return sentence

    def train_epoch(self) -> tuple[float, float]:
        """One epoch: its training seconds and the validation score after it."""
        import torch
        from flair.training_utils import store_embeddings

        started = time.perf_counter()
        self.model.train()
        order = list(self.train)
        self.random.shuffle(order)
        for batch in chunks(order, self.batch_size):
            self.optimizer.zero_grad()
            loss, _ = self.model.forward_loss(list(batch))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            self.optimizer.step()
            store_embeddings(list(batch), "none")
        seconds = time.perf_counter() - started
        return seconds, self.score()

    def score(self) -> float:
        """Entity F1 (NER) or accuracy (sentiment) on the validation sentences."""
        inputs = [e[0] for e in self.validation]
        predicted = self.predict_all(inputs, batch_size=64)
        if self.kind == "ner":
            return span_f1((entity_spans(tags) for _, tags in self.validation), predicted)
        right = sum(p == gold for p, (_, gold) in zip(predicted, self.validation, strict=True))
        return right / len(self.validation)

    def predict_all(self, inputs: Sequence[Any], batch_size: int) -> list[Any]:
        """Flair's predict over raw sentences: per sentence its entity spans (NER) or label."""
        from flair.data import Sentence

        sentences = [Sentence(list(i) if self.kind == "ner" else i.split()) for i in inputs]
        self.model.predict(sentences, mini_batch_size=batch_size, label_name="predicted")
        if self.kind == "ner":
            return [
                {
                    (
                        label.value,
                        label.data_point.tokens[0].idx - 1,
                        label.data_point.tokens[-1].idx - 1,
                    )
                    for label in s.get_labels("predicted")
                }
                for s in sentences
            ]
        return [s.get_label("predicted").value for s in sentences]

    def predict(self, inputs: Sequence[Any]) -> Any:
        """Flair's predict on raw sentences, in one call."""
        return self.predict_all(inputs, batch_size=len(inputs))

    def versions(self) -> dict[str, str]:
        import flair
        import torch

        return {"flair": flair.__version__, "torch": torch.__version__}


# --- the two processes ---------------------------------------------------------------------


def inference(side: ZooSide | FlairSide, inputs: list[Any], repeats: int) -> dict[str, float]:
    """One sentence at a time (p50 / p99 ms over `SINGLE_INPUTS` sentences cycled, after one
    untimed pass) and warm batches of `INFERENCE_BATCH` in file order (sentences/s of a
    second pass; the first, untimed, traces and warms caches)."""
    singles = inputs[:SINGLE_INPUTS]
    cycle = iter(range(10**9))
    p50, p99 = latency_ms(
        lambda: side.predict([singles[next(cycle) % len(singles)]]),
        repeats,
        warmup=len(singles),
    )
    batches = chunks(inputs, INFERENCE_BATCH)
    for batch in batches:
        side.predict(batch)
    started = time.perf_counter()
    for batch in batches:
        side.predict(batch)
    return {
        "single_p50_ms": p50,
        "single_p99_ms": p99,
        "batch_per_s": len(inputs) / (time.perf_counter() - started),
        "batch_size": INFERENCE_BATCH,
        "inference_sentences": len(inputs),
    }


def limit_threads(library: str, threads: int) -> None:
    """Give a side's library `threads` compute threads (before it runs any op)."""
    if library == "zoo":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    else:
        import torch

        torch.set_num_threads(threads)


def worker(connection: multiprocessing.connection.Connection, library: str, threads: int) -> None:
    """A side's process: builds it on the first message, then answers commands."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.suppress(ImportError):  # Flair's process says it is missing on "build"
        limit_threads(library, threads)
    os.chdir(ROOT)  # cards record data paths relative to the checkout
    side: ZooSide | FlairSide | None = None
    while True:
        command, payload = connection.recv()
        if command == "build":
            side = ZooSide(**payload) if library == "zoo" else FlairSide(**payload)
            reply: Any = side.examples() if library == "zoo" else None
            reset_peak_rss()
        elif command == "epoch":
            reply = side.train_epoch()
        elif command == "inference":
            reply = {**inference(side, **payload), "peak_mb": peak_rss_mb(), **side.versions()}
        else:
            return
        connection.send(reply)


class Process:
    """A side's worker process and its end of the pipe."""

    def __init__(self, library: str, threads: int) -> None:
        self.library = library
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=worker, args=(theirs, library, threads), daemon=True)
        self.process.start()

    def ask(self, command: str, **payload: Any) -> Any:
        self.connection.send((command, payload))
        while not self.connection.poll(timeout=1):
            if not self.process.is_alive():
                raise RuntimeError(f"the {self.library} process ended: see its error above")
        return self.connection.recv()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a worker that failed has closed its end
            self.connection.send(("stop", {}))
        self.process.join(timeout=60)


def compare(task: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train and time both sides of `task` in turn; their figures."""
    limits = (
        {"train": QUICK["train"], "validation": QUICK["validation"]}
        if args.quick
        else {"train": FULL_TRAIN[task], "validation": None}
    )
    zoo, flair = Process("zoo", args.threads), Process("flair", args.threads)
    try:
        recipe = zoo.ask("build", task=task, limits=limits)
        model = recipe.pop("model")  # which card the recipe came from; Flair needs the rest
        flair.ask("build", task=task, **recipe)
        train, validation = recipe["train"], recipe["validation"]
        sides = {"zoo": zoo, "flair": flair}
        runs: dict[str, dict[str, list[float]]] = {s: {"seconds": [], "scores": []} for s in sides}
        for epoch in range(args.epochs):
            order = list(sides) if epoch % 2 == 0 else list(sides)[::-1]
            for name in order:
                seconds, score = sides[name].ask("epoch")
                runs[name]["seconds"].append(seconds)
                runs[name]["scores"].append(score)
                print(
                    f"{task} epoch {epoch + 1}: {name} {seconds:.1f} s, score {score:.4f}",
                    flush=True,
                )
        inputs = [e[0] for e in validation]
        for name, process in sides.items():
            runs[name].update(process.ask("inference", inputs=inputs, repeats=args.repeats))
    finally:
        zoo.close()
        flair.close()
    for run in runs.values():
        run["elapsed"] = [sum(run["seconds"][: i + 1]) for i in range(len(run["seconds"]))]
        run["sentences_per_s"] = steady_rate(len(train), run["seconds"])
        run["best"] = max(run["scores"])
    budget = min(run["elapsed"][-1] for run in runs.values())
    for run in runs.values():
        run["score_within_budget"] = score_within(run["elapsed"], run["scores"], budget)
    return {
        "task": task,
        "date": date.today().isoformat(),
        "train_sentences": len(train),
        "validation_sentences": len(validation),
        "epochs": args.epochs,
        "threads": args.threads,
        "model": model,
        "batch_size": recipe["batch_size"],
        "hyperparameters": recipe["hyperparameters"],
        "time_budget_s": budget,
        "sides": runs,
    }


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The README's peers table: the zoo and Flair per task, and the zoo's ratios."""
    metric = {"ner": "dev entity F1", "sentiment": "validation accuracy"}
    data = {"ner": "CoNLL-2003 eng.train / eng.testa", "sentiment": "MR, the zoo's seeded split"}
    lines = [
        "| task | side | training sentences/s | training wall time | score after equal epochs | score within equal time | "
        "inference, one sentence p50 / p99 | inference, warm batches of 256 | peak memory |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        zoo, flair = row["sides"]["zoo"], row["sides"]["flair"]
        for name, run in (("zoo", zoo), ("Flair", flair)):
            within = run["score_within_budget"]
            lines.append(
                f"| {row['task']}: {metric[row['task']]} | {name} | {run['sentences_per_s']:,.0f} | {run['elapsed'][-1]:.0f} s "
                f"| {run['scores'][-1]:.4f} | {'no epoch ended' if within is None else f'{within:.4f}'} "
                f"| {run['single_p50_ms']:.2f} / {run['single_p99_ms']:.2f} ms | {run['batch_per_s']:,.0f} /s | {run['peak_mb']:,.0f} MB |"
            )
        lines.append(
            f"| {row['task']} | **zoo ÷ Flair** | **{zoo['sentences_per_s'] / flair['sentences_per_s']:.2f}×** | "
            f"{zoo['elapsed'][-1] / flair['elapsed'][-1]:.2f}× | {zoo['scores'][-1] - flair['scores'][-1]:+.4f} | "
            f"{_difference(zoo, flair)} | **{flair['single_p50_ms'] / zoo['single_p50_ms']:.2f}×** faster | "
            f"**{zoo['batch_per_s'] / flair['batch_per_s']:.2f}×** | {zoo['peak_mb'] / flair['peak_mb']:.2f}× |"
        )
    first = rows[0]["sides"]
    versions = (
        f"Flair {first['flair']['flair']}, PyTorch {first['flair']['torch']}, Keras {first['zoo']['keras']}, "
        f"TensorFlow {first['zoo']['tensorflow']}"
    )
    lines.append(
        f"\n{'`--quick` run' if args.quick else 'Full run'} of `python benchmarks/peers.py`, {rows[0].get('date', date.today().isoformat())}, "
        f"{versions}, Python {sys.version.split()[0]}, on {os.cpu_count()} CPU cores shared with other jobs (ratios are "
        "taken within the run: the sides trained an epoch each in turn). "
        + "; ".join(
            f"{row['task']}: {data[row['task']]}, the zoo side the recipe of {row['model']} without a moving "
            f"average of the weights, {row['train_sentences']:,} training and {row['validation_sentences']:,} "
            f"validation sentences, {row['epochs']} epochs at batch {row['batch_size']}, equal time = "
            f"{row['time_budget_s']:.0f} s"
            for row in rows
        )
        + ". Training sentences/s: median epoch over epochs 2 onwards, validation excluded. Inference: "
        "the validation sentences, raw text in, tags or labels out, one at a time (100 sentences cycled, after one "
        "untimed pass over them) and in batches of 256 in file order (a second pass, warm). Peak memory: the side's "
        "own process, resident, while training and predicting. Compute threads per side: "
        f"{rows[0]['threads']}.\n\nThe goals, measured in this run:\n"
    )
    lines += goal_lines(rows)
    return "\n".join(lines)


#: the issue's goals for the zoo against Flair: (what, the zoo's ratio to Flair's figure, at least)
GOALS = (
    (
        "training sentences/s",
        lambda zoo, flair: zoo["sentences_per_s"] / flair["sentences_per_s"],
        3.0,
    ),
    (
        "one sentence (p50 latency)",
        lambda zoo, flair: flair["single_p50_ms"] / zoo["single_p50_ms"],
        5.0,
    ),
    (
        "warm batches (sentences/s)",
        lambda zoo, flair: zoo["batch_per_s"] / flair["batch_per_s"],
        5.0,
    ),
)


def goal_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per task and goal: the zoo's measured ratio to Flair's, and whether it meets the goal
    (training also needs an equal or better score after equal epochs).

    Args:
        rows: `compare`'s results.

    Returns:
        Markdown list items, e.g. `- ner, training sentences/s: 5.50× (goal 3×): met`.
    """
    lines = []
    for row in rows:
        zoo, flair = row["sides"]["zoo"], row["sides"]["flair"]
        for what, ratio, goal in GOALS:
            value = ratio(zoo, flair)
            met = value >= goal
            if what.startswith("training"):
                gap = zoo["scores"][-1] - flair["scores"][-1]
                met = met and gap >= 0
                what = f"{what} at an equal or better score ({gap:+.4f} after equal epochs)"
            verdict = "met" if met else f"**missed** ({value / goal:.0%} of the goal)"
            lines.append(f"- {row['task']}, {what}: {value:.2f}× (goal {goal:g}×): {verdict}")
    return lines


def _difference(zoo: dict[str, Any], flair: dict[str, Any]) -> str:
    """The zoo's score minus Flair's within the equal time, or what each side reached."""
    a, b = zoo["score_within_budget"], flair["score_within_budget"]
    if a is None or b is None:
        reached = ("no epoch ended" if v is None else f"{v:.4f}" for v in (a, b))
        return "zoo {}, Flair {}".format(*reached)
    return f"{a - b:+.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a slice of the data, 2 epochs")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per side (default: 10)")
    parser.add_argument("--tasks", nargs="+", choices=tuple(SHIPPED), default=list(SHIPPED))
    parser.add_argument("--repeats", type=int, default=200, help="timed single-sentence calls")
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="write the README's table again from benchmarks/results/peers.json (no training)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="compute threads of each side (default 1: on 2 shared cores PyTorch's spinning "
        "OpenMP threads made Flair 10x slower with 2 than with 1)",
    )
    args = parser.parse_args()
    if args.from_results:
        rows = json.loads((ROOT / "benchmarks" / "results" / "peers.json").read_text())
        publish("peers", rows, table(rows, args))
        return
    try:
        import flair  # noqa: F401
    except ImportError:
        parser.exit(2, INSTALL_HINT + "\n")
    if not (ROOT.parent / "shared" / "data").is_dir():
        parser.exit(
            2, "The data is not here: this benchmark reads ../shared/data (ner/, sentiment/).\n"
        )
    if args.quick:
        args.epochs, args.repeats = QUICK["epochs"], min(args.repeats, 50)
    name = "peers-quick" if args.quick else "peers"
    # a run of some tasks (`--tasks`) keeps the other tasks' last rows
    kept = {row["task"]: row for row in kept_rows(name, "task", lambda task: task in args.tasks)}
    merged = {**kept, **{task: compare(task, args) for task in args.tasks}}
    rows = [merged[task] for task in SHIPPED if task in merged]
    text = table(rows, args)
    if args.quick:  # the README's table comes from a full run only
        write_json(name, rows)
        print(text)
    else:
        publish(name, rows, text)


if __name__ == "__main__":
    main()
