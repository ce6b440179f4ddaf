"""Training on files with bad rows (issue 28, item 1): a missing or non-text field, an empty
label or a malformed line is refused by file and line, or, for training only and when asked
(`--skip-bad-rows`), skipped with a count that the model card records; never made a word."""

from __future__ import annotations

from pathlib import Path

import pytest

import zoo
from zoo.cli import build_parser, main
from zoo.data import formats
from zoo.errors import BadInputError

#: each reader that reads fields: its file name, a good row per class (numbered), and three
#: bad rows of kinds it refuses by line
FILES = {
    "csv": (
        "reviews.csv",
        "text,label\n",
        ("a wonderful moving film {},pos", "a boring tedious film {},neg"),
        (",pos", "a film with no label,", "a row,pos,of three cells"),
    ),
    "tsv": (
        "reviews.tsv",
        "text\tlabel\n",
        ("a wonderful moving film {}\tpos", "a boring tedious film {}\tneg"),
        ("\tpos", "a film with no label\t", "a row\tpos\tof three cells"),
    ),
    "jsonl": (
        "reviews.jsonl",
        "",
        (
            '{{"text": "a wonderful moving film {}", "label": "pos"}}',
            '{{"text": "a boring tedious film {}", "label": "neg"}}',
        ),
        ('{"text": null, "label": "pos"}', '{"text": "no label key"}', "not json at all"),
    ),
    "fasttext": (
        "reviews.txt",
        "",
        ("__label__pos a wonderful moving film {}", "__label__neg a boring tedious film {}"),
        ("__label__pos", "a film with no label", "__label__ an empty label"),
    ),
    "trec": (
        "train_5500.label",
        "",
        ("DESC:manner How did film {} move you ?", "NUM:date When was film {} made ?"),
        ("no label here", "DESC:manner", "desc manner How ?"),
    ),
}
GOOD = 20  # rows per class


def _write(folder: Path, kind: str, bad: bool = True) -> tuple[Path, list[int]]:
    """A file of `kind` with GOOD rows per class and, with `bad`, the three bad rows spread
    among them; returns its path and the bad rows' line numbers."""
    name, header, good, bad_rows = FILES[kind]
    lines = [row.format(i) for i in range(GOOD) for row in good]
    at = [3, 17, 30]  # after these many good rows
    for offset, (index, row) in enumerate(zip(at, bad_rows if bad else (), strict=False)):
        lines.insert(index + offset, row)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    first = 2 if header else 1
    return path, [first + i + offset for offset, i in enumerate(at)] if bad else []


def _format(kind: str) -> str:
    return "csv" if kind == "tsv" else kind


@pytest.mark.parametrize("kind", FILES)
def test_bad_rows_are_refused_by_line_or_skipped_and_counted(tmp_path, kind) -> None:
    path, lines = _write(tmp_path, kind)
    # a CSV file's widths are checked before its fields: a bad row, not always the first
    with pytest.raises(BadInputError, match=rf"{path.name}, line ({'|'.join(map(str, lines))}): "):
        formats.prepare(path, _format(kind))
    spec = formats.prepare(path, _format(kind), skip_bad_rows=True)
    assert spec.source["skipped_rows"] == {
        "count": 3,
        "first": [f"{path}, line {n}" for n in lines],
    }
    assert sum(spec.source["examples"].values()) == 2 * GOOD
    assert spec.source["options"]["skip_bad_rows"] is True
    # the good rows alone, read without the option: the same examples, another dataset
    clean, _ = _write(tmp_path / "clean", kind, bad=False)
    plain = formats.prepare(clean, _format(kind))
    assert (
        "skipped_rows" not in plain.source and plain.source["examples"] == (spec.source["examples"])
    )


@pytest.mark.parametrize("kind", FILES)
def test_a_file_of_bad_rows_only_is_refused_even_when_skipping(tmp_path, kind) -> None:
    name, header, _, bad_rows = FILES[kind]
    (tmp_path / name).write_text(header + "\n".join(bad_rows) + "\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=rf"{name}: none of its 3 rows can be read"):
        formats.prepare(tmp_path / name, _format(kind), skip_bad_rows=True)


def test_a_validation_file_of_bad_rows_only_is_refused(tmp_path) -> None:
    _write(tmp_path, "csv")
    (tmp_path / "reviews.csv").rename(tmp_path / "train.csv")
    (tmp_path / "dev.csv").write_text("text,label\n,pos\nno label,\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"dev.csv: none of its 2 rows can be read"):
        formats.prepare(tmp_path, "csv", skip_bad_rows=True)


# every reader's rows are checked above without training; README command 2 trains on the CSV
# only, the other formats train with the slow tests
@pytest.mark.parametrize(
    "kind", [pytest.param(k, marks=() if k == "csv" else pytest.mark.slow) for k in FILES]
)
def test_zoo_train_refuses_bad_rows_or_skips_them_when_asked(tmp_path, capsys, kind) -> None:
    path, lines = _write(tmp_path / "data", kind)
    registry = tmp_path / "registry"
    args = ["train", "many-to-one", "--data", str(path), "--format", _format(kind)]
    args += ["--epochs", "1", "--set", "units=4", "--set", "embedding_dim=4"]
    args += ["--registry", str(registry), "--name", "m"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert any(f"{path.name}, line {n}:" in err for n in lines) and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not registry.exists() or not list(registry.iterdir())  # nothing trained

    assert main([*args, "--skip-bad-rows"]) == 0
    err = capsys.readouterr().err
    where = "; ".join(f"{path}, line {n}" for n in lines)
    assert f"data: skipped 3 bad row(s) (--skip-bad-rows; the card records it): {where}\n" in err
    card = zoo.load("m", root=registry).card
    assert card.dataset.source["skipped_rows"]["count"] == 3
    assert sum(card.dataset.source["examples"].values()) == 2 * GOOD
    assert " --skip-bad-rows " in card.training.command
    assert "3 bad rows skipped" in card.readme()


@pytest.mark.slow
def test_evaluate_never_skips(tmp_path, capsys) -> None:
    """A model trained with skipped rows is still measured on whole files only."""
    path, lines = _write(tmp_path / "data", "csv")
    registry = str(tmp_path / "registry")
    args = ["--data", str(path), "--format", "csv", "--registry", registry]
    train = ["train", "many-to-one", *args, "--epochs", "1", "--set", "units=4", "--name", "m"]
    assert main([*train, "--skip-bad-rows"]) == 0
    assert main(["evaluate", "m", *args]) == 2
    err = capsys.readouterr().err
    assert any(f"{path.name}, line {n}:" in err for n in lines)
    with pytest.raises(SystemExit) as exit_:  # evaluate has no such flag
        build_parser().parse_args(["evaluate", "m", *args, "--skip-bad-rows"])
    assert exit_.value.code == 2


@pytest.mark.parametrize(
    "command", [["tune", "many-to-one", "--directory", "d"], ["retrain", "parent"]]
)
def test_tune_and_retrain_take_the_flag_to_the_readers(command, monkeypatch) -> None:
    from types import SimpleNamespace

    from zoo.cli import _common

    seen = {}

    def prepare(path: str, fmt: str, **options: object) -> SimpleNamespace:
        seen.update(options)
        return SimpleNamespace(source=None)

    monkeypatch.setattr(formats, "prepare", prepare)
    args = build_parser().parse_args([*command, "--data", "x.csv", "--format", "csv"])
    _common.dataset(args)
    assert "skip_bad_rows" not in {k for k, v in seen.items() if v is not None}
    args = build_parser().parse_args(
        [*command, "--data", "x.csv", "--format", "csv", "--skip-bad-rows"]
    )
    _common.dataset(args)
    assert seen["skip_bad_rows"] is True
