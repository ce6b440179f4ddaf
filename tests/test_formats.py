"""Files in every supported format become TFDS datasets; bad files get errors naming file and line."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import data, formats
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
    assert spec.source["examples"] == {"train": 2, "validation": 1} and spec.source["format"] == "conll"
    names = data.info(spec.tfds_name).features["ner"].feature.names
    assert names == ["O", "I-LOC", "I-MISC", "I-ORG", "I-PER"]
    train = list(zoo.get_task("many-to-many-equal")().load(spec, "train").as_numpy_iterator())
    assert sorted(len(ex["tokens"]) for ex in train) == [2, 4]  # no empty or -DOCSTART- example
    assert formats.prepare(tmp_path / "ner", "conll").tfds_name == spec.tfds_name  # stored once


def test_conll_wrong_column_count_names_file_and_line(tmp_path) -> None:
    _write(tmp_path / "ner" / "eng.train", CONLL_TRAIN.replace("rejects VBZ I-VP O", "rejects VBZ O"))
    _write(tmp_path / "ner" / "eng.testa", CONLL_DEV)
    with pytest.raises(BadInputError, match=r"eng.train, line 4: 3 columns, expected 4 \(tokens pos chunks ner\)"):
        formats.prepare(tmp_path / "ner", "conll")


def test_text_per_class_with_latin1_and_seeded_split(tmp_path) -> None:
    folder = tmp_path / "mr"
    _write(folder / "rt-polarity.pos", "".join(f"a touching film number {i} , très bien\n" for i in range(30)), "latin-1")
    _write(folder / "rt-polarity.neg", "".join(f"a dull film number {i}\n" for i in range(30)), "latin-1")
    with pytest.raises(BadInputError, match=r"rt-polarity.pos, line 1: not valid utf-8 text; .*--encoding latin-1"):
        formats.prepare(folder, "text-per-class")
    spec = formats.prepare(folder, "text-per-class", encoding="latin-1", seed=3)
    assert spec.source["examples"] == {"train": 54, "validation": 6}
    features = data.info(spec.tfds_name).features
    assert features["label"].names == ["neg", "pos"]
    texts = [ex["text"].decode() for ex in data.load_tfds(spec.tfds_name, "train").as_numpy_iterator()]
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
    assert spec.fields == {"source": "de", "target": "en"} and spec.source["examples"] == {"train": 20, "validation": 4}
    first = next(data.load_tfds(spec.tfds_name, "validation").as_numpy_iterator())
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
        (folder / "images" / name).write_bytes(tf.io.encode_jpeg(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).numpy())
    _write(folder / "Flickr8k.token.txt", "".join(f"{n}#{k}\ta caption {k} of {n}\n" for n in names for k in range(5)))
    _write(folder / "Flickr_8k.trainImages.txt", "\n".join(names[:4]))
    _write(folder / "Flickr_8k.devImages.txt", "\n".join(names[4:]))
    spec = formats.prepare(folder, "captions", image_size=32)
    example = next(data.load_tfds(spec.tfds_name, "validation").as_numpy_iterator())
    assert example["image"].shape == (32, 32, 3) and len(example["captions"]["text"]) == 5
    _write(folder / "Flickr_8k.devImages.txt", "missing.jpg")
    with pytest.raises(BadInputError, match=r"devImages.txt: 1 images without a file or captions, e.g. missing.jpg"):
        formats.prepare(folder, "captions", image_size=32)


def test_training_on_files_records_lineage(tmp_path) -> None:
    folder = tmp_path / "reviews"
    _write(folder / "pos.txt", "".join(f"a wonderful moving film {i}\n" for i in range(40)))
    _write(folder / "neg.txt", "".join(f"a boring tedious film {i}\n" for i in range(40)))
    spec = formats.prepare(folder, "text-per-class", licence="made by the test")
    result = zoo.train("many-to-one", dataset=spec, epochs=1, hparams={"cell": "simple_rnn", "units": 8}, verbose=0)
    card = zoo.load(str(zoo.save(result, "from-files", root=tmp_path / "registry").parent.name), root=tmp_path / "registry").card
    assert card["dataset"]["source"]["sha256"] == spec.source["sha256"] and card["dataset"]["licence"] == "made by the test"
    assert card["dataset"]["source"]["examples"] == {"train": 72, "validation": 8}
    assert f"--data {folder} --format text-per-class --encoding utf-8 --data-licence 'made by the test'" in card["training"]["command"]


def test_unknown_format_and_option(tmp_path) -> None:
    with pytest.raises(zoo.UnknownNameError, match="unknown data format 'conl'. Did you mean 'conll'"):
        formats.prepare(tmp_path, "conl")
    _write(tmp_path / "c" / "pos.txt", "good\n")
    with pytest.raises(BadInputError, match="columns do not apply to format 'text-per-class'"):
        formats.prepare(tmp_path / "c", "text-per-class", columns="a b")
