"""Every boundary length of a text input, for every text task and cell: one token, the
bucket edges of the batching pipeline, and the input limit; in predict (alone and in a
batch), in training and evaluation on data of one-token examples, and in the exported
serving signature. A one-token sentence used to crash both taggers (a scan over the steps
after the first was empty).

The JAX backend runs the same layers through `tests/test_backends.py`'s worker; this file
runs under the backend the suite runs with."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import tensorflow as tf

import zoo
from zoo.constants import CELLS
from zoo.data import text
from zoo.registry.export import export

TEXT_TASKS = ("many-to-one", "many-to-many-equal", "many-to-many-unequal")
#: one token, both sides of each bucket edge of `zoo.data.pipeline.batch_pipeline`, and
#: both sides of the input limit
LENGTHS = (1, 2, 8, 9, 16, 17, 32, 33, text.MAX_INPUT_TOKENS, text.MAX_INPUT_TOKENS + 1)
HP = {"units": 16, "embedding_dim": 16}
# nine trainings (about 2 min): CI's slow run; the CRF's one-token case is checked fast in
# tests/test_custom_layers.py
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_dataset) -> dict[tuple[str, str], zoo.registry.ZooModel]:
    models = {}
    for task in TEXT_TASKS:
        for cell in CELLS:
            result = zoo.train(
                task, dataset=tiny_dataset(task), epochs=1, hparams={**HP, "cell": cell}, verbose=0
            )
            path = zoo.save(result, f"lengths-{task}-{cell}")
            models[task, cell] = zoo.load(f"lengths-{task}-{cell}@{path.name}")
    return models


def _sentence(task: str, n: int) -> str:
    word = {"many-to-many-unequal": "um"}.get(task, "Berlin")
    return " ".join([word] * n)


# untrained translators may also be cut at their output bound: warnings are not the point here
@pytest.mark.filterwarnings("ignore::zoo.errors.ZooWarning")
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", TEXT_TASKS)
def test_every_boundary_length_predicts_alone_and_in_a_batch_alike(trained, task, cell) -> None:
    model = trained[task, cell]
    inputs = [_sentence(task, n) for n in LENGTHS]
    batch = model.predict_batch(inputs)
    for n, sentence, together in zip(LENGTHS, inputs, batch, strict=True):
        alone = model.predict(sentence)
        if task == "many-to-many-equal":  # a tagger reads a sentence of any length whole
            assert len(alone["tags"]) == n and alone["tags"] == together["tags"]
        elif task == "many-to-one":
            assert alone["label"] == together["label"]
            assert alone.get("truncated", False) == (n > text.MAX_INPUT_TOKENS)
        else:
            assert isinstance(alone["translation"], str)
            assert alone.get("truncated", False) >= (n > text.MAX_INPUT_TOKENS)


@pytest.mark.parametrize("cell", CELLS)
def test_a_tagger_trains_and_evaluates_on_one_token_sentences(tmp_path: Path, cell) -> None:
    tokens = [("Berlin", "B-LOC"), ("Paris", "B-LOC"), ("yes", "O"), ("Acme", "B-ORG")]
    (tmp_path / "train.txt").write_text("".join(f"{w} {t}\n\n" for w, t in tokens * 6))
    (tmp_path / "dev.txt").write_text("".join(f"{w} {t}\n\n" for w, t in tokens))
    spec = zoo.prepare(tmp_path, "conll", columns="tokens ner")
    result = zoo.train(
        "many-to-many-equal", dataset=spec, epochs=1, hparams={**HP, "cell": cell}, verbose=0
    )
    assert 0.0 <= result.metrics["validation"]["entity_f1"] <= 1.0


def test_a_classifier_and_a_translator_train_on_one_word_examples(tmp_path: Path) -> None:
    with (tmp_path / "words.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([("great", "pos"), ("awful", "neg")] * 20)
    spec = zoo.prepare(tmp_path / "words.csv", "csv")
    result = zoo.train("many-to-one", dataset=spec, epochs=1, hparams=HP, verbose=0)
    assert 0.0 <= result.metrics["validation"]["accuracy"] <= 1.0
    pairs = tmp_path / "mt"
    pairs.mkdir()
    (pairs / "train.de").write_text("hallo\nhund\n" * 20)
    (pairs / "train.en").write_text("hello\ndog\n" * 20)
    spec = zoo.prepare(pairs, "parallel", source="de", target="en")
    result = zoo.train(
        "many-to-many-unequal",
        dataset=spec,
        epochs=1,
        hparams={**HP, "units_kind": "words"},
        verbose=0,
    )
    assert "bleu" in result.metrics["validation"]


@pytest.mark.parametrize("cell", CELLS)
def test_the_exported_tagger_tags_a_one_token_sentence(trained, tmp_path: Path, cell) -> None:
    model = trained["many-to-many-equal", cell]
    served = tf.saved_model.load(str(export(model, tmp_path / "export") / "savedmodel"))
    outputs = served.signatures["serving_default"](tf.constant([["Berlin"]]))
    tags = [t.decode() for t in outputs["tags"].numpy()[0]]
    assert tags[:1] == [tag for _, tag in model.predict(["Berlin"])["tags"]]
