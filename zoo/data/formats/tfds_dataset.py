"""Any TFDS dataset by name (`--format tfds`), with the task's feature names mapped to the
dataset's; nothing is stored."""

from __future__ import annotations

import tensorflow_datasets as tfds

from zoo.data import loading
from zoo.data.formats._dataset import reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError


@reader("tfds")
def tfds_dataset(
    name: str,
    *,
    rename: str | None = None,
    source: str | None = None,
    target: str | None = None,
    seed: int = 0,
    licence: str = "see the TFDS catalogue entry",
) -> DatasetSpec:
    """A TFDS dataset by name (`imdb_reviews`, `glue/sst2`), with `rename` mapping the task's
    feature names to the dataset's (`text=sentence,label=label`). Its validation split is
    `validation` if it has one, else the last 10 % of `train`. For a translation dataset the
    source and target languages are `source` and `target`, by default the dataset's own
    `supervised_keys` (TFDS's translation builders list them as (source, target)).

    Nothing is stored: the spec points at the dataset itself, which is prepared (or
    downloaded) when a task loads it.

    Args:
        name: a TFDS name, optionally with config.
        rename: comma-separated `MINE=THEIRS` pairs, the task's feature name first.
        source: the source language's feature (translation), e.g. `pt`.
        target: the target language's feature (translation), e.g. `en`.
        seed: not used: the validation split is taken by position.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec: train `train` (or `train[:90%]`), validation `validation` (or
        `train[90%:]`), test `test` where the dataset has one; `rename` as a dict; `fields`
        `{"source", "target"}` for a translation dataset (or when `source`/`target` are given).

    Raises:
        BadInputError: `rename` is malformed, or it, `source` or `target` names a feature the
            dataset lacks.
        UnknownNameError: TFDS knows no dataset of that name.
    """
    info = loading.info(name)
    features = set(info.features.keys())
    pairs = [item.partition("=") for item in (rename or "").split(",") if item.strip()]
    mapping = {mine.strip(): theirs.strip() for mine, sep, theirs in pairs if sep}
    if len(mapping) != len(pairs) or not set(mapping.values()) <= features:
        raise BadInputError(
            f"--rename must be TASK_FEATURE=DATASET_FEATURE pairs over {sorted(features)}; got {rename!r}."
        )
    if isinstance(info.features, tfds.features.Translation) and info.supervised_keys:
        source, target = source or info.supervised_keys[0], target or info.supervised_keys[1]
    languages = {}
    if source or target:
        if source not in features or target not in features:
            raise BadInputError(
                f"--source and --target must both name features of {name} ({', '.join(sorted(features))}); "
                f"got {source!r} and {target!r}."
            )
        languages = {"source": source, "target": target}
    splits = set(info.splits.keys())
    has_validation = "validation" in splits
    return DatasetSpec(
        name,
        train="train" if has_validation else "train[:90%]",
        validation="validation" if has_validation else "train[90%:]",
        test="test" if "test" in splits else None,
        source={
            "path": name,
            "format": "tfds",
            "options": {k: v for k, v in {"rename": rename, **languages}.items() if v is not None},
            "tfds_version": str(info.version),
        },
        licence=licence,
        rename=mapping,
        fields=languages,
    )
