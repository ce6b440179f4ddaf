"""The registry: versions and aliases, integrity under tampering, crashes and concurrency,
safe loading, and reference outputs re-checked on load."""

from __future__ import annotations

import dataclasses
import errno
import json
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo import registry
from zoo.registry import cards


@pytest.fixture(scope="module")
def trained():
    return zoo.train("one-to-one", epochs=1, hparams={"cell": "simple_rnn", "units": 32}, verbose=0)


def test_versions_aliases_and_card(tmp_path, trained) -> None:
    first = registry.save(trained, "digits", root=tmp_path)
    second = registry.save(trained, "digits", root=tmp_path)
    assert (first.name, second.name) == ("1", "2")
    assert registry.resolve("digits", root=tmp_path) == second
    assert registry.resolve("digits:latest", root=tmp_path) == second
    assert (
        registry.resolve("digits:best", root=tmp_path) == first
    )  # equal scores: the first keeps it
    assert registry.resolve("digits@1", root=tmp_path) == first
    registry.set_alias("digits@1", "production", root=tmp_path)
    assert registry.resolve("digits:production", root=tmp_path) == first
    assert registry.list_models("dig*", root=tmp_path) == ["digits"]
    assert registry.list_models("*lstm*", root=tmp_path) == []

    card = registry.verify(second)
    assert card.dataset == cards.DatasetRecord(
        key="embedded",
        tfds_name="zoo_digits",
        tfds_version="1.0.0",
        splits={"train": "train[:85%]", "validation": "train[85%:]", "test": "test"},
        fields={},
        source=None,
        licence="UCI optdigits via scikit-learn (Alpaydin & Kaynak 1998): CC BY 4.0",
    )
    assert card.name == "digits" and card.version == 2 and card.task == "one-to-one"
    assert (
        card.cell == "simple_rnn"
        and card.hyperparameters["units"] == 32
        and card.parent is None
        and card.retrain is None
    )
    assert (
        card.metrics["validation"]["split"] == "train[85%:]"
        and card.metrics["test"]["split"] == "test"
    )
    assert 0 <= card.metrics["test"]["accuracy"] <= 1
    assert card.parameters == trained.model.count_params()
    assert set(card.libraries) == {
        "python",
        "tensorflow",
        "keras",
        "tensorflow-datasets",
        "keras-tuner",
    }
    assert card.sequence_contract.preprocessing["labels"] == [str(i) for i in range(10)]
    assert card.training.seed == 0 and "zoo train one-to-one" in card.training.command
    assert (card.training.strategy, card.training.replicas, card.training.precision_policy) == (
        "default",
        1,
        "float32",
    )
    assert len(card.training.history["val_accuracy"]) == 1
    assert set(card.files) == {
        "model.keras",
        "preprocessing.json",
        "training_curves.png",
        "reference_0.png",
        "reference_1.png",
    }
    for name, entry in card.files.items():
        assert (
            entry.sha256 == registry.sha256(second / name)
            and entry.bytes == (second / name).stat().st_size
        )
    assert json.loads((second / "card.json").read_text()) == card.to_json()
    readme = (second / "README.md").read_text()
    assert "![training curves](training_curves.png)" in readme and "unfolded time steps" in readme


def _through_json(card: cards.ModelCard) -> cards.ModelCard:
    return cards.ModelCard.from_json(json.loads(json.dumps(card.to_json())))


def test_card_round_trips_through_json(tmp_path, trained) -> None:
    card = registry.verify(registry.save(trained, "digits", root=tmp_path))
    assert _through_json(card) == card
    assert card.headline_value() == card.metrics["validation"]["accuracy"]
    assert card.headline_value("test") == card.metrics["test"]["accuracy"]
    tuned = dataclasses.replace(
        card,
        parent="digits@1",
        retrain=cards.RetrainRecord(
            parent="digits@1",
            head_replaced=True,
            head_epochs=2,
            freeze_encoder=False,
            vocabulary_added={"words": 3},
            layers_copied=4,
        ),
        search=cards.SearchRecord(
            tuner="random",
            objective="val_accuracy",
            best_trial="02",
            completed=3,
            failed=1,
            directory="search/one-to-one",
        ),
    )
    assert _through_json(tuned) == tuned
    readme = tuned.readme()
    assert (
        "Fine-tuned from `digits@1`: a new output head for a new label set, 3 words entries added."
        in readme
    )
    assert "keras-tuner `random` search: best of 3 completed trials (1 failed)" in readme


def test_card_reading_is_forward_compatible(tmp_path, trained) -> None:
    """Keys from a newer zoo are ignored; keys an older zoo did not write take their
    defaults and stay absent when written back; keys every card has are required."""
    path = registry.save(trained, "digits", root=tmp_path)
    written = json.loads((path / "card.json").read_text())
    newer = {
        **written,
        "carbon_grams": 3.2,
        "dataset": {**written["dataset"], "doi": "10.0/x"},
        "training": {**written["training"], "accelerator": "H200"},
        "files": {name: {**entry, "modified": 0} for name, entry in written["files"].items()},
    }
    assert cards.ModelCard.from_json(newer) == cards.ModelCard.from_json(written)
    (path / "card.json").write_text(json.dumps(newer))
    assert registry.load("digits", root=tmp_path).card.to_json() == written

    older = {
        key: value for key, value in written.items() if key not in ("parent", "retrain", "search")
    }
    older["training"] = {
        k: v
        for k, v in written["training"].items()
        if k not in ("precision_policy", "strategy", "replicas")
    }
    card = cards.ModelCard.from_json(older)
    assert (card.parent, card.retrain, card.search) == (None, None, None)
    assert (card.training.precision_policy, card.training.strategy, card.training.replicas) == (
        None,
        None,
        None,
    )
    assert card.to_json()["training"] == older["training"]

    for damaged, missing in (
        ({k: v for k, v in written.items() if k != "files"}, "lacks files"),
        (
            {
                **written,
                "dataset": {k: v for k, v in written["dataset"].items() if k != "tfds_name"},
            },
            "DatasetRecord lacks tfds_name",
        ),
        ({**written, "training": [1]}, "TrainingRecord must be a JSON object"),
    ):
        with pytest.raises(cards.CardError, match=missing):
            cards.ModelCard.from_json(damaged)
        (path / "card.json").write_text(json.dumps(damaged))
        with pytest.raises(registry.IntegrityError, match=missing):
            registry.verify(path)


def test_unknown_names_suggest_close_ones(tmp_path, trained) -> None:
    registry.save(trained, "digits", root=tmp_path)
    with pytest.raises(zoo.UnknownNameError, match="Did you mean 'digits'"):
        registry.load("digit", root=tmp_path)
    with pytest.raises(zoo.UnknownNameError, match="unknown version of digits '7'"):
        registry.load("digits@7", root=tmp_path)
    with pytest.raises(zoo.UnknownNameError, match="unknown alias of digits 'prod'"):
        registry.load("digits:prod", root=tmp_path)


def test_tampered_or_missing_file_is_refused(tmp_path, trained) -> None:
    path = registry.save(trained, "digits", root=tmp_path)
    with (path / "model.keras").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(registry.IntegrityError, match="model.keras does not match the SHA-256"):
        registry.load("digits", root=tmp_path)
    path = registry.save(trained, "digits", root=tmp_path)
    (path / "preprocessing.json").unlink()
    with pytest.raises(registry.IntegrityError, match="preprocessing.json is missing"):
        registry.load("digits@2", root=tmp_path)


def _rehash(path: Path) -> None:
    """What a careful tamperer would do: fix the recorded hash of model.keras."""
    card = json.loads((path / "card.json").read_text())
    card["files"]["model.keras"]["sha256"] = registry.sha256(path / "model.keras")
    (path / "card.json").write_text(json.dumps(card))


def test_lambda_layer_is_refused_in_safe_mode(tmp_path, trained) -> None:
    path = registry.save(trained, "digits", root=tmp_path)
    inputs = keras.Input((8, 8, 1))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(path / "model.keras")
    _rehash(path)
    with pytest.raises(registry.IntegrityError, match="cannot be loaded safely"):
        registry.load("digits", root=tmp_path)


def test_changed_weights_fail_the_reference_check(tmp_path, trained) -> None:
    path = registry.save(trained, "digits", root=tmp_path)
    model = keras.saving.load_model(path / "model.keras")
    kernel = model.get_layer("classifier").kernel
    kernel.assign(np.random.default_rng(0).normal(size=kernel.shape).astype("float32"))
    model.save(path / "model.keras")
    _rehash(path)
    with pytest.raises(registry.IntegrityError, match="does not reproduce its reference outputs"):
        registry.load("digits", root=tmp_path)


def test_unwritable_registry_gives_a_clear_error(tmp_path, trained) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the registry folder should be: fails even for root
    with pytest.raises(zoo.ZooError, match="cannot write to the registry"):
        registry.save(trained, "digits", root=blocker)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_during_a_save_leaves_the_registry_as_it_was(
    tmp_path, trained, monkeypatch
) -> None:
    first = registry.save(trained, "digits", root=tmp_path)
    monkeypatch.setattr(
        cards, "plot_curves", _disk_full
    )  # the disk fills after the model file was written
    with pytest.raises(zoo.ZooError, match="No space left on device.*the registry is unchanged"):
        registry.save(trained, "digits", root=tmp_path)
    assert sorted(
        p.name for p in (tmp_path / "digits").iterdir() if not p.name.startswith(".lock")
    ) == ["1", "aliases.json"]
    assert registry.load("digits", root=tmp_path).version == int(first.name)


def test_a_full_disk_while_checkpointing_stops_training_with_a_clear_error(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", _disk_full)
    with pytest.raises(zoo.ZooError, match="No space left on device.*--resume"):
        zoo.train(
            "one-to-one",
            epochs=2,
            hparams={"units": 16},
            checkpoint_dir=str(tmp_path / "ckpt"),
            verbose=0,
        )


@pytest.mark.parametrize("task", sorted(zoo.all_tasks()))
def test_gradient_clipping_is_on_by_default_for_both_cells(task: str) -> None:
    """SimpleRNNs explode without it (see `zoo diagnose gradients`); LSTMs get it too."""
    from zoo.tasks.base import get_task, hyperparameters
    from zoo.training.fit import load_and_adapt

    built = get_task(task)()
    load_and_adapt(built, built.dataset("embedded"))
    for cell in ("simple_rnn", "lstm"):
        assert (
            built.build_model(hyperparameters({"cell": cell, "units": 16})).optimizer.clipnorm
            == 1.0
        )


def test_sgd_with_momentum_and_a_decaying_rate_trains_saves_and_loads(
    tmp_path, tiny_dataset
) -> None:
    hparams = {"cell": "lstm", "units": 16, "optimizer": "sgd", "learning_rate": 0.05}
    result = zoo.train(
        "one-to-one",
        epochs=3,
        hparams={**hparams, "lr_decay": 500.0},
        dataset=tiny_dataset("one-to-one", train=256),
        verbose=0,
    )
    optimizer = result.model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert (optimizer.momentum, optimizer.clipnorm) == (0.9, 1.0)
    updates = int(optimizer.iterations)  # 3 epochs of 256 examples in batches of the default size
    assert updates > 0
    # Keras' InverseTimeDecay: learning_rate / (1 + lr_decay * updates / 1000)
    assert float(optimizer.learning_rate) == pytest.approx(0.05 / (1 + 0.5 * updates), rel=1e-5)
    assert result.history["loss"][-1] < result.history["loss"][0]
    saved = registry.save(result, "digits-sgd", root=tmp_path)
    loaded = registry.load("digits-sgd", root=tmp_path)  # safe mode; reference outputs hold
    assert loaded.card.hyperparameters["optimizer"] == "sgd"
    assert loaded.card.hyperparameters["momentum"] == 0.9
    assert loaded.card.hyperparameters["lr_decay"] == 500.0 and saved.name == "1"


@pytest.mark.parametrize(
    "task, hparams",
    [
        ("many-to-one", {"bigram_buckets": 512, "units": 16}),
        ("many-to-many-equal", {"char_encoder": "cnn", "units": 16}),
    ],
)
def test_models_with_optional_layers_save_and_load_in_safe_mode(
    tmp_path, tiny_dataset, task: str, hparams: dict
) -> None:
    result = zoo.train(task, epochs=1, hparams=hparams, dataset=tiny_dataset(task), verbose=0)
    registry.save(result, "optional", root=tmp_path)
    loaded = registry.load("optional", root=tmp_path)  # safe mode; reference outputs checked
    layers = {layer.name for layer in loaded.model.layers}
    assert ("bigram_bag" in layers) == (task == "many-to-one")
    if task == "many-to-many-equal":
        assert loaded.model.get_layer("char_encoder").kind == "cnn"


@pytest.mark.slow
def test_loading_does_not_depend_on_which_addresses_objects_get(
    tmp_path, tiny_dataset, monkeypatch
) -> None:
    """`keras.saving.load_model` keys the objects it serializes while loading by `id()`; a
    dropped object's address reused by a later one gave a `Bidirectional` the wrong layer
    (seen once in CI). The worst case of address reuse, every object at one address, makes
    that certain; the registry's loader must not depend on it."""
    from keras.src.saving import serialization_lib  # the fault is injected where it arises

    hparams = {"char_encoder": "rnn", "units": 8, "char_units": 8}
    task = "many-to-many-equal"
    result = zoo.train(task, epochs=1, hparams=hparams, dataset=tiny_dataset(task), verbose=0)
    registry.save(result, "addresses", root=tmp_path)
    monkeypatch.setattr(serialization_lib, "id", lambda obj: 1, raising=False)
    loaded = registry.load("addresses", root=tmp_path)  # reference outputs checked
    model = loaded.model
    wrappers = [model.get_layer("char_encoder").rnn] + [
        layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)
    ]
    assert [(w.forward_layer.go_backwards, w.backward_layer.go_backwards) for w in wrappers] == [
        (False, True),
        (False, True),
    ]
    assert len({id(w) for w in model.weights}) == len(model.weights)


def test_a_decompression_bomb_is_refused_before_it_is_read(tmp_path, monkeypatch) -> None:
    """Keras's `load_model` refuses archive members that expand far beyond their size; the
    zoo's loader must too. The bound is lowered to 1 MiB so the test needs no 4 GiB file."""
    import zipfile

    from zoo.registry import store

    monkeypatch.setattr(store, "_BOMB_FLOOR_BYTES", 1 << 20)
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Model", "pad": "0" * 4_000_000}))
    with pytest.raises(ValueError, match="decompression bomb"):
        store.load_keras_file(path)


def test_a_model_file_whose_config_is_no_model_is_refused(tmp_path) -> None:
    """`deserialize_keras_object` returns a plain dict for a config that names no class; it
    ended in an AttributeError (reported as a bug) instead of a refused file."""
    import zipfile

    from zoo.registry import store

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"layers": []}))
    with pytest.raises(ValueError, match="not a Keras model"):
        store.load_keras_file(path)


def test_an_unknown_optimizer_is_refused_before_any_data_is_read() -> None:
    with pytest.raises(zoo.UnknownNameError, match="optimizer"):
        zoo.train("one-to-one", epochs=1, hparams={"optimizer": "adamw"}, verbose=0)


_SAVER = textwrap.dedent(
    """
    import sys, time, pathlib
    import zoo
    from zoo import registry
    from zoo.registry import cards
    root, go, mode = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
    result = zoo.train("one-to-one", epochs=1, hparams={"cell": "simple_rnn", "units": 16}, verbose=0)
    if mode == "hang":  # stop for good in the middle of writing, to be killed there
        real = cards.plot_curves
        def hang(*args):
            real(*args)
            (root / "inside").touch()
            time.sleep(600)
        cards.plot_curves = hang
    (root / f"ready-{sys.argv[4]}").touch()
    while not go.exists():
        time.sleep(0.05)
    print(registry.save(result, "shared", root=root))
    """
)


def _savers(root: Path, count: int, mode: str) -> list[subprocess.Popen]:
    script = root / "saver.py"
    script.write_text(_SAVER)
    return [
        subprocess.Popen(
            [sys.executable, str(script), str(root), str(root / "go"), mode, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(count)
    ]


def _wait_for(predicate, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


# slow: eight processes, each starting TensorFlow and training a model
@pytest.mark.slow
def test_eight_concurrent_saves_make_eight_intact_versions(tmp_path) -> None:
    procs = _savers(tmp_path, 8, "normal")
    _wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 8)
    (tmp_path / "go").touch()  # all eight save at once
    outputs = [p.communicate(timeout=240)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(Path(o).name for o in outputs) == [str(v) for v in range(1, 9)]
    for version in range(1, 9):
        loaded = registry.load(
            f"shared@{version}", root=tmp_path
        )  # hashes and reference outputs hold
        assert loaded.version == version
    assert json.loads((tmp_path / "shared" / "aliases.json").read_text())["latest"] == 8
    assert not list(tmp_path.glob(".tmp-*")) and not list((tmp_path / "shared").glob(".tmp-*"))


@pytest.mark.slow
def test_kill_9_during_a_save_leaves_the_registry_consistent(tmp_path) -> None:
    [first] = _savers(tmp_path, 1, "normal")
    _wait_for(lambda: (tmp_path / "ready-0").exists())
    (tmp_path / "go").touch()
    assert first.communicate(timeout=240)[0].strip().endswith("shared/1")
    (tmp_path / "go").unlink()
    (tmp_path / "ready-0").unlink()

    [victim] = _savers(tmp_path, 1, "hang")
    _wait_for(lambda: (tmp_path / "ready-0").exists())
    (tmp_path / "go").touch()
    _wait_for(lambda: (tmp_path / "inside").exists())  # files are half written now
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    folder = tmp_path / "shared"
    assert sorted(p.name for p in folder.iterdir() if p.name.isdigit()) == ["1"]
    assert json.loads((folder / "aliases.json").read_text())["latest"] == 1
    assert registry.load("shared", root=tmp_path).version == 1
    # the dead save's staging folder, beside the model's, never visible as a version or a model
    assert list(tmp_path.glob(".tmp-*")) and not list(folder.glob(".tmp-*"))
    second = registry.save(
        zoo.train("one-to-one", epochs=1, hparams={"cell": "simple_rnn", "units": 16}, verbose=0),
        "shared",
        root=tmp_path,
    )
    assert second.name == "2" and not list(tmp_path.glob(".tmp-*"))  # the next save cleans up


def test_a_saved_version_and_its_aliases_get_the_permissions_of_any_new_file(
    tmp_path, trained, umask_022
) -> None:
    version = registry.save(trained, "digits", root=tmp_path)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(version) == 0o755  # not private: a registry can be shared
    assert {p.name: mode(p) for p in version.iterdir()} == {
        p.name: 0o644 for p in version.iterdir()
    }
    assert mode(tmp_path / "digits" / "aliases.json") == 0o644


def test_an_atomic_json_write_that_fails_leaves_the_old_file_and_no_partial_one(
    tmp_path,
) -> None:
    from zoo.registry.layout import write_json_atomic

    target = tmp_path / "aliases.json"
    write_json_atomic(target, {"latest": 1})
    with pytest.raises(TypeError):  # fails after part of the new content was written
        write_json_atomic(target, {"latest": 2, "zz": object()})
    assert json.loads(target.read_text()) == {"latest": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["aliases.json"]


@pytest.mark.slow
def test_a_model_file_replaced_by_one_with_another_input_contract_is_refused(
    tmp_path, tiny_dataset
) -> None:
    """A `model.keras` swapped for one reading another input shape (its hash updated in the
    card) crashed the reference check with a raw ValueError; it is a failed verification."""
    import json

    import keras

    result = zoo.train(
        "one-to-one", dataset=tiny_dataset("one-to-one"), epochs=1, hparams={"units": 8}, verbose=0
    )
    folder = zoo.save(result, "swapped", root=tmp_path)
    other = keras.Sequential(
        [keras.Input((5, 5, 1), dtype="uint8"), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    other.save(folder / registry.MODEL_FILE)
    card = json.loads((folder / registry.CARD_FILE).read_text())
    card["files"][registry.MODEL_FILE] = {
        "bytes": (folder / registry.MODEL_FILE).stat().st_size,
        "sha256": registry.sha256(folder / registry.MODEL_FILE),
    }
    (folder / registry.CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(registry.IntegrityError, match="does not reproduce its reference outputs"):
        zoo.load("swapped", root=tmp_path)
