"""Loading an exported folder and predicting from raw inputs, for the five tasks, with the
results `zoo predict` prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo_runtime import readouts, text
from zoo_runtime.decoding import beam_search, translation_bounds
from zoo_runtime.errors import ExportFolderError, RuntimeInputError
from zoo_runtime.graphs import Graph
from zoo_runtime.images import to_model_image

MANIFEST, PREPROCESSING, CARD = "export.json", "preprocessing.json", "card.json"
#: what a field missing from an older `preprocessing.json` reads as, per task (the zoo's
#: dataclass defaults; `tests/test_runtime.py` checks that they agree)
DEFAULTS: dict[str, dict[str, Any]] = {
    "one-to-one": {"image_shape": [28, 28, 1]},
    "one-to-many": {"target_units": text.WORDS, "max_tokens": 24},
    "many-to-one": {"max_tokens": 300, "multi_label": False, "thresholds": []},
    "many-to-many-equal": {"max_word_length": 20, "tag_scheme": "IOB1", "lowercase": True},
    "many-to-many-unequal": {
        "max_tokens": 50,
        "source_units": text.WORDS,
        "target_units": text.WORDS,
        "source_subwords": "",
        "target_subwords": "",
    },
}


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex.

    Args:
        path: the file.

    Returns:
        64 hex digits.
    """
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def padded(rows: Sequence[Sequence[int]], *, at_least: int = 1) -> np.ndarray:
    """Id lists right-padded with 0 into one int32 batch.

    Args:
        rows: one id list per input.
        at_least: the batch's least time length.

    Returns:
        int32 (batch, longest row).
    """
    batch = np.zeros((len(rows), max(at_least, *map(len, rows))), dtype=np.int32)
    for i, row in enumerate(rows):
        batch[i, : len(row)] = row
    return batch


class ExportedModel:
    """A model exported by `zoo export` (ONNX or LiteRT), ready to predict.

    Attributes:
        folder: the exported folder.
        manifest: `export.json`.
        task: the task's registry name, e.g. `many-to-one`.
        card: `card.json` (empty where the folder has none).
        preprocessing: `preprocessing.json`, completed with `DEFAULTS` for older files.
        graphs: graph name (`model`, or `encoder` and `decoder`) -> `Graph`.
    """

    def __init__(self, folder: Path, manifest: dict[str, Any]):
        self.folder = folder
        self.manifest = manifest
        self.task: str = manifest["task"]
        self.card: dict[str, Any] = (
            json.loads((folder / CARD).read_text()) if (folder / CARD).is_file() else {}
        )
        prep = json.loads((folder / PREPROCESSING).read_text())
        self.preprocessing: dict[str, Any] = {**DEFAULTS[self.task], **prep}
        self.graphs = {
            name: Graph(folder / spec["file"], spec, manifest["format"])
            for name, spec in manifest["graphs"].items()
        }
        self.fixed_length: int | None = manifest.get("fixed_length")
        self._lookups: dict[str, dict[str, int]] = {}
        self._subwords: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (
            f"ExportedModel({self.manifest.get('model')!r}, version={self.manifest.get('version')}, "
            f"task={self.task!r}, format={self.manifest['format']!r})"
        )

    def lookup(self, field: str) -> dict[str, int]:
        """A vocabulary field's token -> id table, made once.

        Args:
            field: the preprocessing's field name, e.g. `vocabulary`.

        Returns:
            Token -> id (`zoo_runtime.text.lookup_of`).
        """
        if field not in self._lookups:
            self._lookups[field] = text.lookup_of(self.preprocessing[field])
        return self._lookups[field]

    def predict(self, raw: Any, **options: Any) -> dict[str, Any]:
        """One raw input -> its result, as `zoo.load(...).predict` gives it.

        Args:
            raw: a text, a token list, an image path or array, as the task reads it.
            **options: as for `predict_batch`.

        Returns:
            One JSON-able dict, e.g. `{"label": "pos", "probability": 0.97}`.

        Raises:
            RuntimeInputError: an input the task cannot read, or an unknown option.
        """
        return self.predict_batch([raw], **options)[0]

    def predict_batch(self, inputs: Sequence[Any], **options: Any) -> list[dict[str, Any]]:
        """Raw inputs -> `zoo predict`'s results, one per input, in one batch (as
        `zoo.load(...).predict_batch`).

        Args:
            inputs: texts, token lists, image paths or arrays, as the task reads them.
            **options: `top_k` (many-to-one), `beam_width` (captioning, translation;
                default: `export.json`'s, 1 is greedy).

        Returns:
            One JSON-able dict per input, as the task's `predict` gives it.

        Raises:
            RuntimeInputError: an input the task cannot read, or an unknown option.
        """
        inputs = list(inputs)
        if not inputs:
            return []
        known = {"many-to-one": {"top_k"}, "one-to-many": {"beam_width"}}.get(self.task, set())
        if self.task == "many-to-many-unequal":
            known = {"beam_width"}
        if unknown := set(options) - known:
            raise RuntimeInputError(
                f"a {self.task} model takes no option {', '.join(sorted(unknown))} "
                f"(it takes {', '.join(sorted(known)) or 'none'})."
            )
        return _PREDICTORS[self.task](self, inputs, **options)

    # text ---------------------------------------------------------------------------------
    def _text_ids(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        """Raw texts -> ids of their normalised tokens, each read up to `MAX_INPUT_TOKENS`
        (and `fixed_length`), and which were cut."""
        tokens = [text.normalize(t) for t in texts]
        return self._cut(
            [text.token_ids(t[: text.MAX_INPUT_TOKENS], self.lookup("vocabulary")) for t in tokens],
            [len(t) > text.MAX_INPUT_TOKENS for t in tokens],
        )

    def _cut(self, rows: list[list[int]], cut: list[bool]) -> tuple[np.ndarray, list[bool]]:
        """Id rows padded into a batch; with a `fixed_length` graph, cut to it too."""
        if self.fixed_length:
            cut = [c or len(r) > self.fixed_length for r, c in zip(rows, cut, strict=True)]
            rows = [r[: self.fixed_length] for r in rows]
        return padded(rows), cut

    def _source_tokens(self, sentence: str) -> list[str]:
        """A translation source's tokens, in its units."""
        units = self.preprocessing["source_units"]
        if units != text.SUBWORDS:
            return text.normalize(sentence, units=units)
        from zoo_runtime import subwords

        if "source" not in self._subwords:
            self._subwords["source"] = subwords.processor(self.preprocessing["source_subwords"])
        return subwords.pieces(self._subwords["source"], text.without_breaks(sentence))

    # generation ---------------------------------------------------------------------------
    def _generate(
        self, encoder_inputs: np.ndarray, bounds: np.ndarray, vocabulary: str, beam_width: int
    ) -> tuple[list[list[str]], list[bool]]:
        """Encoder once, decoder step by step (`zoo_runtime.decoding.beam_search`).

        Returns:
            Per input its output tokens, and whether its bound cut them.
        """
        decoding = self.manifest["decoding"]
        encoder, decoder = self.graphs["encoder"], self.graphs["decoder"]
        states = encoder([encoder_inputs])
        context = int(decoding["context"])

        def step(
            tokens: np.ndarray, states: list[np.ndarray], rows: np.ndarray
        ) -> tuple[np.ndarray, list[np.ndarray]]:
            taken = [np.take(s, rows, axis=0) for s in states]
            probs, *new_states = decoder([tokens[:, None], *taken])
            log_probs = np.log(probs[:, -1].astype(np.float32) + np.float32(1e-9))
            return log_probs, [*taken[:context], *new_states]

        ids = beam_search(
            step,
            states,
            start_id=int(decoding["start_id"]),
            end_id=int(decoding["end_id"]),
            max_length=bounds.tolist(),
            beam_width=beam_width,
        )
        words = self.preprocessing[vocabulary]
        return (
            [text.ids_to_tokens(row, words) for row in ids],
            [len(row) >= int(b) for row, b in zip(ids, bounds, strict=True)],
        )


def _check_width(model: ExportedModel, beam_width: int | None) -> int:
    width = model.manifest["decoding"].get("beam_width", 4) if beam_width is None else beam_width
    if not isinstance(width, int) or width < 1:
        raise RuntimeInputError(f"beam_width must be a whole number of at least 1; got {width!r}.")
    return width


def _classify_images(model: ExportedModel, inputs: list[Any]) -> list[dict[str, Any]]:
    shape = tuple(model.preprocessing["image_shape"])
    batch = np.stack([to_model_image(image, shape) for image in inputs])
    (probs,) = model.graphs["model"]([batch])[:1]
    return readouts.image_labels(probs, model.preprocessing["labels"])


def _classify_texts(
    model: ExportedModel, inputs: list[Any], top_k: int | None = None
) -> list[dict[str, Any]]:
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise RuntimeInputError(f"--top-k must be at least 1; got {top_k}.")
    texts = text.require_words(inputs, RuntimeInputError)
    ids, cut = model._text_ids(texts)
    probs = model.graphs["model"]([ids])[0]
    prep = model.preprocessing
    results = readouts.classification(
        probs,
        prep["labels"],
        multi_label=prep["multi_label"],
        thresholds=prep["thresholds"],
        top_k=top_k,
    )
    return [{**r, **({"truncated": True} if c else {})} for r, c in zip(results, cut, strict=True)]


def _tag(model: ExportedModel, inputs: list[Any]) -> list[dict[str, Any]]:
    prep = model.preprocessing
    sentences = text.sentence_tokens(inputs, RuntimeInputError)
    cut = [bool(model.fixed_length) and len(s) > model.fixed_length for s in sentences]
    if model.fixed_length:
        sentences = [s[: model.fixed_length] for s in sentences]
    longest = max(map(len, sentences))
    rows = [s + [text.PAD] * (longest - len(s)) for s in sentences]
    characters = model.lookup("characters")
    width = min(max(len(t) for row in rows for t in row), prep["max_word_length"])
    chars = np.zeros((len(rows), longest, width), dtype=np.int32)
    for i, row in enumerate(rows):
        for j, token in enumerate(row):
            ids = text.token_ids(list(token[:width]), characters)
            chars[i, j, : len(ids)] = ids
    features = {
        "words": np.asarray(
            [
                text.token_ids(
                    [text.lower_ascii(t) if prep["lowercase"] else t for t in row],
                    model.lookup("vocabulary"),
                )
                for row in rows
            ],
            dtype=np.int32,
        ),
        "casing": np.asarray([[text.casing(t) for t in row] for row in rows], dtype=np.int32),
        "chars": chars,
    }
    graph = model.graphs["model"]
    try:
        arrays = [features[spec["name"]] for spec in graph.inputs]
    except KeyError as err:
        raise ExportFolderError(
            f"the tagger graph has an input {err} the runtime does not know (it feeds words, "
            "casing and chars); export the model again."
        ) from None
    scores = graph(arrays)[0]
    crf = model.manifest.get("crf")
    results = []
    for tokens, row in zip(sentences, scores, strict=True):
        n = len(tokens)
        if crf:
            ids = readouts.viterbi(
                row[:n], crf["transitions"], crf["start_transitions"], crf["end_transitions"]
            )
        else:
            ids = row[:n].argmax(axis=-1).tolist()
        results.append(readouts.tagged(tokens, [prep["tags"][i] for i in ids]))
    return [{**r, **({"truncated": True} if c else {})} for r, c in zip(results, cut, strict=True)]


def _caption(
    model: ExportedModel, inputs: list[Any], beam_width: int | None = None
) -> list[dict[str, Any]]:
    width = _check_width(model, beam_width)
    prep = model.preprocessing
    shape = tuple(prep["image_shape"])
    images = np.stack([to_model_image(image, shape) for image in inputs])
    bounds = np.full(len(images), prep["max_tokens"] + 1)
    tokens, cut = model._generate(images, bounds, "vocabulary", width)
    return [
        {
            "caption": text.join_units(" ".join(t), prep["target_units"]),
            **({"truncated": True} if c else {}),
        }
        for t, c in zip(tokens, cut, strict=True)
    ]


def _translate(
    model: ExportedModel, inputs: list[Any], beam_width: int | None = None
) -> list[dict[str, Any]]:
    width = _check_width(model, beam_width)
    prep = model.preprocessing
    sentences = text.require_words(inputs, RuntimeInputError)
    tokens = [model._source_tokens(s) for s in sentences]
    ids, inputs_cut = model._cut(
        [
            text.token_ids(t[: text.MAX_INPUT_TOKENS], model.lookup("source_vocabulary"))
            for t in tokens
        ],
        [len(t) > text.MAX_INPUT_TOKENS for t in tokens],
    )
    bounds = translation_bounds((ids != 0).sum(axis=1), prep["max_tokens"])
    outputs, outputs_cut = model._generate(ids, bounds, "target_vocabulary", width)
    results = []
    for words, a, b in zip(outputs, inputs_cut, outputs_cut, strict=True):
        if prep["target_units"] == text.SUBWORDS:
            from zoo_runtime.subwords import join_pieces

            sentence = join_pieces(" ".join(words))
        else:
            sentence = text.join_units(
                text.attach_punctuation(" ".join(words)), prep["target_units"]
            )
        results.append({"translation": sentence, **({"truncated": True} if a or b else {})})
    return results


_PREDICTORS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "one-to-one": _classify_images,
    "one-to-many": _caption,
    "many-to-one": _classify_texts,
    "many-to-many-equal": _tag,
    "many-to-many-unequal": _translate,
}


def load(folder: str | Path) -> ExportedModel:
    """Load an exported folder, checking every file's SHA-256 against `export.json`.

    Args:
        folder: a folder `zoo export --format onnx|litert` wrote.

    Returns:
        The model, ready to `predict`.

    Raises:
        ExportFolderError: the folder, `export.json` or `preprocessing.json` is missing, a
            listed file is missing or altered, the manifest cannot be read, or the format
            is `savedmodel` (which needs TensorFlow) or unknown.
        MissingDependencyError: onnxruntime (ONNX) or ai-edge-litert (LiteRT) is not
            installed; the message names the pip command.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportFolderError(
            f"no exported folder at {folder}: give the --output folder of `zoo export`."
        )
    if not (folder / MANIFEST).is_file():
        raise ExportFolderError(
            f"{folder} has no {MANIFEST}: it is not a folder `zoo export` wrote; export the model again."
        )
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        kind, task, files, graphs = (
            manifest["format"],
            manifest["task"],
            manifest["files"],
            manifest["graphs"],
        )
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ExportFolderError(
            f"{folder / MANIFEST} cannot be read ({type(err).__name__}: {err}); export the model again."
        ) from None
    if not (folder / PREPROCESSING).is_file():
        raise ExportFolderError(
            f"{folder} has no {PREPROCESSING}, which holds the vocabularies and label names the "
            "model needs: export the model again."
        )
    for name, digest in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            raise ExportFolderError(
                f"{path} is missing (export.json lists it); export the model again."
            )
        if sha256_of(path) != digest:
            raise ExportFolderError(
                f"{path} was altered after export (its SHA-256 differs from export.json's); "
                "export the model again."
            )
    if PREPROCESSING not in files:
        raise ExportFolderError(
            f"export.json does not list {PREPROCESSING}; export the model again."
        )
    if kind == "savedmodel":
        raise ExportFolderError(
            f"{folder} is a TensorFlow SavedModel, which needs TensorFlow: load it with "
            "tf.saved_model.load, or export the model with --format onnx or --format litert."
        )
    if kind not in ("onnx", "litert"):
        raise ExportFolderError(f"{folder} has format {kind!r}; the runtime runs onnx and litert.")
    if task not in _PREDICTORS:
        raise ExportFolderError(
            f"{folder} holds a model of task {task!r}, which this runtime does not know; "
            "upgrade rnn-zoo-runtime."
        )
    missing = [g["file"] for g in graphs.values() if g["file"] not in files]
    if missing:
        raise ExportFolderError(
            f"export.json does not list {missing[0]} under files; export the model again."
        )
    return ExportedModel(folder, manifest)
