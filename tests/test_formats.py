"""Files in every supported format become TFDS datasets; bad files get errors naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.data import formats, loading
from zoo.errors import BadInputError

CONLL_TRAIN = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

"""
CONLL_DEV = """Paris NNP I-NP I-LOC
wins VBZ I-VP O
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_conll_goes_through_tfds_conll_builder(tmp_path) -> None:
    _write(tmp_path / "ner" / "eng.train", CONLL_TRAIN)
    _write(tmp_path / "ner" / "eng.testa", CONLL_DEV)
    spec = formats.prepare(tmp_path / "ner", "conll")
    assert spec.tfds_name.startswith("zoo_conll_files/") and spec.test is None
    assert (
        spec.source["examples"] == {"train": 2, "validation": 1}
        and spec.source["format"] == "conll"
    )
    names = loading.info(spec.tfds_name).features["ner"].feature.names
    assert names == ["O", "I-LOC", "I-MISC", "I-ORG", "I-PER"]
    train = list(zoo.get_task("many-to-many-equal")().load(spec, "train").as_numpy_iterator())
    assert sorted(len(ex["tokens"]) for ex in train) == [2, 4]  # no empty or -DOCSTART- example
    assert formats.prepare(tmp_path / "ner", "conll").tfds_name == spec.tfds_name  # stored once


def test_conll_wrong_column_count_names_file_and_line(tmp_path) -> None:
    _write(
        tmp_path / "ner" / "eng.train", CONLL_TRAIN.replace("rejects VBZ I-VP O", "rejects VBZ O")
    )
    _write(tmp_path / "ner" / "eng.testa", CONLL_DEV)
    with pytest.raises(
        BadInputError, match=r"eng.train, line 4: 3 columns, expected 4 \(tokens pos chunks ner\)"
    ):
        formats.prepare(tmp_path / "ner", "conll")


def test_text_per_class_with_latin1_and_seeded_split(tmp_path) -> None:
    folder = tmp_path / "mr"
    _write(
        folder / "rt-polarity.pos",
        "".join(f"a touching film number {i} , très bien\n" for i in range(30)),
        "latin-1",
    )
    _write(
        folder / "rt-polarity.neg",
        "".join(f"a dull film number {i}\n" for i in range(30)),
        "latin-1",
    )
    with pytest.raises(
        BadInputError, match=r"rt-polarity.pos, line 1: not valid utf-8 text; .*--encoding latin-1"
    ):
        formats.prepare(folder, "text-per-class")
    spec = formats.prepare(folder, "text-per-class", encoding="latin-1", seed=3)
    assert spec.source["examples"] == {"train": 54, "validation": 6}
    features = loading.info(spec.tfds_name).features
    assert features["label"].names == ["neg", "pos"]
    texts = [
        ex["text"].decode() for ex in loading.load_tfds(spec.tfds_name, "train").as_numpy_iterator()
    ]
    assert any("très" in t for t in texts)


def test_text_per_class_empty_file(tmp_path) -> None:
    _write(tmp_path / "c" / "pos.txt", "good\n")
    _write(tmp_path / "c" / "neg.txt", "\n\n")
    with pytest.raises(BadInputError, match=r"neg.txt: empty file"):
        formats.prepare(tmp_path / "c", "text-per-class")


def test_parallel_gzip_and_misaligned_files(tmp_path) -> None:
    folder = tmp_path / "mt"
    folder.mkdir()
    for split, n in (("train", 20), ("val", 4)):
        with gzip.open(folder / f"{split}.de.gz", "wt") as handle:
            handle.write("".join(f"ein Hund {i}\n" for i in range(n)))
        with gzip.open(folder / f"{split}.en.gz", "wt") as handle:
            handle.write("".join(f"a dog {i}\n" for i in range(n)))
    spec = formats.prepare(folder, "parallel", source="de", target="en")
    assert spec.fields == {"source": "de", "target": "en"} and spec.source["examples"] == {
        "train": 20,
        "validation": 4,
    }
    first = next(loading.load_tfds(spec.tfds_name, "validation").as_numpy_iterator())
    assert first["de"].decode().startswith("ein Hund") and first["en"].decode().startswith("a dog")
    with gzip.open(folder / "val.en.gz", "wt") as handle:
        handle.write("a dog\n")
    with pytest.raises(BadInputError, match=r"val.de.gz has 4 lines but .*val.en.gz has 1"):
        formats.prepare(folder, "parallel", source="de", target="en")


def test_captions_flickr8k_layout(tmp_path) -> None:
    folder = tmp_path / "flickr"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"img{i}.jpg" for i in range(6)]
    for name in names:
        (folder / "images" / name).write_bytes(
            tf.io.encode_jpeg(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).numpy()
        )
    _write(
        folder / "Flickr8k.token.txt",
        "".join(f"{n}#{k}\ta caption {k} of {n}\n" for n in names for k in range(5)),
    )
    _write(folder / "Flickr_8k.trainImages.txt", "\n".join(names[:4]))
    _write(folder / "Flickr_8k.devImages.txt", "\n".join(names[4:]))
    spec = formats.prepare(folder, "captions", image_size=32)
    example = next(loading.load_tfds(spec.tfds_name, "validation").as_numpy_iterator())
    assert example["image"].shape == (32, 32, 3) and len(example["captions"]["text"]) == 5
    _write(folder / "Flickr_8k.devImages.txt", "missing.jpg")
    with pytest.raises(
        BadInputError, match=r"devImages.txt: 1 images without a file or captions, e.g. missing.jpg"
    ):
        formats.prepare(folder, "captions", image_size=32)


@pytest.mark.slow
def test_training_on_files_records_lineage(tmp_path) -> None:
    folder = tmp_path / "reviews"
    _write(folder / "pos.txt", "".join(f"a wonderful moving film {i}\n" for i in range(40)))
    _write(folder / "neg.txt", "".join(f"a boring tedious film {i}\n" for i in range(40)))
    spec = formats.prepare(folder, "text-per-class", licence="made by the test")
    result = zoo.train(
        "many-to-one", dataset=spec, epochs=1, hparams={"cell": "simple_rnn", "units": 8}, verbose=0
    )
    card = zoo.load(
        str(zoo.save(result, "from-files", root=tmp_path / "registry").parent.name),
        root=tmp_path / "registry",
    ).card
    assert (
        card.dataset.source["sha256"] == spec.source["sha256"]
        and card.dataset.licence == "made by the test"
    )
    assert card.dataset.source["examples"] == {"train": 72, "validation": 8}
    assert (
        f"--data {folder} --format text-per-class --encoding utf-8 --split-seed 0 "
        "--data-licence 'made by the test'" in card.training.command
    )


@pytest.mark.slow
def test_a_model_trained_with_another_seed_than_its_split_records_both(tmp_path) -> None:
    from zoo.cli import main

    folder, registry = tmp_path / "reviews", tmp_path / "registry"
    _write(folder / "pos.txt", "".join(f"a wonderful moving film {i}\n" for i in range(40)))
    _write(folder / "neg.txt", "".join(f"a boring tedious film {i}\n" for i in range(40)))
    args = ["--data", str(folder), "--format", "text-per-class", "--epochs", "1"]
    args += ["--set", "units=8", "--registry", str(registry), "--name", "m"]
    assert main(["train", "many-to-one", *args, "--seed", "3", "--split-seed", "5"]) == 0
    card = zoo.load("m", root=registry).card
    assert card.dataset.source["seeded_split"]["seed"] == 5 and card.training.seed == 3
    assert " --split-seed 5 " in card.training.command and " --seed 3 " in card.training.command
    # the same split as the files prepared with seed 5, not the training seed's
    assert card.dataset.tfds_name == formats.prepare(folder, "text-per-class", seed=5).tfds_name


@pytest.mark.slow
def test_a_models_own_files_are_measured_on_its_own_validation_split(tmp_path, capsys) -> None:
    """A validation split drawn with another seed than the model's holds examples it trained
    on: `zoo evaluate --data` draws it with the model's seed, the API refuses another one."""
    from zoo.cli import main

    folder, registry = tmp_path / "reviews", tmp_path / "registry"
    _write(folder / "pos.txt", "".join(f"a wonderful moving film {i}\n" for i in range(40)))
    _write(folder / "neg.txt", "".join(f"a boring tedious film {i}\n" for i in range(40)))
    spec = formats.prepare(folder, "text-per-class", seed=1)
    result = zoo.train(
        "many-to-one",
        dataset=spec,
        seed=1,
        epochs=1,
        hparams={"cell": "simple_rnn", "units": 8},
        verbose=0,
    )
    zoo.save(result, "seeded", root=registry)
    model = zoo.load("seeded", root=registry)
    own = model.evaluate()  # the files recorded on its card, split as they were for it
    args = ["--data", str(folder), "--format", "text-per-class", "--registry", str(registry)]
    assert main(["evaluate", "seeded", *args]) == 0
    out = capsys.readouterr().out
    assert "(validation: no test split; the model learned from its training split):" in out
    line = next(line for line in out.splitlines() if line.startswith("  validation: "))
    accuracy = line.split("accuracy=")[1].split(",")[0]  # macro_f1 follows it
    assert float(accuracy) == pytest.approx(own["accuracy"], abs=1e-4)
    # the same files split with seed 0: their held-out examples include training ones
    other = formats.prepare(folder, "text-per-class")
    for split in (None, "validation", "all"):
        with pytest.raises(BadInputError, match="seed 0 \\(it was trained with 1\\)"):
            model.evaluate(other, split)
    assert 0 <= model.evaluate(other, "train")["accuracy"] <= 1  # nothing held out: allowed


def test_unknown_format_and_option(tmp_path) -> None:
    with pytest.raises(
        zoo.UnknownNameError, match="unknown data format 'conl'. Did you mean 'conll'"
    ):
        formats.prepare(tmp_path, "conl")
    _write(tmp_path / "c" / "pos.txt", "good\n")
    with pytest.raises(BadInputError, match="columns do not apply to format 'text-per-class'"):
        formats.prepare(tmp_path / "c", "text-per-class", columns="a b")


@pytest.mark.parametrize(
    "tags, scheme",
    [
        (["O", "I-PER", "I-PER", "B-PER"], "IOB1"),
        (["O", "B-PER", "I-PER"], "IOB2"),
        (["O", "S-PER", "B-LOC", "E-LOC"], "BIOES"),
    ],
)
def test_conll_tag_schemes_are_detected_and_any_column_layout_works(
    tmp_path, tags: list[str], scheme: str
) -> None:
    sentence = "".join(f"w{i}\t{tag}\n" for i, tag in enumerate(tags))
    _write(tmp_path / "ner" / "train.conll", sentence + "\n" + sentence)
    _write(tmp_path / "ner" / "dev.conll", sentence)
    spec = formats.prepare(tmp_path / "ner", "conll", columns="tokens ner")
    assert spec.source["tag_scheme"] == scheme
    assert set(loading.info(spec.tfds_name).features["ner"].feature.names) == set(tags)


# one sentence's entities, written by hand in each scheme: two adjacent PERs (where IOB1
# writes B-), a three-token ORG, a one-token LOC, and a type with a hyphen in its name
SAME_ENTITIES = {
    "IOB1": ["I-PER", "I-PER", "B-PER", "O", "I-ORG", "I-ORG", "I-ORG", "I-LOC", "O", "I-NEW-CO"],
    "IOB2": ["B-PER", "I-PER", "B-PER", "O", "B-ORG", "I-ORG", "I-ORG", "B-LOC", "O", "B-NEW-CO"],
    "BIOES": ["B-PER", "E-PER", "S-PER", "O", "B-ORG", "I-ORG", "E-ORG", "S-LOC", "O", "S-NEW-CO"],
}


@pytest.mark.parametrize("source", formats.TAG_SCHEMES)
@pytest.mark.parametrize("target", formats.TAG_SCHEMES)
def test_tags_convert_between_schemes_and_round_trip(source: str, target: str) -> None:
    tags = SAME_ENTITIES[source]
    assert formats.tag_scheme([tags], Path("x")) == source  # the hand-made sequences are right
    converted = formats.convert_tags(tags, target)
    assert converted == SAME_ENTITIES[target]
    assert formats.convert_tags(converted, source) == tags


@pytest.mark.parametrize(
    "tags, scheme, written",
    [
        ([], "IOB2", []),
        (["O", "O"], "BIOES", ["O", "O"]),
        # a different type right after an entity opens a new one, with no B- in IOB1
        (["I-PER", "I-LOC"], "IOB1", ["I-PER", "I-LOC"]),
        (["I-PER", "I-LOC"], "IOB2", ["B-PER", "B-LOC"]),
        # ill-formed input is read by conlleval's rules: I- after O opens an entity, E- ends
        # one, and I- after E- opens the next
        (["O", "I-PER", "O", "B-LOC", "I-LOC"], "IOB2", ["O", "B-PER", "O", "B-LOC", "I-LOC"]),
        (["B-PER", "I-PER", "O", "B-LOC"], "IOB1", ["I-PER", "I-PER", "O", "I-LOC"]),
        (["B-PER", "E-PER", "I-PER"], "IOB1", ["I-PER", "I-PER", "B-PER"]),
        (["B-PER", "I-PER"], "BIOES", ["B-PER", "E-PER"]),
        (["I-PER", "B-PER", "I-PER"], "BIOES", ["S-PER", "B-PER", "E-PER"]),
    ],
)
def test_tag_conversion_edge_cases(tags: list[str], scheme: str, written: list[str]) -> None:
    assert formats.convert_tags(tags, scheme) == written


def test_tag_conversion_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unknown tag scheme 'IOBES': one of IOB1, IOB2, BIOES"):
        formats.convert_tags(["O"], "IOBES")


def test_conll_unknown_tag_scheme(tmp_path) -> None:
    _write(tmp_path / "ner" / "train.txt", "Paris X-LOC\n")
    _write(tmp_path / "ner" / "dev.txt", "Paris O\n")
    with pytest.raises(BadInputError, match="tag 'X-LOC' is neither O nor B-/I-/E-/S-TYPE"):
        formats.prepare(tmp_path / "ner", "conll", columns="tokens ner")


def test_csv_and_tsv_classification(tmp_path) -> None:
    rows = "".join(f'"a fine, moving film {i}",good\n"a dull film {i}",bad\n' for i in range(20))
    _write(tmp_path / "reviews.csv", "review,verdict\n" + rows)
    spec = formats.prepare(tmp_path / "reviews.csv", "csv", columns="review,verdict")
    assert loading.info(spec.tfds_name).features["label"].names == ["bad", "good"]
    assert spec.source["examples"] == {"train": 36, "validation": 4}
    texts = {
        ex["text"].decode() for ex in loading.load_tfds(spec.tfds_name, "train").as_numpy_iterator()
    }
    assert (
        "a fine, moving film 1" in texts or "a fine, moving film 2" in texts
    )  # the quoted comma stays in the text
    _write(
        tmp_path / "tsv" / "train.tsv",
        "text\tlabel\n" + "".join(f"good {i}\tpos\nbad {i}\tneg\n" for i in range(5)),
    )
    _write(tmp_path / "tsv" / "dev.tsv", "text\tlabel\ngood\tpos\nbad\tneg\n")
    assert formats.prepare(tmp_path / "tsv", "csv").source["examples"] == {
        "train": 10,
        "validation": 2,
    }
    _write(tmp_path / "tsv" / "dev.tsv", "text\tlabel\ngood\tpos\tEXTRA\n")
    with pytest.raises(
        BadInputError, match=r"dev.tsv, line 2: 3 columns, expected 2 \(text, label\)"
    ):
        formats.prepare(tmp_path / "tsv", "csv")
    with pytest.raises(
        BadInputError,
        match=r"reviews.csv, line 1: no column 'text' in the header \(review, verdict\)",
    ):
        formats.prepare(tmp_path / "reviews.csv", "csv")
    _write(tmp_path / "empty.csv", "")
    with pytest.raises(BadInputError, match="empty.csv: empty file"):
        formats.prepare(tmp_path / "empty.csv", "csv")


def test_parallel_tsv_pairs(tmp_path) -> None:
    _write(tmp_path / "mt" / "train.tsv", "".join(f"eins {i}\tone {i}\n" for i in range(10)))
    spec = formats.prepare(tmp_path / "mt", "parallel", source="de", target="en")
    assert spec.source["examples"] == {"train": 9, "validation": 1}
    _write(tmp_path / "mt" / "train.tsv", "eins\tone\nzwei two\n")
    with pytest.raises(BadInputError, match=r"train.tsv, line 2: 1 columns, expected 2"):
        formats.prepare(tmp_path / "mt", "parallel", source="de", target="en")


def _images(folder: Path, count: int, color: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(color)
    for i in range(count):
        pixels = np.clip(rng.normal(color, 20, (12, 10, 3)), 0, 255).astype(np.uint8)
        (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())


def test_captions_csv_without_lists(tmp_path) -> None:
    folder = tmp_path / "caps"
    _images(folder / "images", 10, 100)
    _write(
        folder / "captions.csv",
        "image,caption\n"
        + "".join(f"{i}.png,a grey square {i}\n{i}.png,grey {i}\n" for i in range(10)),
    )
    spec = formats.prepare(folder, "captions", image_size=16)
    assert spec.source["examples"] == {"train": 9, "validation": 1}
    example = next(loading.load_tfds(spec.tfds_name, "train").as_numpy_iterator())
    assert example["image"].shape == (16, 16, 3) and len(example["captions"]["text"]) == 2


def test_image_folders_with_and_without_split_folders(tmp_path) -> None:
    for split in ("train", "val"):
        _images(tmp_path / "split" / split / "dark", 6, 40)
        _images(tmp_path / "split" / split / "light", 6, 210)
    spec = formats.prepare(tmp_path / "split", "image-folder", image_size=8)
    assert spec.source["examples"] == {"train": 12, "validation": 12}
    assert loading.info(spec.tfds_name).features["label"].names == ["dark", "light"]
    _images(tmp_path / "flat" / "dark", 10, 40)
    _images(tmp_path / "flat" / "light", 10, 210)
    spec = formats.prepare(tmp_path / "flat", "image-folder", image_size=8)
    assert spec.source["examples"] == {"train": 18, "validation": 2}
    result = zoo.train("one-to-one", dataset=spec, epochs=15, hparams={"units": 16}, verbose=0)
    assert (
        result.metrics["validation"]["accuracy"] == 1.0
    )  # dark against light: trivially separable
    _write(tmp_path / "flat" / "light" / "notes.gif", "GIF89a")
    with pytest.raises(BadInputError, match=r"notes.gif: unknown image format '.gif'"):
        formats.prepare(tmp_path / "flat", "image-folder")
    (tmp_path / "flat" / "light" / "notes.gif").unlink()
    _write(tmp_path / "flat" / "light" / "broken.png", "not a png")
    with pytest.raises(BadInputError, match=r"broken.png: not a readable image"):
        formats.prepare(tmp_path / "flat", "image-folder")


@pytest.mark.slow
def test_any_tfds_dataset_with_renamed_features(tmp_path, monkeypatch) -> None:
    import tensorflow_datasets as tfds

    rows = [
        {"sentence": f"a {w} film {i}", "polarity": int(w == "great")}
        for i in range(40)
        for w in ("great", "awful")
    ]
    tfds.dataset_builders.store_as_tfds_dataset(
        name="my_polarity",
        version="1.0.0",
        data_dir=str(tmp_path),
        features=tfds.features.FeaturesDict(
            {
                "sentence": tfds.features.Text(),
                "polarity": tfds.features.ClassLabel(names=["neg", "pos"]),
            }
        ),
        split_datasets={
            "train": [(str(i), r) for i, r in enumerate(rows)],
            "test": [(str(i), r) for i, r in enumerate(rows[:10])],
        },
    )
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    spec = formats.prepare("my_polarity", "tfds", rename="text=sentence,label=polarity")
    assert (spec.train, spec.validation, spec.test) == ("train[:90%]", "train[90%:]", "test")
    result = zoo.train("many-to-one", dataset=spec, epochs=4, hparams={"units": 8}, verbose=0)
    assert result.metrics["validation"]["accuracy"] >= 0.9
    with pytest.raises(BadInputError, match="--rename must be TASK_FEATURE=DATASET_FEATURE pairs"):
        formats.prepare("my_polarity", "tfds", rename="text=review")


def test_files_of_another_tasks_kind_are_refused_before_any_example_is_read(tmp_path) -> None:
    """Training a sentiment model on CoNLL files, or evaluating a de->en translator on fr-en
    pairs, ended in a `KeyError` (a bug's exit code): the task now names what it reads."""
    conll = formats.prepare(_write(tmp_path / "ner" / "train.txt", CONLL_TRAIN), "conll")
    with pytest.raises(
        BadInputError, match=r"has no text, label \(it has chunks, ner, pos, tokens\): "
    ):
        zoo.train("many-to-one", dataset=conll, epochs=1)
    _write(tmp_path / "mt" / "train.tsv", "".join(f"un {i}\tone {i}\n" for i in range(4)))
    pairs = formats.prepare(tmp_path / "mt", "parallel", source="fr", target="en")
    shipped = Path(__file__).resolve().parent.parent / "saved_models"
    translator = zoo.load("translation-multi30k-de-en-lstm", root=shipped)
    with pytest.raises(
        BadInputError,
        match=r"has no de \(it has en, fr\): a many-to-many-unequal model reads de, en",
    ):
        translator.evaluate(pairs)
