"""A task's fitted preprocessing as a typed, serialisable object (KerasHub's Preprocessor
beside its Backbone): what turns raw examples into the ids a model reads, and its outputs
back into names.

Each task declares a dataclass of its own (vocabularies, label or tag names, image shape,
maximum lengths, languages) on top of `Preprocessing`. Fields are marked by what they are,
never guessed from their names:

- `vocabulary_field()`: tokens -> ids, with id 0 for padding and 1 for unknown tokens.
  Fine-tuning appends new tokens after the known ones, so known ids keep their meaning.
- `label_field()`: the names the output head predicts, in the head's order. Data reaches
  the model through these names (`label_ids`), never through a dataset's own id order, so
  data whose labels come in another order is remapped instead of silently mislabelled.
- `label_option_field()`: how the label names are read out (e.g. multi-label or not): it
  shapes the output head as the names do, so fine-tuning on data with other options
  replaces the head.
- `label_scheme_field()`: how the data writes its labels (a tag scheme: IOB1, IOB2): the
  model learns and predicts in it, so fine-tuning takes the new data's, keeping the head
  when the names are the same.
- `calibration_field()`: decisions chosen on held-out data after training (e.g. per-class
  thresholds): fine-tuning takes the new data's (empty) value until it is chosen again.
- `model_field()`: a serialised model the preprocessing applies (e.g. a SentencePiece
  model, base64): kept on fine-tuning, and summarised on the card by its size and hash.
- every other field is a fixed contract (shapes, lengths, languages) kept on fine-tuning.

The object is saved as `preprocessing.json` beside the model (`to_json` / `from_json`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import tensorflow as tf

from zoo.errors import ZooError

_KIND = "zoo_kind"
#: for the preprocessing's TensorFlow methods, which hold no Python control flow: AutoGraph
#: need not convert them (and cannot read a dataclass's source: it warns, printing the
#: whole object, vocabularies and all)
graph_ops = tf.autograph.experimental.do_not_convert
VOCABULARY, LABELS, MODEL = "vocabulary", "labels", "model"
LABEL_OPTION, LABEL_SCHEME, CALIBRATION = "label_option", "label_scheme", "calibration"
#: ids every vocabulary reserves before its tokens
PAD_ID, UNK_ID = 0, 1
#: the id `label_ids` gives a name the model does not know
UNKNOWN_LABEL_ID = -1


def vocabulary_field() -> Any:
    """A dataclass field holding a vocabulary (a list of tokens, most frequent first).

    Returns:
        A `dataclasses.field` (default: an empty list) marked as a vocabulary: its tokens get
        ids from 2 (`token_ids`), and fine-tuning appends new tokens (`merged_with`).
    """
    return field(default_factory=list, metadata={_KIND: VOCABULARY})


def label_field() -> Any:
    """A dataclass field holding the names an output head predicts, in its order.

    Returns:
        A `dataclasses.field` (default: an empty list) marked as label names: name i gets id
        i (`label_ids`), and fine-tuning on another set replaces it (`merged_with`).
    """
    return field(default_factory=list, metadata={_KIND: LABELS})


def label_option_field(default: Any) -> Any:
    """A dataclass field saying how label names are read out (e.g. `multi_label`).

    Args:
        default: its value for data that does not set it (immutable: a bool, str or number).

    Returns:
        A `dataclasses.field` marked as a label option: fine-tuning on data whose options
        differ replaces the output head, as another label set does (`merged_with`).
    """
    return field(default=default, metadata={_KIND: LABEL_OPTION})


def label_scheme_field(default: str) -> Any:
    """A dataclass field saying how the data writes its label names (e.g. a tag scheme:
    the same `B-PER` opens every entity in IOB2, only one after another PER in IOB1).

    Args:
        default: its value for files written before the field existed.

    Returns:
        A `dataclasses.field` marked as a label scheme: the model learns and predicts in it,
        and fine-tuning takes the new data's (`merged_with`); unlike a label option it keeps
        the output head when the names are the same, which then learns the new scheme.
    """
    return field(default=default, metadata={_KIND: LABEL_SCHEME})


def calibration_field() -> Any:
    """A dataclass field holding decisions chosen on held-out data after training (e.g.
    per-class thresholds), a list, empty until chosen.

    Returns:
        A `dataclasses.field` (default: an empty list) marked as calibration: fine-tuning
        starts from the new data's (empty) value (`merged_with`).
    """
    return field(default_factory=list, metadata={_KIND: CALIBRATION})


def model_field() -> Any:
    """A dataclass field holding a serialised model as text (e.g. base64), "" when unused.

    Returns:
        A `dataclasses.field` (default "") marked as a model: the card shows its size and
        SHA-256 instead of its content (`summary`); fine-tuning keeps it.
    """
    return field(default="", metadata={_KIND: MODEL})


@dataclass
class Preprocessing:
    """Base of every task's fitted preprocessing; subclasses are dataclasses.

    TensorFlow lookup tables for the vocabularies and label names are made on first use
    and kept on the object, so the `tf.data` pipeline, the traced predict function and an
    exported serving signature share them (`resources` lists them for `tf.saved_model`).
    """

    #: the task this preprocessing belongs to, for error messages
    task: ClassVar[str] = "task"

    def __post_init__(self) -> None:
        self._tables: dict[tuple[str, str], tf.lookup.StaticHashTable] = {}
        self._traced: dict[str, tf.types.experimental.PolymorphicFunction] = {}

    def traced(self, method: str) -> tf.types.experimental.PolymorphicFunction:
        """One of the preprocessing's TensorFlow methods as a `tf.function` (traced
        shape-generic, made once): for single inputs at inference, where running its ops
        eagerly costs more than the model.

        Args:
            method: the name of a method of TensorFlow ops, e.g. `model_inputs`.

        Returns:
            The traced method, taking and returning what the method does.
        """
        if method not in self._traced:
            self._traced[method] = tf.function(getattr(self, method), reduce_retracing=True)
        return self._traced[method]

    # serialisation -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-able data, as written to `preprocessing.json`.

        Returns:
            A dict with one entry per dataclass field.
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Rebuild the preprocessing saved by `to_json`.

        Args:
            data: the parsed `preprocessing.json`. Keys the class does not declare are ignored,
                so that a newer zoo can read older files.

        Returns:
            The preprocessing object.

        Raises:
            ZooError: a field without a default is missing from `data`.
        """
        declared = {f.name: f for f in dataclasses.fields(cls)}
        missing = [
            name
            for name, f in declared.items()
            if name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ZooError(
                f"the {cls.task} preprocessing lacks {', '.join(missing)}: the file is incomplete or "
                "belongs to another task. Re-download or retrain the model."
            )
        return cls(**{name: data[name] for name in declared if name in data})

    # what each field is ------------------------------------------------------------------
    def _fields_of(self, kind: str) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get(_KIND) == kind
        }

    def vocabularies(self) -> dict[str, list[str]]:
        """Every vocabulary field, by name.

        Returns:
            Field name -> its token list (the object's own lists, not copies).
        """
        return self._fields_of(VOCABULARY)

    def label_sets(self) -> dict[str, list[str]]:
        """Every label-name field, by name.

        Returns:
            Field name -> its names, in the output head's order (the object's own lists).
        """
        return self._fields_of(LABELS)

    def summary(self) -> dict[str, Any]:
        """For the model card: vocabularies by their size (with the 2 reserved ids), models
        by size and hash, the rest as is.

        Returns:
            Field name -> value, where a vocabulary field `x` appears as `x_size` -> its number
            of ids (tokens + 2), and a used model field `m` as `m` -> `{"chars", "sha256"}`
            of its text (an unused one, "", is left out).
        """
        summary: dict[str, Any] = {}
        models = self._fields_of(MODEL)
        for name, value in self.to_json().items():
            if name in self.vocabularies():
                summary[f"{name}_size"] = len(value) + 2
            elif name not in models:
                summary[name] = value
            elif value:
                digest = hashlib.sha256(value.encode()).hexdigest()
                summary[name] = {"chars": len(value), "sha256": digest}
        return summary

    def fitting_options(self) -> dict[str, Any]:
        """The hyperparameters with which `Task.adapt` fits a preprocessing like this one,
        for fine-tuning data the parent's way whatever its card records.

        Returns:
            Hyperparameter name -> value; this default: none.
        """
        return {}

    # lookups -----------------------------------------------------------------------------
    def _table(self, kind: str, name: str) -> tf.lookup.StaticHashTable:
        key = (kind, name)
        if key not in self._tables:
            keys = getattr(self, name)
            first, default = (2, UNK_ID) if kind == VOCABULARY else (0, UNKNOWN_LABEL_ID)
            # made eagerly, outside any trace, so every tf.function and dataset can capture it
            with tf.init_scope():
                self._tables[key] = tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(
                        tf.constant(keys, tf.string),
                        tf.range(first, first + len(keys), dtype=tf.int64),
                    ),
                    default_value=default,
                )
        return self._tables[key]

    @graph_ops
    def token_ids(self, vocabulary: str, tokens: tf.Tensor) -> tf.Tensor:
        """Tokens -> int32 ids of the named vocabulary field: 0 for "" (padding), 1 for unknown.

        Args:
            vocabulary: the name of a vocabulary field.
            tokens: string tensor of any shape, or a ragged one.

        Returns:
            int32 tensor of the same shape.
        """
        table = self._table(VOCABULARY, vocabulary)

        def ids(flat: tf.Tensor) -> tf.Tensor:
            """Token lookup on a flat (non-ragged) tensor.

            Args:
                flat: string tensor of any shape.

            Returns:
                int32 ids of the same shape.
            """
            return tf.cast(
                tf.where(tf.equal(flat, ""), tf.constant(PAD_ID, tf.int64), table.lookup(flat)),
                tf.int32,
            )

        return tf.ragged.map_flat_values(ids, tokens)

    @graph_ops
    def label_ids(self, labels: str, names: tf.Tensor) -> tf.Tensor:
        """Label or tag names -> int32 ids of the named label field's order; -1 for a name the
        model does not know (an error to count, never a silent other label).

        Args:
            labels: the name of a label field.
            names: string tensor of any shape.

        Returns:
            int32 tensor of the same shape.
        """
        return tf.cast(self._table(LABELS, labels).lookup(names), tf.int32)

    def resources(self) -> list[tf.lookup.StaticHashTable]:
        """The lookup tables made so far, for an export to track beside the model.

        Returns:
            The `tf.lookup.StaticHashTable`s that `token_ids` and `label_ids` have made, in the
            order they were made: call it after tracing what uses them.
        """
        return list(self._tables.values())

    # fine-tuning -------------------------------------------------------------------------
    def merged_with(self, new: Self) -> tuple[Self, dict[str, Any]]:
        """The preprocessing of a model fine-tuned from this one on data fitted as `new`.

        Vocabularies grow: tokens this one does not know are appended after its own, so
        known ids keep their trained embeddings. Label names: the same set in any order
        keeps this one's order (the data is remapped by name when it is encoded); another
        set, or other label options (`label_option_field`), replaces them, and the output
        head must be replaced. Label schemes (`label_scheme_field`) are the new one's: the
        model learns the data as it is written. Calibration (`calibration_field`) is the
        new one's, to be chosen again after training. Fixed fields stay this one's.

        Args:
            new: the same task's preprocessing, fitted on the new data.

        Returns:
            The merged preprocessing, and what changed: `vocabulary_added` (field -> count),
            `labels_replaced` (bool) and, when replaced, `labels` (`parent` and `new` names,
            and, where they differ, `parent_options` and `new_options`); where the label
            schemes differ, `label_scheme` (`parent` and `new`, field -> scheme).
        """
        values = self.to_json()
        changes: dict[str, Any] = {"vocabulary_added": {}, "labels_replaced": False}
        for name, tokens in new.vocabularies().items():
            known = set(values[name])
            added = [t for t in tokens if t not in known]
            values[name] = [*values[name], *added]
            changes["vocabulary_added"][name] = len(added)
        for name, labels in new.label_sets().items():
            if sorted(labels) != sorted(values[name]):
                changes["labels_replaced"] = True
                changes["labels"] = {"parent": values[name], "new": labels}
                values[name] = labels
        options, new_options = self._fields_of(LABEL_OPTION), new._fields_of(LABEL_OPTION)
        if options != new_options:
            # the same names read out otherwise (e.g. now multi-label) need a new head too
            changes["labels_replaced"] = True
            changes["labels"] = {
                "parent": next(iter(self.label_sets().values()), []),
                "new": next(iter(new.label_sets().values()), []),
                "parent_options": options,
                "new_options": new_options,
            }
            values.update(new_options)
        schemes, new_schemes = self._fields_of(LABEL_SCHEME), new._fields_of(LABEL_SCHEME)
        if schemes != new_schemes:
            changes["label_scheme"] = {"parent": schemes, "new": new_schemes}
        values.update(new_schemes)
        values.update(new._fields_of(CALIBRATION))
        return type(self)(**values), changes
