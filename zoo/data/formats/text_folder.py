"""Folders of text files per class (`--format text-folder`), one example a file, as Keras's
`text_dataset_from_directory` reads them: `<class>/*.txt`, or `train/<class>/*.txt` and so
on (aclImdb's `train/pos/0_9.txt`)."""

from __future__ import annotations

from pathlib import Path

from zoo.data.formats import _files, _labels
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError


def _class_texts(folder: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(text file, class) pairs under a folder of class folders (`_files.class_files`); only
    `.txt` files are examples, as in Keras, the others are not used."""
    examples, unused = _files.class_files(folder)
    texts = [(file, label) for file, label in examples if file.suffix.lower() == ".txt"]
    return texts, unused + [file for file, _ in examples if file.suffix.lower() != ".txt"]


def _text(file: Path, encoding: str) -> str:
    text = _files.read_text(file, encoding).strip()
    if not text:
        raise BadInputError(
            f"{file}: empty file; each file holds one example: add its text or remove it."
        )
    return text


@reader("text-folder")
def text_folder(
    path: Path,
    *,
    encoding: str = "utf-8",
    seed: int = 0,
    stratify: bool = True,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """One folder of text files per class -> a TFDS dataset of `text` and `label`.

    Args:
        path: a folder holding one sub-folder per class of `.txt` files, one example a file
            (its whole text, stripped; a file may sit deeper inside its class folder), or
            split folders (`train/`, `val/` or `dev/`, `test/`, matched by whole name parts)
            each holding such class folders. Hidden files and folders, notes (README, ...),
            loose files and files other than `.txt` are not used. Every class folder is a
            class: move folders of unlabelled text (aclImdb's `train/unsup/`) out first.
        encoding: the files' text encoding.
        seed: seed of the validation split (10 %) made where the data has none.
        stratify: draw 10 % of each class for validation (`_labels.stratified_split`);
            False draws 10 % of all examples.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_text_folder/<checksum>`: `text` and `label` (`ClassLabel`, folder
        names in natural order); splits train, validation and, with a test folder, test.

    Raises:
        BadInputError: no class folder with `.txt` files, fewer than two classes, an empty
            file, (stratified) a class of one example, or a file that cannot be read or
            decoded.
    """
    examples, split_files, unused = _files.class_folders(path, _class_texts)
    if not examples.get("train"):
        raise BadInputError(
            f"{path}: expected one sub-folder of .txt files per class (at least two), optionally "
            "inside train/, val/ and test/, as Keras's text_dataset_from_directory reads them."
        )
    rows = {
        split: [
            _labels.row(_text(file, encoding), [label], str(file), multi_label=False)
            for file, label in found
        ]
        for split, found in examples.items()
    }
    return _labels.classification(
        "zoo_text_folder",
        "text-folder",
        path,
        rows,
        multi_label=False,
        files=split_files,
        unused=unused,
        options={"encoding": encoding, "seed": seed, "stratify": stratify},
        licence=licence,
        description="Folders of text files per class, prepared by the zoo.",
        read=[file for found in examples.values() for file, _ in found],
        root=path,
    )
