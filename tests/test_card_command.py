"""A model card's reproduce command runs as written from any folder (issue 28, item 15):
shell-quoted, the data's path absolute, no placeholder text, the registry, name, `--set`
values and seed it was trained with."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

import zoo
from zoo.cli import main
from zoo.cli._common import hparam
from zoo.registry.cards import _cli_value


def _reviews(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"a wonderful moving film {i},pos\na boring tedious film {i},neg" for i in range(20)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.slow
def test_the_command_of_a_model_trained_from_a_relative_path_with_spaces_runs_elsewhere(
    tmp_path, monkeypatch
) -> None:
    data = _reviews(tmp_path / "my data" / "reviews 1.csv")
    registry = tmp_path / "my registry"
    monkeypatch.chdir(tmp_path)
    args = ["train", "many-to-one", "--data", "my data/reviews 1.csv", "--format", "csv"]
    args += ["--epochs", "1", "--seed", "3", "--set", "units=4", "--set", "embedding_dim=4"]
    args += ["--set", "optimizer=sgd", "--registry", "my registry", "--name", "m"]
    assert main(args) == 0
    command = zoo.load("m", root=registry).card.training.command
    argv = shlex.split(command)
    assert argv[:3] == ["zoo", "train", "many-to-one"]
    assert _value(argv, "--data") == str(data.resolve())
    assert _value(argv, "--registry") == str(registry.resolve())
    assert (_value(argv, "--name"), _value(argv, "--seed")) == ("m", "3")
    assert {"units=4", "embedding_dim=4", "optimizer=sgd"} <= set(argv)
    assert "--data-licence" not in argv and "not stated" not in command  # none was given

    # run as written from another folder: a second version, whose command is the same
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(argv[1:]) == 0
    again = zoo.load("m@2", root=registry).card
    assert again.training.command == command and again.dataset.tfds_name == (
        zoo.load("m@1", root=registry).card.dataset.tfds_name
    )


@pytest.mark.slow
def test_a_given_licence_is_quoted_and_the_default_registry_is_not_named(
    tmp_path, monkeypatch
) -> None:
    from zoo.data import formats

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.chdir(tmp_path)
    _reviews(tmp_path / "reviews.csv")
    spec = formats.prepare("reviews.csv", "csv", licence="CC BY 4.0; cite 'me'")
    assert spec.source["path"] == str((tmp_path / "reviews.csv").resolve())
    result = zoo.train(
        "many-to-one", dataset=spec, epochs=1, hparams={"cell": "simple_rnn", "units": 4}, verbose=0
    )
    argv = shlex.split(zoo.load(zoo.save(result, "lic").parent.name).card.training.command)
    assert _value(argv, "--data-licence") == "CC BY 4.0; cite 'me'"
    assert "--registry" not in argv and _value(argv, "--name") == "lic"


@pytest.mark.parametrize(
    "value", [True, None, 0.001, 64, "adam", "123", "true", "a b", [64, 32], ["x", "y"]]
)
def test_set_values_read_back_as_they_were(value) -> None:
    assert hparam(f"key={_cli_value(value)}") == ("key", value)
