"""Export a registry model for TensorFlow Serving.

The SavedModel's `serving_default` signature is the task's serving function: raw inputs
in (strings, padded token lists or uint8 images), readable outputs out (labels, tags,
captions, translations), so a server needs neither the zoo nor Python preprocessing. Under
JAX the model part of the signature is converted by `jax2tf`; the SavedModel is the same
TensorFlow artefact either way.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import keras

from zoo.constants import EXPORT_FORMATS as FORMATS
from zoo.errors import ZooError
from zoo.models import compiled
from zoo.registry.store import ZooModel


def export(model: ZooModel, directory: Path | str, *, format: str = "savedmodel") -> Path:
    """Write `model` as a SavedModel into `directory` (which must not exist yet).

    The SavedModel is written beside `directory` (or in the temporary folder) and moved
    into place when complete.

    Args:
        model: a loaded registry model.
        directory: the folder to create.
        format: `savedmodel`, the one format (`zoo.constants.EXPORT_FORMATS`).

    Returns:
        `directory`, as a `Path`: a SavedModel whose `serving_default` signature is the
        task's `serving_function`, with the model's variables and the preprocessing's
        lookup tables.

    Raises:
        ZooError: an unknown format, `directory` exists already, or it lies under a file.
    """
    if format not in FORMATS:
        raise ZooError(f"unknown export format {format!r}; available: {', '.join(FORMATS)}.")
    directory = Path(directory)
    if directory.exists():
        raise ZooError(
            f"{directory} already exists: choose a new folder, an export never overwrites."
        )
    # a parent that is a file (or cannot be made) is the user's path, found before any work
    parent = next((p for p in directory.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise ZooError(
            f"cannot export into {directory}: {parent} is a file, not a folder; choose another --output."
        )
    serve = model.task.serving_function(model.model)
    archive = keras.export.ExportArchive()
    # the model's weights: the model itself under TensorFlow, under JAX the `tf.Variable`
    # copies its jax2tf-converted calls read (`zoo.models.compiled.graph_call`)
    for resource in compiled.export_resources(model.model):
        archive.track(resource)
    archive.add_endpoint("serving_default", serve)
    # the vocabularies the signature looks words up in
    for table in model.task.preprocessing.resources():
        archive.track(table)
    staging = Path(
        tempfile.mkdtemp(
            prefix=".export-", dir=directory.parent if directory.parent.exists() else None
        )
    )
    try:
        archive.write_out(str(staging / "model"), verbose=False)
        shutil.move(str(staging / "model"), directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory
