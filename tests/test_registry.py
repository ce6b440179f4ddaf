"""Registry basics the foundation relies on: names, versions, integrity, safe loading."""
from __future__ import annotations

import json

import keras
import pytest

import zoo
from zoo import registry


@pytest.fixture(scope="module")
def trained():
    return zoo.train("one-to-one", epochs=1, hparams={"cell": "simple_rnn", "units": 32}, verbose=0)


def test_versions_and_latest(tmp_path, trained) -> None:
    first = registry.save(trained, "digits", root=tmp_path)
    second = registry.save(trained, "digits", root=tmp_path)
    assert (first.name, second.name) == ("1", "2")
    assert registry.resolve("digits", root=tmp_path) == second
    assert registry.resolve("digits@1", root=tmp_path) == first
    assert registry.list_models("dig*", root=tmp_path) == ["digits"]
    card = json.loads((second / "card.json").read_text())
    assert card["dataset"]["tfds_name"] == "zoo_digits" and card["cell"] == "simple_rnn"
    assert set(card["files"]) == {"model.keras", "preprocessing.json"}


def test_unknown_name_suggests_close_ones(tmp_path, trained) -> None:
    registry.save(trained, "digits", root=tmp_path)
    with pytest.raises(zoo.UnknownNameError, match="Did you mean 'digits'"):
        registry.load("digit", root=tmp_path)


def test_tampered_file_is_refused(tmp_path, trained) -> None:
    path = registry.save(trained, "digits", root=tmp_path)
    with (path / "model.keras").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(registry.IntegrityError, match="model.keras does not match the SHA-256"):
        registry.load("digits", root=tmp_path)


def test_lambda_layer_is_refused_in_safe_mode(tmp_path, trained) -> None:
    path = registry.save(trained, "digits", root=tmp_path)
    inputs = keras.Input((8, 8, 1))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    unsafe.save(path / "model.keras")
    card = json.loads((path / "card.json").read_text())
    card["files"]["model.keras"]["sha256"] = registry._sha256(path / "model.keras")  # a tamperer fixes the hash too
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(registry.IntegrityError, match="cannot be loaded safely"):
        registry.load("digits", root=tmp_path)
