"""`zoo migrate`: a model saved in the layout before 0.2 (text processing inside the Keras
model) is refused by `load` with the command to run, and migrates into a new version that
reproduces its outputs, with its aliases."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import keras
import pytest

import zoo
from zoo.registry import store

HP = {"units": 8, "embedding_dim": 8, "cell": "simple_rnn"}


def _vectorizer(result: zoo.TrainResult, folder: Path) -> keras.Model:
    """Text in, the trained model's output out, through a TextVectorization that holds the
    vocabulary, as the zoo saved text models before."""
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = keras.layers.TextVectorization(
        vocabulary=result.task.preprocessing.vocabulary, standardize=None, name="vectorizer"
    )(texts)
    return keras.Model(texts, result.model(ids), name="many_to_one")


def _old_layout_copy(root: Path, front: Callable[..., keras.Model] = _vectorizer) -> str:
    """Version 2 of `old`: version 1's weights behind a string input and `front`'s string
    processing (by default a TextVectorization, as the zoo saved text models before)."""
    result = zoo.train("many-to-one", epochs=1, hparams=HP, verbose=0)
    first = zoo.save(result, "old", root=root)
    old = front(result, root)
    second = first.parent / "2"
    shutil.copytree(first, second)
    old.save(second / store.MODEL_FILE)
    card = json.loads((second / store.CARD_FILE).read_text())
    card["version"] = 2
    card["files"][store.MODEL_FILE] = {
        "bytes": (second / store.MODEL_FILE).stat().st_size,
        "sha256": store.sha256(second / store.MODEL_FILE),
    }
    (second / store.CARD_FILE).write_text(json.dumps(card))
    (first.parent / store.ALIASES_FILE).write_text(
        json.dumps({"latest": 2, "best": 2, "production": 2})
    )
    return "old@2"


@pytest.mark.slow
def test_an_old_layout_model_is_refused_then_migrated(tmp_path: Path, capsys) -> None:
    ref = _old_layout_copy(tmp_path)
    try:
        zoo.load(ref, root=tmp_path)
    except zoo.ZooError as err:
        assert f"zoo migrate {ref}" in str(err)
    else:
        raise AssertionError("an old-layout model must not load silently")

    assert zoo.cli.main(["migrate", ref, "--registry", str(tmp_path)]) == 0
    assert "old@2: migrated to old@3" in capsys.readouterr().out
    migrated = zoo.load("old:production", root=tmp_path)  # the alias followed the new version
    assert migrated.version == 3 and migrated.card.migrated_from == "old@2"
    assert all(tensor.dtype == "int32" for tensor in migrated.model.inputs)
    # the outputs the old model recorded are reproduced (load checks them too)
    assert (
        json.loads(
            json.dumps(
                migrated.predict_batch(
                    store.reference_inputs(migrated.card, tmp_path / "old" / "3")
                )
            )
        )
        == migrated.card.reference.outputs
    )
    # a model in today's layout is left alone
    assert zoo.cli.main(["migrate", "old@3", "--registry", str(tmp_path)]) == 0
    assert "old@3: already in the current layout" in capsys.readouterr().out


def _hashing(result: zoo.TrainResult, folder: Path) -> keras.Model:
    """Tokens in, hashed to ids by a Keras `Hashing` layer: strings processed inside the
    model, but not by a vocabulary lookup that `zoo migrate` can take out."""
    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    ids = keras.layers.Hashing(num_bins=len(result.task.preprocessing.vocabulary), name="hasher")(
        tokens
    )
    return keras.Model(tokens, result.model(ids), name="many_to_one")


def _vocabulary_file(result: zoo.TrainResult, folder: Path) -> keras.Model:
    """Text in through a TextVectorization whose vocabulary was read from a file (Keras
    stores it in the archive as an asset, as the zoo's models before 0.2)."""
    vocabulary = folder / "vocabulary.txt"
    vocabulary.write_text("\n".join(result.task.preprocessing.vocabulary) + "\n")
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = keras.layers.TextVectorization(
        vocabulary=str(vocabulary), standardize=None, name="vectorizer"
    )(texts)
    return keras.Model(texts, result.model(ids), name="many_to_one")


@pytest.mark.slow
def test_string_processing_migrate_cannot_take_out_is_refused_for_what_it_is(
    tmp_path: Path, capsys
) -> None:
    """A string-input model whose strings become ids other than by a vocabulary lookup was
    refused as 'an older layout' with `zoo migrate` to run, which cannot convert it
    (issue 28, item 16)."""
    ref = _old_layout_copy(tmp_path, _hashing)
    try:
        zoo.load(ref, root=tmp_path)
    except zoo.ZooError as err:
        message = str(err)
    else:
        raise AssertionError("a model that takes strings must not load")
    assert "older layout" not in message and "zoo migrate old@2" not in message
    assert "'tokens' feed no TextVectorization or StringLookup" in message
    assert "keras.saving.load_model(" in message and "zoo train TASK --data" in message
    assert zoo.cli.main(["migrate", ref, "--registry", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("zoo: error: old@2 cannot be migrated: string input(s) 'tokens'")
    assert sorted(p.name for p in (tmp_path / "old").iterdir() if p.is_dir()) == ["1", "2"]


@pytest.mark.slow
def test_a_vocabulary_file_layer_is_the_older_layout_and_migrates(tmp_path: Path) -> None:
    ref = _old_layout_copy(tmp_path, _vocabulary_file)
    (tmp_path / "vocabulary.txt").unlink()  # the archive holds the vocabulary, not the path
    try:
        zoo.load(ref, root=tmp_path)
    except zoo.ZooError as err:
        assert (
            f"older layout (text processing inside the model); convert it once with `zoo migrate {ref}`"
            in str(err)
        )
    else:
        raise AssertionError("an old-layout model must not load silently")
    assert zoo.cli.main(["migrate", ref, "--registry", str(tmp_path)]) == 0
    migrated = zoo.load("old@3", root=tmp_path)  # reference outputs reproduced
    assert migrated.card.migrated_from == ref
