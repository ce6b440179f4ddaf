"""`zoo migrate`: a model saved in the layout before 0.2 (text processing inside the Keras
model) is refused by `load` with the command to run, and migrates into a new version that
reproduces its outputs, with its aliases."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras

import zoo
from zoo.registry import store

HP = {"units": 8, "embedding_dim": 8, "cell": "simple_rnn"}


def _old_layout_copy(root: Path) -> str:
    """Version 2 of `old`: version 1's weights behind a string input and a TextVectorization,
    as the zoo saved text models before."""
    result = zoo.train("many-to-one", epochs=1, hparams=HP, verbose=0)
    first = zoo.save(result, "old", root=root)
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = keras.layers.TextVectorization(
        vocabulary=result.task.preprocessing.vocabulary, standardize=None, name="vectorizer"
    )(texts)
    old = keras.Model(texts, result.model(ids), name="many_to_one")
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
