"""The models a server answers for: loaded through the public API (`zoo.load`, hashes,
safe mode and reference outputs checked) or through the TensorFlow-free runtime
(`zoo_runtime.load` of a folder `zoo export --format onnx` wrote, hashes checked), and the
JSON instances of a request turned into the raw inputs their `predict_batch` reads."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import BadInputError, ZooError
from zoo_runtime import images, text

#: a version folder's training curves (`zoo.registry.store.save`), shown on the model page
CURVES_FILE = "training_curves.png"


@dataclass
class ServedModel:
    """One model version a server answers for.

    Attributes:
        name: the model's registry name.
        version: its registry version.
        task: its task's registry name, e.g. `many-to-one`.
        card: its model card, as `card.json` holds it.
        input_description: what one instance is, in words.
        predict_batch: raw inputs -> `zoo predict`'s results, one per input.
        folder: the version's (or the exported) folder.
        runtime: the backend that runs it, one of `zoo.constants.SERVE_RUNTIMES`.
    """

    name: str
    version: int
    task: str
    card: dict[str, Any]
    input_description: str
    predict_batch: Any
    folder: Path
    runtime: str

    @property
    def reads_images(self) -> bool:
        """Whether an instance is an image (the model's input is uint8 pixels)."""
        contract = self.card.get("sequence_contract") or {}
        return any(i.get("dtype") == "uint8" for i in contract.get("inputs", []))

    @property
    def curves(self) -> Path | None:
        """The training curves' PNG where the folder holds them."""
        path = self.folder / CURVES_FILE
        return path if path.is_file() else None

    def warmup_inputs(self) -> list[Any]:
        """Inputs to run once before the server says it is ready: the card's reference
        inputs, or an image of zeros of the model's shape."""
        if self.reads_images:
            shape = self.card["sequence_contract"]["inputs"][0]["shape"][1:]
            return [np.zeros(shape, dtype=np.uint8)]
        return list((self.card.get("reference") or {}).get("inputs") or ["warm up"])

    def instance_input(self, instance: Any) -> Any:
        """One JSON instance of a request -> the raw input `predict_batch` reads.

        Args:
            instance: a string (a text; for a tagger, a sentence or a JSON token list, as on
                the command line), a list of tokens (taggers), or for image models
                `{"b64": base64 of a PNG, JPEG, GIF or BMP file}` or a nested HxW[xC] list
                of pixels. Image paths are refused: a client must not read the server's files.

        Returns:
            The raw input.

        Raises:
            BadInputError: an instance of the wrong kind, or base64 that is not an image.
        """
        if self.reads_images:
            if isinstance(instance, dict) and set(instance) == {"b64"}:
                return _b64_image(instance["b64"])
            if isinstance(instance, list):
                try:
                    pixels = np.asarray(instance)
                except ValueError:
                    pixels = None
                if pixels is None or pixels.dtype.kind not in "iuf":
                    raise BadInputError(
                        "a list of pixels must be a rectangular HxW[xC] array of numbers."
                    )
                return pixels
            raise BadInputError(
                'an image is {"b64": "<base64 of a PNG, JPEG, GIF or BMP file>"} or an HxW[xC] '
                "list of pixels (the server reads no paths)."
            )
        if self.task == "many-to-many-equal":
            if isinstance(instance, str):
                return text.parse_token_list(instance, BadInputError)
            if isinstance(instance, list):
                return instance
        elif isinstance(instance, str):
            return instance
        raise BadInputError(f"expected {self.input_description}; got {_kind(instance)}.")


def _kind(value: Any) -> str:
    """A JSON value's kind, for messages."""
    names = {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else "a string")


def _b64_image(data: Any) -> np.ndarray:
    """`{"b64": ...}`'s image, decoded and turned upright as `zoo predict` reads a file."""
    if not isinstance(data, str):
        raise BadInputError('"b64" must be a string of base64.')
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadInputError('"b64" is not valid base64.') from None
    try:
        return images.upright(images.decode(raw, "the b64 image"), raw)
    except ValueError as err:  # the runtime's RuntimeInputError
        raise BadInputError(str(err)) from None


def load_model(ref: str, *, runtime: str = "zoo", registry: str | None = None) -> ServedModel:
    """Load one model to serve.

    Args:
        ref: `NAME`, `NAME@VERSION` or `NAME:ALIAS` (`runtime="zoo"`), or the folder
            `zoo export --format onnx` wrote (`runtime="onnx"`).
        runtime: `zoo` (`zoo.load`) or `onnx` (`zoo_runtime.load`).
        registry: the registry folder to read alone (`zoo` only; default: the usual ones).

    Returns:
        The model, its files checked.

    Raises:
        ZooError: an unknown model, a file that fails its hash check (`IntegrityError`),
            or an exported folder the runtime cannot load (missing or altered file,
            missing onnxruntime).
    """
    if runtime == "onnx":
        import zoo_runtime

        try:
            exported = zoo_runtime.load(ref)
        except zoo_runtime.ZooRuntimeError as err:
            raise ZooError(str(err)) from err
        card = exported.card
        contract = card.get("sequence_contract") or {}
        return ServedModel(
            name=str(exported.manifest.get("model") or Path(ref).name),
            version=int(exported.manifest.get("version") or 1),
            task=exported.task,
            card=card,
            input_description=contract.get("predict_input", "an input of the model's task"),
            predict_batch=exported.predict_batch,
            folder=exported.folder,
            runtime=runtime,
        )
    from zoo import registry as zoo_registry

    model = zoo_registry.load(ref, root=registry)
    return ServedModel(
        name=model.name,
        version=model.version,
        task=model.task.name,
        card=model.card.to_json(),
        input_description=model.task.input_description,
        predict_batch=model.predict_batch,
        folder=model.path,
        runtime=runtime,
    )
