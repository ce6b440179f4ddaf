"""Every hyperparameter has a declared type and range that `--set`, `--choice` and the
tuner check before any data is read; a misspelt or unread key is refused (issue 28, items
8 and 9)."""

from __future__ import annotations

import pytest

from zoo.cli import main
from zoo.errors import UnknownNameError, ZooError
from zoo.models import hyperparameters as limits
from zoo.tasks.base import hyperparameters
from zoo.training.fit import hyperparameter_table
from zoo.tuning.search import space

#: values under which more hyperparameters are read (SGD's momentum, the tagger's
#: character CNN and CRF, the dropout between stacked layers, the captioner's encoder)
VARIANTS = {
    "one-to-one": [{}, {"optimizer": "sgd"}],
    "one-to-many": [{}],
    "many-to-one": [{}],
    "many-to-many-equal": [{}, {"char_encoder": "cnn", "crf": True, "layers": 2}],
    "many-to-many-unequal": [{"units_kind": "words"}],
}


@pytest.mark.slow
def test_the_declared_limits_are_exactly_what_the_builders_read() -> None:
    read = {"batch_size"}  # declared by the tuner, which searches it
    for task, variants in VARIANTS.items():
        for values in variants:
            rows = hyperparameter_table(task, {"units": 16, **values})
            assert all(row["allowed"] for row in rows), task  # every name read has limits
            read |= {row["name"] for row in rows}
    # names in LIMITS that no builder reads would be accepted by --set and do nothing
    unread = set(limits.LIMITS) - read
    assert unread <= {"subword_vocabulary", "label_smoothing", "encoder_weights"}, unread


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("units", 1_000_000, "units=1000000 is out of range: units"),
        ("clipnorm", float("inf"), "clipnorm=inf is out of range"),
        ("units", "abc", "units='abc' is not a whole number"),
        ("units", 64.5, "is not a whole number"),
        ("dropout", 1.5, "dropout=1.5 is out of range"),
        ("learning_rate", 0.0, "learning_rate=0.0 is out of range"),
        ("learning_rate", float("nan"), "learning_rate=nan is out of range"),
        ("bidirectional", "yes", "true or false"),
    ],
)
def test_a_value_out_of_its_type_or_range_is_refused_naming_key_value_and_range(
    key: str, value: object, says: str
) -> None:
    with pytest.raises(ZooError, match="takes|true or false") as refused:
        hyperparameters({key: value})
    assert says in str(refused.value)
    with pytest.raises(ZooError):
        space(choices={key: [value]})  # the tuner's --choice values alike


def test_an_unknown_key_is_refused_with_the_closest_one() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'units'"):
        hyperparameters({"unitz": 64})


@pytest.mark.parametrize(
    "args",
    [
        ["train", "one-to-one", "--set", "unitz=64"],
        ["train", "one-to-one", "--set", "units=1000000"],
        ["train", "one-to-one", "--set", "clipnorm=inf"],
        ["tune", "one-to-one", "--directory", "x", "--choice", "units=abc"],
        ["train", "one-to-one", "--set", "units=abc"],
    ],
)
def test_the_command_line_refuses_before_loading_data(
    args: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_data(*a, **k):
        raise AssertionError("data was loaded")

    monkeypatch.setattr("zoo.training.fit.load_and_adapt", no_data)
    monkeypatch.setattr("zoo.tuning.hypermodel.load_and_adapt", no_data)
    assert main(args) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and args[-1].split("=")[0] in error[0]


def test_a_key_the_task_does_not_read_is_refused_before_training(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--set momentum=0.5` with Adam was recorded on the card and did nothing."""

    def no_fit(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr("zoo.training.fit.fit_model", no_fit)
    assert main(["train", "one-to-one", "--set", "momentum=0.5", "--set", "units=8"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "does not read momentum" in error and "--list-hparams" in error


def test_list_hparams_shows_type_default_search_range_and_allowed_values(capsys) -> None:
    assert main(["train", "many-to-one", "--list-hparams"]) == 0
    lines = capsys.readouterr().out.splitlines()  # the table alone (issue 28, item 13)
    assert lines[0].split() == ["name", "type", "value", "searched", "allowed"]
    units = next(line.split() for line in lines if line.startswith("units "))
    assert units[:3] == ["units", "int", "64"] and "[0, 4096]" in " ".join(units)
