"""The classification formats' labels (`zoo.data.formats._labels`) and the formats of issue 27
(jsonl, text-folder, trec, fasttext, csv with a label delimiter): natural label order, the
stored features, the stratified split, and errors that name file and line."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from zoo.data import formats, loading
from zoo.errors import BadInputError

TREC = Path(__file__).resolve().parents[2] / "shared" / "data" / "questions" / "train_5500.label"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _examples(spec, split: str) -> list[tuple[str, object]]:
    """(text, label names) of a stored split, in stored order: one name, or a list of names."""
    names = _label(spec).names
    found = []
    for ex in loading.load_tfds(spec.tfds_name, split).as_numpy_iterator():
        label = ex["label"]
        found.append(
            (
                ex["text"].decode(),
                [names[i] for i in label] if label.ndim else names[int(label)],
            )
        )
    return found


def _label(spec) -> tfds.features.ClassLabel:
    feature = loading.info(spec.tfds_name).features["label"]
    return feature.feature if isinstance(feature, tfds.features.Sequence) else feature


# --- natural order, the stored label set --------------------------------------------------------


def test_label_names_are_in_natural_order() -> None:
    assert formats.natural_order(["10", "2", "1"]) == ["1", "2", "10"]
    assert formats.natural_order(["class10", "class2", "class1"]) == ["class1", "class2", "class10"]
    assert formats.natural_order(["pos", "neg"]) == ["neg", "pos"]
    assert formats.natural_order(["b", "a10", "a9"]) == ["a9", "a10", "b"]


def test_a_five_class_csv_stores_five_names_in_natural_order(tmp_path) -> None:
    stars = ["1", "2", "3", "5", "10"]
    rows = "".join(f"review {i} {s},{s}\n" for i in range(10) for s in stars)
    spec = formats.prepare(_write(tmp_path / "stars.csv", "text,label\n" + rows), "csv")
    features = loading.info(spec.tfds_name).features
    assert isinstance(features["label"], tfds.features.ClassLabel)
    assert features["label"].names == ["1", "2", "3", "5", "10"]
    assert all(text.endswith(f" {label}") for text, label in _examples(spec, "train"))
    assert spec.source["options"]["stratify"] is True


# --- the stratified split ---------------------------------------------------------------------------


def test_the_stratified_split_keeps_every_class_in_both_splits(tmp_path) -> None:
    sizes = {"big": 30, "mid": 15, "rare": 5}
    rows = "".join(f"{label} text {i},{label}\n" for label, n in sizes.items() for i in range(n))
    _write(tmp_path / "data.csv", "text,label\n" + rows)
    spec = formats.prepare(tmp_path / "data.csv", "csv", seed=3)
    assert spec.source["examples"] == {"train": 45, "validation": 5}
    train, validation = (_examples(spec, s) for s in ("train", "validation"))
    assert Counter(label for _, label in validation) == {"big": 3, "mid": 1, "rare": 1}
    assert Counter(label for _, label in train) == {"big": 27, "mid": 14, "rare": 4}
    assert not {t for t, _ in train} & {t for t, _ in validation}
    # the same seed draws the same split; another seed another one
    assert (
        _examples(formats.prepare(tmp_path / "data.csv", "csv", seed=3), "validation") == validation
    )
    other = formats.prepare(tmp_path / "data.csv", "csv", seed=4)
    assert _examples(other, "validation") != validation
    assert "10 % of each class of train (seed 3)" in formats.split_summary(spec.source)


#: what the readers before issue 27 stored for these files with seed 7 (run at ee46628)
OLD_CSV = {
    "tfds_name": "zoo_csv_text/cf5efd905ba1dceb",
    "validation": [("review 21", "neg"), ("review 15", "neg"), ("review 5", "so-so")],
    "train_head": [("review 8", "so-so"), ("review 25", "pos"), ("review 3", "neg")],
}
OLD_TEXT_PER_CLASS = {
    "tfds_name": "zoo_text_per_class/863ae4ef52d83462",
    "validation": [("good 6", "pos"), ("good 0", "pos"), ("bad 5", "neg")],
    "train_head": [("bad 8", "neg"), ("good 10", "pos"), ("bad 3", "neg")],
}


def test_without_stratify_the_split_and_the_stored_dataset_are_the_old_ones(tmp_path) -> None:
    """Models trained before issue 27 recorded no `stratify`; read with `stratify=False`,
    their files give the very dataset (name, split, order) they were trained on."""
    labels = ["neg", "pos", "so-so"]
    rows = "".join(f"review {i},{labels[i % 3]}\n" for i in range(30))
    _write(tmp_path / "reviews.csv", "text,label\n" + rows)
    _write(tmp_path / "tpc" / "pos.txt", "".join(f"good {i}\n" for i in range(15)))
    _write(tmp_path / "tpc" / "neg.txt", "".join(f"bad {i}\n" for i in range(15)))
    for spec, old in (
        (formats.prepare(tmp_path / "reviews.csv", "csv", seed=7, stratify=False), OLD_CSV),
        (
            formats.prepare(tmp_path / "tpc", "text-per-class", seed=7, stratify=False),
            OLD_TEXT_PER_CLASS,
        ),
    ):
        assert spec.tfds_name == old["tfds_name"]
        assert _examples(spec, "validation") == old["validation"]
        train = _examples(spec, "train")
        assert len(train) == 27 and train[:3] == old["train_head"]
        assert spec.source["options"]["stratify"] is False
    # the split itself, on a plain list
    assert formats._dataset.seeded_split(list(range(20)), 3) == {
        "train": [6, 5, 15, 16, 2, 12, 0, 1, 13, 10, 19, 9, 14, 11, 4, 17, 18, 7],
        "validation": [8, 3],
    }


def test_a_class_of_one_example_is_refused_naming_it(tmp_path) -> None:
    rows = "".join(f"q {i},DESC:manner\n" for i in range(5)) + "what is it,ABBR:exp\n"
    _write(tmp_path / "q.csv", "text,label\n" + rows)
    with pytest.raises(
        BadInputError,
        match=r"q.csv: class 'ABBR:exp' has 1 example; each class needs at least 2 to appear in "
        r"both the training and the validation split: add examples or drop the class",
    ):
        formats.prepare(tmp_path / "q.csv", "csv")
    # the old split takes it as it comes
    assert formats.prepare(tmp_path / "q.csv", "csv", stratify=False).source["examples"] == {
        "train": 5,
        "validation": 1,
    }


def test_one_label_value_and_an_empty_label_are_refused(tmp_path) -> None:
    _write(tmp_path / "one.csv", "text,label\n" + "good,pos\n" * 5)
    with pytest.raises(
        BadInputError,
        match=r"one.csv: only the label 'pos'; classification needs at least two labels",
    ):
        formats.prepare(tmp_path / "one.csv", "csv")
    _write(tmp_path / "gap.csv", "text,label\n" + "good,pos\nbad,neg\n" * 2 + "fine, \n")
    with pytest.raises(
        BadInputError,
        match=r"gap.csv, line 6: empty label; every row needs a label \(or drop the row\)",
    ):
        formats.prepare(tmp_path / "gap.csv", "csv")
    # TFDS keeps label names one a line: a quoted label with a line break would split in two
    _write(tmp_path / "wrapped.csv", "text,label\n" + "good,pos\nbad,neg\n" * 2 + 'ok,"a\nb"\n')
    with pytest.raises(BadInputError, match=r"wrapped.csv, line 6: the label 'a\\nb' holds a line"):
        formats.prepare(tmp_path / "wrapped.csv", "csv")


# --- multi-label --------------------------------------------------------------------------------------


def test_a_csv_label_delimiter_stores_a_sequence_of_labels(tmp_path) -> None:
    rows = "".join(
        f'"news {i}",sports|politics\n"match {i}", sports \n"note {i}",\n"vote {i}",politics|politics\n'
        for i in range(5)
    )
    _write(tmp_path / "train.csv", "text,label\n" + rows)
    _write(tmp_path / "dev.csv", 'text,label\n"both",politics|sports\n"none",\n')
    spec = formats.prepare(tmp_path, "csv", label_delimiter="|")
    feature = loading.info(spec.tfds_name).features["label"]
    assert isinstance(feature, tfds.features.Sequence)
    assert isinstance(feature.feature, tfds.features.ClassLabel)
    assert feature.feature.names == ["politics", "sports"]
    assert _examples(spec, "validation") == [("both", ["politics", "sports"]), ("none", [])]
    train = dict(_examples(spec, "train"))
    assert train["news 0"] == ["politics", "sports"] and train["match 0"] == ["sports"]
    assert train["note 0"] == [] and train["vote 0"] == ["politics"]  # none, and no repeat
    assert spec.source["options"]["label_delimiter"] == "|"


def test_jsonl_with_labels_lists_and_numbers(tmp_path) -> None:
    lines = [{"text": f"film {i}", "stars": s} for i in range(4) for s in (1, 2, 10)]
    _write(tmp_path / "stars.jsonl", "\n\n".join(json.dumps(x) for x in lines) + "\n")
    spec = formats.prepare(tmp_path / "stars.jsonl", "jsonl", columns="text,stars")
    assert _label(spec).names == ["1", "2", "10"]
    assert isinstance(loading.info(spec.tfds_name).features["label"], tfds.features.ClassLabel)
    tagged = [
        {"text": "a goal", "label": ["sports"]},
        {"text": "a vote", "label": ["politics", "politics"]},
        {"text": "a match vote", "label": ["sports", "politics"]},
        {"text": "nothing", "label": []},
    ] * 3
    _write(tmp_path / "tags" / "train.jsonl", "".join(json.dumps(x) + "\n" for x in tagged))
    spec = formats.prepare(tmp_path / "tags", "jsonl")
    assert isinstance(loading.info(spec.tfds_name).features["label"], tfds.features.Sequence)
    stored = dict(_examples(spec, "train") + _examples(spec, "validation"))
    assert stored == {
        "a goal": ["sports"],
        "a vote": ["politics"],
        "a match vote": ["politics", "sports"],
        "nothing": [],
    }
    _write(
        tmp_path / "tags" / "train.jsonl",
        '{"text": "x", "label": ["a"]}\n{"text": "y", "label": ["a", null]}\n',
    )
    with pytest.raises(BadInputError, match=r"train.jsonl, line 2: the label 'label' is null"):
        formats.prepare(tmp_path / "tags", "jsonl")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "x", "label": null}', "the label 'label' is null"),
        ('{"text": "x", "label": NaN}', "the label 'label' is nan"),
        ('{"text": "x", "label": 3.5}', "the label 'label' is the number 3.5"),
        ('{"text": "x", "label": {"a": 1}}', "the label 'label' is an object"),
        ('{"text": "x", "label": true}', "the label 'label' is true"),
        ('{"text": ["a", "b"], "label": "pos"}', "the text 'text' is a list"),
        ('{"text": null, "label": "pos"}', "the text 'text' is null"),
        ('{"text": 7, "label": "pos"}', "the text 'text' is the number 7"),
        ('{"text": {"a": 1}, "label": "pos"}', "the text 'text' is an object"),
        ('{"text": false, "label": "pos"}', "the text 'text' is false"),
        ('{"text": "x"}', "no key 'label' \\(keys: text\\); set --columns TEXT,LABEL"),
        ('["x", "pos"]', "expected a JSON object"),
        ('{"text": "x", "label": "pos"', "not valid JSON"),
        ('{"text": "x", "label": ' + "9" * 5000 + "}", "JSON that Python does not read"),
        ('{"text": "x", "label": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON that Python"),
        ('{"text": "x", "label": ["pos"]}', "the label is a list, but at .*line 1 it is a single"),
    ],
)
def test_jsonl_values_that_are_no_text_or_label_are_refused_naming_the_line(
    tmp_path, line, message
) -> None:
    good = '{"text": "fine", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'
    _write(tmp_path / "data.jsonl", good + "\n" + line + "\n")
    with pytest.raises(BadInputError, match=f"data.jsonl, line 4: {message}"):
        formats.prepare(tmp_path / "data.jsonl", "jsonl")


# --- fastText ---------------------------------------------------------------------------------------


def test_fasttext_lines_single_and_multi_label(tmp_path) -> None:
    lines = "".join(
        f"__label__baking How to bake bread {i} ?\n__label__tea  steep green tea {i}\n"
        for i in range(5)
    )
    spec = formats.prepare(_write(tmp_path / "cooking.train", lines), "fasttext")
    assert _label(spec).names == ["baking", "tea"]
    assert isinstance(loading.info(spec.tfds_name).features["label"], tfds.features.ClassLabel)
    assert ("steep green tea 0", "tea") in _examples(spec, "train") + _examples(spec, "validation")
    _write(tmp_path / "multi" / "cooking.train", lines + "__label__baking __label__tea tea cake\n")
    _write(tmp_path / "multi" / "cooking.valid", "__label__tea __label__baking scones\n")
    spec = formats.prepare(tmp_path / "multi", "fasttext")
    assert isinstance(loading.info(spec.tfds_name).features["label"], tfds.features.Sequence)
    assert _examples(spec, "validation") == [("scones", ["baking", "tea"])]
    assert ("tea cake", ["baking", "tea"]) in _examples(spec, "train")
    _write(tmp_path / "hash" / "train.txt", "#a one\n#b two\n#a three\n#b four\n")
    spec = formats.prepare(tmp_path / "hash", "fasttext", label_prefix="#", stratify=False)
    assert _label(spec).names == ["a", "b"]
    _write(tmp_path / "bad.txt", lines + "no label here\n")
    with pytest.raises(BadInputError, match=r"bad.txt, line 11: no label: a fastText line starts"):
        formats.prepare(tmp_path / "bad.txt", "fasttext")
    _write(tmp_path / "bare.txt", lines + "__label__tea\n")
    with pytest.raises(BadInputError, match=r"bare.txt, line 11: no text after the labels"):
        formats.prepare(tmp_path / "bare.txt", "fasttext")


# --- TREC -------------------------------------------------------------------------------------------

TREC_LINES = """DESC:manner How did serfdom develop in and then leave Russia ?
ENTY:cremat What films featured the character Popeye Doyle ?
DESC:def What is an atom ?
HUM:ind Who killed Gandhi ?
LOC:city What is the capital of Peru ?
NUM:date When did the war end ?
ABBR:exp What does NASA stand for ?
ABBR:abb What is the abbreviation for Texas ?
"""


def test_trec_coarse_and_fine_labels(tmp_path) -> None:
    _write(tmp_path / "q" / "train_5500.label", TREC_LINES * 3)
    _write(tmp_path / "q" / "TREC_10.label", TREC_LINES)
    spec = formats.prepare(tmp_path / "q", "trec")
    assert _label(spec).names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert spec.source["not_used"] == ["TREC_10.label"]  # its name says no split
    stored = _examples(spec, "train") + _examples(spec, "validation")
    assert ("Who killed Gandhi ?", "HUM") in stored and len(stored) == 24
    (tmp_path / "q" / "TREC_10.label").rename(tmp_path / "q" / "test.label")
    spec = formats.prepare(tmp_path / "q", "trec", labels="fine")
    assert _label(spec).names == [
        "ABBR:abb",
        "ABBR:exp",
        "DESC:def",
        "DESC:manner",
        "ENTY:cremat",
        "HUM:ind",
        "LOC:city",
        "NUM:date",
    ]
    assert spec.source["examples"] == {"train": 16, "validation": 8, "test": 8}
    assert ("What does NASA stand for ?", "ABBR:exp") in _examples(spec, "test")
    with pytest.raises(BadInputError, match="--labels for trec is 'coarse'"):
        formats.prepare(tmp_path / "q", "trec", labels="medium")
    _write(tmp_path / "bad.label", TREC_LINES + "What is this ?\n")
    with pytest.raises(BadInputError, match=r"bad.label, line 9: expected 'COARSE:fine question'"):
        formats.prepare(tmp_path / "bad.label", "trec")


@pytest.mark.skipif(not TREC.is_file(), reason="the TREC training file is not beside the checkout")
def test_the_published_trec_training_file(tmp_path) -> None:
    spec = formats.prepare(TREC, "trec")
    assert _label(spec).names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert sum(spec.source["examples"].values()) == 5452
    validation = Counter(label for _, label in _examples(spec, "validation"))
    assert set(validation) == set(_label(spec).names) and validation["ABBR"] == 8
    fine = formats.prepare(TREC, "trec", labels="fine")
    assert len(_label(fine).names) == 50


# --- text folders -------------------------------------------------------------------------------------


def test_text_folders_per_class_and_per_split(tmp_path) -> None:
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label, word in (("pos", "great"), ("neg", "awful")):
            for i in range(10):
                _write(root / split / label / f"{i}_7.txt", f"a {word} film {split} {i}\n")
    _write(root / "train" / "pos" / ".DS_Store", "junk")
    _write(root / "train" / "pos" / "notes.feat", "not text")
    _write(root / "train" / "labeledBow.feat", "loose")
    _write(root / "README", "notes")
    spec = formats.prepare(root, "text-folder")
    assert _label(spec).names == ["neg", "pos"]
    assert spec.source["examples"] == {"train": 18, "validation": 2, "test": 20}
    assert spec.source["split_files"] == {"train": ["train"], "test": ["test"]}
    assert set(spec.source["not_used"]) == {"labeledBow.feat", "notes.feat"}
    test = _examples(spec, "test")
    assert ("a great film test 3", "pos") in test and len(test) == 20
    flat = formats.prepare(root / "train", "text-folder", stratify=False)
    assert flat.source["examples"] == {"train": 18, "validation": 2}
    _write(root / "train" / "neg" / "empty.txt", "  \n")
    with pytest.raises(BadInputError, match=r"empty.txt: empty file; each file holds one example"):
        formats.prepare(root, "text-folder")


# --- the command line -------------------------------------------------------------------------------


def test_the_new_flags_reach_the_readers(tmp_path) -> None:
    from zoo.cli import build_parser
    from zoo.cli._common import dataset

    rows = "".join(f"t{i},a|b\nu{i},b\n" for i in range(5))
    _write(tmp_path / "m.csv", "text,label\n" + rows)
    args = build_parser().parse_args(
        ["train", "many-to-one", "--data", str(tmp_path / "m.csv"), "--format", "csv"]
        + ["--label-delimiter", "|", "--no-stratify"]
    )
    spec = dataset(args)
    assert spec.source["options"]["label_delimiter"] == "|"
    assert spec.source["options"]["stratify"] is False
    assert isinstance(loading.info(spec.tfds_name).features["label"], tfds.features.Sequence)
    _write(tmp_path / "q.label", TREC_LINES * 2)
    args = build_parser().parse_args(
        ["train", "many-to-one", "--data", str(tmp_path / "q.label"), "--format", "trec"]
        + ["--labels", "fine"]
    )
    assert dataset(args).source["options"]["labels"] == "fine"
    with pytest.raises(BadInputError, match="option\\(s\\) labels do not apply to format 'csv'"):
        formats.prepare(tmp_path / "m.csv", "csv", labels="fine")


def test_the_classification_formats_are_those_whose_readers_stratify() -> None:
    import inspect

    from zoo.constants import CLASSIFICATION_FORMATS

    stratifying = tuple(
        name
        for name, read in formats.READERS.items()
        if "stratify" in inspect.signature(read).parameters
    )
    assert stratifying == CLASSIFICATION_FORMATS


def test_a_jsonl_lone_surrogate_is_refused_naming_the_line(tmp_path) -> None:
    _write(
        tmp_path / "s.jsonl", '{"text": "a", "label": "x"}\n{"text": "b\\ud800", "label": "y"}\n'
    )
    with pytest.raises(BadInputError, match=r"s.jsonl, line 2: the text 'text' holds '\\ud800'"):
        formats.prepare(tmp_path / "s.jsonl", "jsonl")


def test_a_cards_command_reproduces_the_new_options(tmp_path) -> None:
    from types import SimpleNamespace

    from zoo.registry.cards import _dataset_arguments

    rows = "".join(f"t{i},a|b\nu{i},b\n" for i in range(5))
    _write(tmp_path / "m.csv", "text,label\n" + rows)
    for stratify, flag in ((True, ""), (False, " --no-stratify")):
        spec = formats.prepare(tmp_path / "m.csv", "csv", label_delimiter="|", stratify=stratify)
        command = shlex.join(_dataset_arguments(SimpleNamespace(spec=spec, dataset=None)))
        assert command.startswith(f"--data {tmp_path / 'm.csv'} --format csv --encoding utf-8 ")
        # no licence was given: the command gives none (not the card's placeholder text)
        assert command.endswith(f" --label-delimiter '|' --split-seed 0{flag}")
