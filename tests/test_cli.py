"""The command line: bad input gives a one-line reason and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def zoo_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zoo", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "many-to-won"],
            "zoo: error: unknown task 'many-to-won'. Did you mean 'many-to-one'",
        ),
        (
            ["train", "many-to-one", "--dataset", "imdb"],
            "unknown dataset for task many-to-one 'imdb'. Did you mean 'imdb_reviews'?",
        ),
        (["train", "many-to-one", "--cell", "gru"], "argument --cell: invalid choice: 'gru'"),
        (["train", "many-to-one", "--set", "cell=gru"], "unknown cell 'gru'"),
        (["predict", "no-such-model", "hello"], "unknown model 'no-such-model'"),
        (["train", "many-to-one", "--data", "reviews.csv"], "--data needs --format, one of: conll"),
    ],
)
def test_bad_input_exits_2_with_a_clear_reason(args: list[str], message: str) -> None:
    done = zoo_cli(*args)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert message in last


def test_tasks_lists_the_five_architectures() -> None:
    done = zoo_cli("tasks")
    assert done.returncode == 0, done.stderr
    for name, dataset in [
        ("one-to-one", "mnist"),
        ("one-to-many", "coco_captions"),
        ("many-to-one", "imdb_reviews"),
        ("many-to-many-equal", "conll2003"),
        ("many-to-many-unequal", "ted_hrlr_translate/pt_to_en"),
    ]:
        assert any(
            line.startswith(name) and dataset in line for line in done.stdout.splitlines()
        ), name


def test_train_predict_and_registry_commands(tmp_path) -> None:
    registry = str(tmp_path / "registry")
    done = zoo_cli(
        "train",
        "many-to-one",
        "--cell",
        "simple_rnn",
        "--epochs",
        "1",
        "--name",
        "cli-test",
        "--registry",
        registry,
    )
    assert done.returncode == 0, done.stderr
    assert "validation: accuracy=" in done.stdout and "saved to" in done.stdout
    done = zoo_cli(
        "predict", "cli-test", "a great film", "the plot was dull", "--registry", registry
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all('"label": "' in line for line in lines)

    done = zoo_cli("models", "cli-*", "-v", "--registry", registry)
    assert done.stdout.startswith("cli-test@1  many-to-one  simple_rnn  accuracy=")
    done = zoo_cli("info", "cli-test", "--registry", registry)
    assert (
        done.stdout.startswith("# cli-test v1") and "## Reference input and outputs" in done.stdout
    )
    done = zoo_cli("evaluate", "cli-test", "--split", "validation", "--registry", registry)
    assert done.returncode == 0 and "cli-test@1 on zoo_reviews (validation):" in done.stdout
    done = zoo_cli("alias", "cli-test@1", "production", "--registry", registry)
    assert done.stdout.strip() == "cli-test:production -> version 1"
    done = zoo_cli(
        "export",
        "cli-test:production",
        "--output",
        str(tmp_path / "served"),
        "--registry",
        registry,
    )
    assert done.returncode == 0 and (tmp_path / "served" / "saved_model.pb").is_file()
    done = zoo_cli(
        "export", "cli-test", "--output", str(tmp_path / "served"), "--registry", registry
    )
    assert done.returncode == 2 and "already exists" in done.stderr


def test_every_choice_the_cli_offers_has_an_implementation() -> None:
    from zoo import constants
    from zoo.data import formats
    from zoo.tuning.search import TUNER_CLASSES

    assert tuple(TUNER_CLASSES) == constants.TUNERS
    assert tuple(formats.READERS) == constants.FORMATS


def test_a_diverging_training_stops_with_a_clear_error_and_saves_nothing(tmp_path) -> None:
    registry = tmp_path / "registry"
    done = zoo_cli(
        "train",
        "one-to-one",
        "--epochs",
        "2",
        "--set",
        "learning_rate=1e38",
        "--registry",
        str(registry),
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert (
        "training diverged: the loss became nan in epoch 1; nothing was saved"
        in done.stderr.strip().splitlines()[-1]
    )
    assert not registry.exists() or not any(registry.iterdir())


NUMERIC_TYPES = ("int", "float", "positive_int", "non_negative_int")
#: positional arguments that let each command's parser reach its options
POSITIONAL = {
    "train": ["many-to-one"],
    "tune": ["many-to-one", "--directory", "d"],
    "retrain": ["m"],
    "stream": ["m", "-"],
    "gradients": ["m"],
}


def _numeric_options() -> list[tuple[list[str], str, object]]:
    """(command words, option, its type) for every option of every command that takes a number."""
    import argparse

    from zoo.cli import build_parser

    found = []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:  # argparse offers no public way to list a parser's options
            if isinstance(action, argparse._SubParsersAction):
                for word, sub in action.choices.items():
                    walk(sub, [*words, word])
            elif action.option_strings and getattr(action.type, "__name__", "") in NUMERIC_TYPES:
                found.append((words, action.option_strings[-1], action.type))

    walk(build_parser(), [])
    return found


def test_every_numeric_option_is_checked_with_exit_2_naming_it(
    capsys: pytest.CaptureFixture,
) -> None:
    """`--epochs -3` ended in a KeyError, `--epochs 0` and `--batch-size 0` silently trained
    with the defaults: every number is now checked before anything runs."""
    from zoo.cli import main

    options = _numeric_options()
    assert len(options) >= 12
    for words, option, kind in options:
        assert kind.__name__ in ("positive_int", "non_negative_int"), (words, option)
        for bad in ("-3", "abc", "1.5") + (("0",) if kind.__name__ == "positive_int" else ()):
            with pytest.raises(SystemExit) as exit_:
                main([*words, *POSITIONAL.get(words[-1], []), option, bad])
            assert exit_.value.code == 2, (words, option, bad)
            assert f"argument {option}" in capsys.readouterr().err.strip().splitlines()[-1]
