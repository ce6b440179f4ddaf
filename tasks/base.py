"""The task contract and the one registry of tasks.

Every architecture module in `tasks/` subclasses `Task` (the two that emit sequences,
`EncoderDecoderTask`) and registers itself with `@register_task`; the command line, the
tuner and the benchmarks read `TASKS` and treat the five tasks alike. A task instance
carries its fitted preprocessing (vocabularies, label names, shapes) as a typed
`zoo.data.preprocessing.Preprocessing`, saved as JSON beside the model file.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import warnings
from typing import Any, ClassVar

import keras
import keras_tuner as kt
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.constants import ALL_EXAMPLES, SPLITS
from zoo.data import loading, pipeline, text
from zoo.data.preprocessing import Preprocessing
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, UnknownNameError, ZooError, ZooWarning
from zoo.models import hyperparameters as limits
from zoo.models import seq2seq


def class_names(feature: tfds.features.FeatureConnector) -> list[str]:
    """The names of a `ClassLabel` feature, or of a `Sequence` of them (e.g. NER tags).

    Args:
        feature: a TFDS `ClassLabel`, or a `Sequence` whose inner feature is a `ClassLabel`.

    Returns:
        The class names in the feature's id order (name i has id i).
    """
    return list(
        feature.feature.names if isinstance(feature, tfds.features.Sequence) else feature.names
    )


class Task(abc.ABC):
    """What the zoo needs from each architecture; everything else stays in the task module.

    Data flows one way: `load` (raw TFDS examples, labels also as names) -> `adapt` (fit
    the typed `preprocessing` on the training split) -> `encode` (raw -> ids, in `tf.data`)
    + `zoo.data.pipeline.batch_pipeline` -> `build_model(hp)` -> fit -> `evaluate` /
    `predict` (raw input in, readable output out). The Keras model reads ids and holds no
    string ops: text becomes ids in the preprocessing, which `predict` and the exported
    serving signature trace together with the model.
    """

    name: ClassVar[str]  # command-line name, e.g. "many-to-one"
    example: ClassVar[str]  # the example task, e.g. "sentiment analysis"
    headline_metric: ClassVar[str]
    #: validation metrics besides the headline one that a search may maximise (`zoo tune
    #: --objective`): `evaluate(quick=True)` reports them after every epoch
    objective_metrics: ClassVar[tuple[str, ...]] = ()
    datasets: ClassVar[dict[str, DatasetSpec]]  # "embedded" plus the real TFDS dataset
    #: what `predict` takes, in words, for --help and error messages
    input_description: ClassVar[str]
    #: what a reader of the model card must know about this architecture's options
    model_notes: ClassVar[str] = ""
    default_epochs: ClassVar[int]
    default_batch_size: ClassVar[int] = 64
    #: for tasks with a vocabulary: rarer words become [UNK], so the model learns unknown words
    min_word_count: ClassVar[int] = 2
    #: name of the output layer: `zoo retrain` replaces it when the label set changes
    head_layer: ClassVar[str]
    #: hyperparameters declared after some of the task's models were trained -> the value
    #: those models were built with (`card_hyperparameters`)
    hyperparameters_before: ClassVar[dict[str, Any]] = {}
    #: the task's fitted preprocessing type (vocabularies, label names, shapes)
    preprocessing_class: ClassVar[type[Preprocessing]]
    #: label fields of the preprocessing -> the dataset feature (a ClassLabel, or a sequence
    #: of them) holding them; `load` adds their names as `<feature>_name`
    label_features: ClassVar[dict[str, str]] = {}
    #: the dataset features the task reads besides `label_features` (e.g. `text`, `image`)
    input_features: ClassVar[tuple[str, ...]] = ()

    def __init__(self, preprocessing: Preprocessing | None = None):
        #: None until `adapt` fits it (or a saved model's is loaded)
        self.preprocessing = preprocessing

    # data --------------------------------------------------------------
    def dataset(self, dataset: str | DatasetSpec) -> DatasetSpec:
        """One of the task's datasets by key (`embedded`, the real one), or a spec as is.

        Args:
            dataset: a key of `datasets` (e.g. `embedded`, `imdb_reviews`), or a `DatasetSpec`
                (e.g. from `zoo.prepare`), which is returned unchanged.

        Returns:
            The spec, with `key` set to `dataset` when it was looked up by key.

        Raises:
            UnknownNameError: the task has no dataset of that name.
        """
        if isinstance(dataset, DatasetSpec):
            return dataset
        try:
            return dataclasses.replace(self.datasets[dataset], key=dataset)
        except KeyError:
            raise UnknownNameError(
                f"dataset for task {self.name}", dataset, self.datasets
            ) from None

    def load(
        self, dataset: str | DatasetSpec, split: str, *, directory: str | None = None
    ) -> tf.data.Dataset:
        """Raw examples of one split.

        Args:
            dataset: a key of `datasets` or a spec (e.g. from `zoo.prepare`).
            split: a role: `train`, `validation` or `test`, or `all` (`ALL_EXAMPLES`): every
                split the dataset has, together.
            directory: TFDS data folder (default: `zoo.data.loading.data_dir()`).

        Returns:
            The TFDS examples, plus `<feature>_name` (string, same shape as the feature) for
            each of `label_features`: labels travel by name, so a model whose label order
            differs from the dataset's still reads them right.

        Raises:
            UnknownNameError: an unknown dataset or split.
            BadInputError: the dataset lacks a feature the task reads (`features_read`), e.g.
                files of another task's format.
            DatasetUnavailableError: a real TFDS dataset that cannot be prepared here.
        """
        spec = self.dataset(dataset)
        roles = [s for s in SPLITS if getattr(spec, s, None)]
        if split == ALL_EXAMPLES:
            tfds_split = "+".join(getattr(spec, s) for s in roles)
        elif split in roles:
            tfds_split = getattr(spec, split)
        else:
            raise UnknownNameError(f"split of {spec.tfds_name}", split, [*roles, ALL_EXAMPLES])
        raw = loading.load_tfds(
            spec.tfds_name,
            tfds_split,
            directory=directory,
            offline_alternative=self.datasets["embedded"].tfds_name,
        )
        # data of another task's kind is refused before any example is read (`raw` is lazy)
        features, read = self.features(spec), self.features_read(spec)
        missing = [f for f in read if f not in features]
        if missing:
            raise BadInputError(
                f"{spec.tfds_name} has no {', '.join(missing)} (it has {', '.join(sorted(features))}): "
                f"a {self.name} model reads {', '.join(read)}; give data of its kind (see `zoo "
                "tasks` and the README's table of formats)."
            )
        if spec.rename:
            raw = raw.map(
                lambda ex: {**ex, **{mine: ex[theirs] for mine, theirs in spec.rename.items()}}
            )
        for feature in self.label_features.values():
            names = tf.constant(class_names(features[feature]))
            raw = raw.map(lambda ex, f=feature, n=names: {**ex, f"{f}_name": tf.gather(n, ex[f])})
        return raw

    def features_read(self, spec: DatasetSpec) -> list[str]:
        """The dataset features this task reads, under the task's names.

        Args:
            spec: the dataset (a task whose feature names vary, such as translation's
                languages, reads them from it or from its fitted preprocessing).

        Returns:
            `input_features` and the features of `label_features`.
        """
        return [*self.input_features, *self.label_features.values()]

    def unknown_labels(self, dataset: str | DatasetSpec) -> dict[str, tuple[list[str], list[str]]]:
        """Label or tag names of a dataset that the fitted preprocessing does not know.

        Reads the dataset's `DatasetInfo` only. Examples carrying such a name count as errors
        in `evaluate` (they can never be predicted), which reports how many there were.

        Args:
            dataset: a key of `datasets` or a `DatasetSpec`.

        Returns:
            Dataset feature (e.g. `label`, `ner`) -> (its names the model does not know,
            sorted; the names the model knows, in its order), for features that have some.
        """
        features = self.features(dataset)
        known = self.preprocessing.label_sets()
        unknown = {
            feature: (sorted(set(class_names(features[feature])) - set(known[field])), known[field])
            for field, feature in self.label_features.items()
            if feature in features
        }
        return {feature: names for feature, names in unknown.items() if names[0]}

    def features(self, dataset: str | DatasetSpec) -> dict[str, tfds.features.FeatureConnector]:
        """The dataset's TFDS features, under the task's feature names.

        Reads the dataset's `DatasetInfo` only: no data is loaded or prepared.

        Args:
            dataset: a key of `datasets` or a `DatasetSpec`.

        Returns:
            Feature name -> TFDS feature connector: every feature under the dataset's own name,
            plus, for each entry of the spec's `rename`, the task's name for that feature.

        Raises:
            UnknownNameError: the task has no dataset of that name.
        """
        spec = self.dataset(dataset)
        features = loading.info(spec.tfds_name).features
        return {
            **{key: features[key] for key in features},
            **{mine: features[theirs] for mine, theirs in spec.rename.items()},
        }

    @abc.abstractmethod
    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Fit the preprocessing (vocabularies, label names, shapes) on raw training examples
        of the dataset `spec` describes.

        Sets `self.preprocessing` to a new `preprocessing_class` object; a model built before
        keeps reading the ids of the old one.

        Args:
            train: raw training examples, as `load(spec, "train")` yields them.
            spec: the dataset, for its TFDS features (label names, image shape) and `fields`
                (e.g. the source and target languages of a translation pair).
            hp: the hyperparameters the model will be built with, for a task whose
                preprocessing has options (translation's `units_kind`); a task declares them
                here with their defaults, as `build_model` does. None: every default.

        Raises:
            ZooError: for a task with a vocabulary, no token of the training split is frequent
                enough to learn (`zoo.data.text.build_vocabulary`), e.g. an empty split.
        """

    @abc.abstractmethod
    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """Raw examples -> unbatched `(inputs, targets)` pairs for `fit`.

        Needs the fitted `preprocessing`. Labels are looked up by name (`<feature>_name`), so a
        label the model does not know becomes id -1 (counted wrong by `evaluate`).

        Args:
            raw: raw examples, as `load` yields them.
            training: True for the training split: a task may cut long training examples
                to bound the cost of training (many-to-one), or augment them.

        Returns:
            Unbatched `(inputs, targets)` or `(inputs, targets, sample_weights)` elements.
            Inputs are int32 ids (0 for padding) or uint8 images, one tensor or a dict keyed by
            the model's input names; targets are int32 label, tag or token ids; sample weights
            are float32 of the targets' shape. Variable-length elements are not padded here:
            `batches` pads them per batch.
        """

    def batches(
        self, raw: tf.data.Dataset, batch_size: int, *, training: bool, seed: int = 0
    ) -> tf.data.Dataset:
        """Encoded examples in batches for `fit`, `evaluate` and the gradient diagnostics.

        Args:
            raw: raw examples, as `load` yields them.
            batch_size: examples per batch.
            training: True shuffles (seeded, reshuffled every epoch); also passed to `encode`.
            seed: the shuffle seed.

        Returns:
            Batches of `encode`'s elements (`zoo.data.pipeline.batch_pipeline`): with a
            `length_fn`, examples of similar length share a batch and are right-padded with 0
            to its longest, so sequences are (batch, time[, ...]); fixed-size inputs are stacked
            as they are. The encoded examples are cached in memory after the first pass.
        """
        return pipeline.batch_pipeline(
            self.encode(raw, training=training),
            batch_size,
            training=training,
            seed=seed,
            length_fn=self.length_fn,
            per_epoch=self.per_epoch if training else None,
        )

    @classmethod
    def card_hyperparameters(cls, recorded: dict[str, Any]) -> dict[str, Any]:
        """The hyperparameters that rebuild a model from its card's record: a card written
        before a hyperparameter existed was built with its `hyperparameters_before` value,
        not with today's default.

        Args:
            recorded: the card's hyperparameters.

        Returns:
            `recorded`, completed from `hyperparameters_before`.
        """
        return {**cls.hyperparameters_before, **recorded}

    def calibrate(
        self, model: keras.Model, validation: tf.data.Dataset, *, batch_size: int
    ) -> None:
        """Choose, after training, the decisions the model's outputs need that are fitted on
        held-out data (e.g. a multi-label classifier's per-label thresholds), into the
        preprocessing. Called by `zoo.training.fit.finish` before the final metrics.

        Args:
            model: the trained model.
            validation: raw validation examples, as `load` yields them.
            batch_size: examples per batch.

        This default chooses nothing.
        """
        return None

    #: length of an encoded example, for bucketing; None for fixed-size inputs
    length_fn: ClassVar[Any] = None
    #: `(encoded training element, seed) -> the element trained on this epoch`, applied after
    #: the cache, anew every epoch (`zoo.data.pipeline.batch_pipeline`); None where `encode`
    #: gives the training elements as they are trained
    per_epoch: ClassVar[Any] = None

    # model -------------------------------------------------------------
    @abc.abstractmethod
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """A compiled model. Every hyperparameter is declared here with its default, so the
        same call builds the default model and defines the keras-tuner search space.

        Needs the fitted `preprocessing` (vocabulary sizes, label count, image shape).

        Args:
            hp: keras-tuner hyperparameters. Values fixed in it (`hyperparameters`, `--set`) are
                used; everything else takes its declared default, or the tuner's draw in a
                search. `cell` (`simple_rnn`, `lstm` or `gru`) is one of them in every task.

        Returns:
            A functional Keras model, compiled with Adam and gradient clipping
            (`zoo.models.layers.compile_model`), that reads what `encode` yields and ends in
            the layer named `head_layer`.

        Raises:
            ZooError: `unroll=true` for a model that reads variable-length sequences.
        """

    def build_checked(self, hp: kt.HyperParameters) -> keras.Model:
        """`build_model`, with a hyperparameter value that Keras or a zoo layer refuses
        (`units=0`, `bigram_buckets=1`, `momentum=2`) reported as the user's error, in one
        line, instead of as a bug with a trace.

        Args:
            hp: as `build_model`'s.

        Returns:
            The compiled model.

        Raises:
            ZooError: the model cannot be built with these values (the refusal's first line,
                and the values set), it does not fit in memory, or a value set by the user
                (a `SetHyperParameters`) is one the task does not read; or as `build_model`.
        """
        try:
            model = self.build_model(hp)
        except (ValueError, TypeError) as err:
            if isinstance(err, ZooError):
                raise
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            values = ", ".join(f"{k}={v}" for k, v in sorted(hp.values.items()))
            raise ZooError(
                f"the {self.name} model cannot be built with these hyperparameters ({values}): "
                f"{reason} Change the --set value it names."
            ) from err
        except Exception as err:  # out of memory: each backend has its own type
            problem = out_of_memory(err, "building the model", hp.values)
            if problem is err:
                raise
            raise problem from err
        if isinstance(hp, SetHyperParameters) and (unread := hp.set_by_user - hp.declared):
            raise ZooError(
                f"the {self.name} model does not read {', '.join(sorted(unread))} (it reads "
                f"{', '.join(sorted(hp.declared))}, as `zoo train {self.name} --list-hparams` "
                "shows): remove that --set, or check its spelling."
            )
        return model

    # decoding and metrics ---------------------------------------------
    @abc.abstractmethod
    def evaluate(
        self, model: keras.Model, raw: tf.data.Dataset, *, batch_size: int = 64, quick: bool = False
    ) -> dict[str, float | str]:
        """Metrics on raw examples; always includes `headline_metric`. `quick` computes only
        what the headline needs (decoders skip beam search), for use after every epoch.

        Args:
            model: the task's model, from `build_model` or the registry.
            raw: raw examples of one split, as `load` yields them.
            batch_size: examples per batch. Padding differs with batching, so float round-off
                can move a few borderline decisions when it changes.
            quick: measure only what the headline metric needs, cheaply.

        Returns:
            Metric name -> Python float: accuracy and F1 in [0, 1], BLEU in [0, 100]; the
            decoder tasks add sacrebleu's signatures as strings (never when `quick`).
        """

    @abc.abstractmethod
    def predict(self, model: keras.Model, inputs: list[Any]) -> list[Any]:
        """Raw inputs (strings, token lists, images or image paths) -> readable outputs.

        Args:
            model: the task's model.
            inputs: raw inputs of the kind `input_description` names, one per result.

        Returns:
            One JSON-able result per input, in order: a dict such as
            `{"label": "pos", "probability": 0.97}`.

        Raises:
            BadInputError: an input the task cannot read (text with no words, an empty token
                list, a missing or undecodable image file, an array of the wrong shape).
        """

    @abc.abstractmethod
    def raw_input(self, example: dict[str, Any]) -> Any:
        """The raw `predict` input inside one TFDS example (as numpy), e.g. its text or image.

        Args:
            example: one raw example from `load(...).as_numpy_iterator()`: strings as bytes,
                images and sequences as numpy arrays.

        Returns:
            What `predict` takes for it: a `str`, a list of token strings, or a uint8 image
            array of shape (height, width, channels).
        """

    @abc.abstractmethod
    def serving_function(self, model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
        """A `tf.function` with a fixed input signature: a batch of raw inputs as tensors in,
        readable outputs as tensors out (labels, tags, captions, translations). It is the
        serving signature of `zoo export`, so TF Serving needs no zoo code.

        Args:
            model: the task's model.

        Returns:
            A `tf.function` of one argument, traced with an `input_signature` whose leading axis
            is the batch: strings of shape (batch,), tokens of shape (batch, time) right-padded
            with "", or uint8 images of shape (batch, height, width, channels). It returns a dict
            of string and float32 tensors, each with the same leading batch axis.
        """

    def fixed_shapes(self, inputs: list[keras.KerasTensor]) -> dict[str, tuple[int, ...]]:
        """The shape each model input gets in a graph built for a fixed length (LiteRT runs
        no loop of unknown length, so `zoo export --format litert` unrolls it): this default
        gives the time axis the preprocessing's `max_tokens`, the length the model was
        trained on; longer inputs are cut to it.

        Args:
            inputs: the Keras inputs of the model (or of its encoder).

        Returns:
            Input name -> its shape without the batch axis, for each input with an unknown
            time axis (inputs of a fixed shape, such as images, keep theirs).
        """
        length = getattr(self.preprocessing, "max_tokens", None)
        return {
            i.name: (length, *i.shape[2:])
            for i in inputs
            if len(i.shape) > 1 and i.shape[1] is None
        }

    def parse_cli_input(self, text: str) -> Any:
        """Turn one command-line argument into a raw input for `predict`.

        Args:
            text: one `INPUT` argument of `zoo predict`.

        Returns:
            The raw input; this default returns `text` as it is (a sentence or an image path).

        Raises:
            BadInputError: in an override, an argument that cannot be read (e.g. broken JSON).
        """
        return text


def with_unknown(metrics: dict[str, float], name: str, count: int) -> dict[str, float]:
    """Metrics plus the count of gold labels or tags the model does not know, when there are
    any: they can never be predicted, so each counts wrong, and the count says why.

    Args:
        metrics: metric name -> value.
        name: the count's name, one of `zoo.constants.COUNT_METRICS`.
        count: examples (or tokens) whose gold label the model does not know.

    Returns:
        `metrics`, with `name` -> `float(count)` added when `count` > 0.
    """
    return {**metrics, name: float(count)} if count else metrics


TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task visible to the CLI, the tuner and the benchmarks.

    Args:
        cls: a `Task` subclass with its `name` set; it replaces a task of the same name.

    Returns:
        `cls`, unchanged.
    """
    TASKS[cls.name] = cls
    return cls


def all_tasks() -> dict[str, type[Task]]:
    """Every registered task; imports `zoo.tasks` first, whose modules register on import.

    Returns:
        Task name -> task class, in the seed's order (one-to-one, one-to-many, many-to-one,
        many-to-many-equal, many-to-many-unequal). It is `TASKS` itself, not a copy.
    """
    importlib.import_module("zoo.tasks")  # each task module registers itself on import
    return TASKS


def get_task(name: str) -> type[Task]:
    """A task class by its command-line name.

    Args:
        name: e.g. `many-to-one`; underscores read as hyphens (`many_to_one`).

    Returns:
        The task class (instantiate it for a task without preprocessing).

    Raises:
        UnknownNameError: no task of that name (the message suggests close names).
    """
    tasks = all_tasks()
    key = name.replace("_", "-")
    if key not in tasks:
        raise UnknownNameError("task", name, tasks)
    return tasks[key]


def out_of_memory(err: BaseException, doing: str, values: dict[str, Any]) -> BaseException:
    """An error of the backends' out-of-memory kinds, as the user's one-line `ZooError`;
    any other error as it is.

    Args:
        err: what building or training raised.
        doing: what ran out, e.g. "building the model".
        values: the hyperparameters (and batch size) it ran with; the sizes among them are
            named in the message.

    Returns:
        A `ZooError` naming the allocation TensorFlow or JAX failed (its first line) and the
        sizes set, or `err` itself.
    """
    text = str(err)
    oom = isinstance(err, MemoryError | tf.errors.ResourceExhaustedError) or (
        "RESOURCE_EXHAUSTED" in text or "Out of memory" in text
    )
    if not oom:
        return err
    sizes = ", ".join(
        f"{k}={v}"
        for k, v in sorted(values.items())
        if k in ("units", "embedding_dim", "layers", "bigram_buckets", "batch_size")
    )
    first = (text.strip().splitlines() or [type(err).__name__])[0][:200]
    return ZooError(
        f"out of memory while {doing} ({first}); the sizes set: {sizes or 'the defaults'}. "
        "Lower units, embedding_dim, bigram_buckets or --batch-size."
    )


class SetHyperParameters(kt.HyperParameters):
    """keras-tuner's `HyperParameters` with the values a user set (`--set`, `hparams=`),
    noting which names the task then declares (reads): a value no builder reads would be
    recorded on the card and silently do nothing (`Task.build_checked` refuses it).

    Attributes:
        set_by_user: the names fixed when it was made.
        declared: the names declared since (by `Task.adapt`, `build_model`, `compile_model`).
    """

    def __init__(self, values: dict[str, Any] | None = None):
        super().__init__()
        values = values or {}
        self.set_by_user = frozenset(values)
        self.declared: set[str] = set()
        for key, value in values.items():
            super().Fixed(key, value)

    def _read(self, name: str) -> None:
        self.declared.add(name)

    def Int(self, name, *args, **kwargs):  # noqa: N802  (keras-tuner's names)
        self._read(name)
        return super().Int(name, *args, **kwargs)

    def Float(self, name, *args, **kwargs):  # noqa: N802
        self._read(name)
        return super().Float(name, *args, **kwargs)

    def Choice(self, name, *args, **kwargs):  # noqa: N802
        self._read(name)
        return super().Choice(name, *args, **kwargs)

    def Boolean(self, name, *args, **kwargs):  # noqa: N802
        self._read(name)
        return super().Boolean(name, *args, **kwargs)

    def Fixed(self, name, *args, **kwargs):  # noqa: N802
        self._read(name)
        return super().Fixed(name, *args, **kwargs)


def hyperparameters(values: dict[str, Any] | None = None) -> SetHyperParameters:
    """HyperParameters with `values` fixed; anything a model builder declares beyond them
    takes its declared default.

    Args:
        values: hyperparameter name -> value, e.g. `{"cell": "simple_rnn", "units": 32}`;
            None for all defaults. Each is checked against `zoo.models.hyperparameters.
            LIMITS` first; one the task's builder does not read is refused when the model
            is built (`Task.build_checked`).

    Returns:
        A `SetHyperParameters` with each value declared `Fixed`.

    Raises:
        UnknownNameError: an unknown hyperparameter (the closest suggested), or an unknown
            name for one that takes names (`cell`, `optimizer`, ...).
        ZooError: a value of the wrong type or out of its range.
    """
    for key, value in (values or {}).items():
        limits.check(key, value)
    return SetHyperParameters(values or {})


class EncoderDecoderTask(Task):
    """The contract shared by the tasks that emit a token sequence (captioning, translation).

    Their model is two named sub-models, `encoder` and a step-wise `decoder`
    (`zoo.models.seq2seq`), joined for teacher-forced training. This base owns what they
    do alike: greedy or beam-search generation, BLEU on a split, the greedy serving
    signature and `predict`. A subclass says how raw inputs become encoder inputs, which
    vocabulary the decoder emits, and how tokens read as text.
    """

    #: the preprocessing field of the decoder's vocabulary
    target_vocabulary: ClassVar[str]
    #: the key of `predict`'s and the serving signature's output, e.g. "caption"
    output_key: ClassVar[str]
    #: n-gram orders reported: 4 is `bleu`, any other n is `bleu<n>`
    bleu_orders: ClassVar[tuple[int, ...]] = (4,)
    #: sacrebleu's `lowercase` option for this task's BLEU
    bleu_lowercase: ClassVar[bool] = False

    @abc.abstractmethod
    def encoder_inputs(self, inputs: list[Any]) -> Any:
        """A list of raw inputs (checked) -> one batch of encoder inputs.

        Args:
            inputs: raw inputs that passed `checked`.

        Returns:
            One batch for the `encoder` sub-model: e.g. uint8 images of shape
            (batch, height, width, 3), or int32 source ids of shape (batch, time) right-padded
            with 0.

        Raises:
            BadInputError: an input cannot be read (e.g. an image file that does not decode).
        """

    @abc.abstractmethod
    def serving_inputs(self) -> tuple[tf.TensorSpec, Any]:
        """The serving signature's input spec, and the TensorFlow function from that input
        to the encoder's input.

        Returns:
            `(spec, prepare)`: the `tf.TensorSpec` of one batch of raw inputs (leading axis
            None), and a function of TensorFlow ops from such a batch to the encoder's input
            (`tf.identity` where the two are the same).
        """

    @abc.abstractmethod
    def references(self, raw: tf.data.Dataset) -> tuple[list[Any], list[list[str]]]:
        """Raw examples -> (raw inputs, their reference texts), for BLEU.

        Args:
            raw: raw examples of one split, as `load` yields them.

        Returns:
            `(inputs, references)`: one raw input per example, as `encoder_inputs` takes it,
            and per example the list of its reference texts (one or more).
        """

    def detokenize(self, sentences: tf.Tensor) -> tf.Tensor:
        """Space-joined output tokens -> output text (string tensor of any shape).

        It runs eagerly (`generate`) and inside the serving signature, so it is TensorFlow ops.
        This default joins the characters of an unspaced script again when the preprocessing
        cut the output text into `CHARACTERS` units (`zoo.data.text.join_units`).

        Args:
            sentences: string tensor of any shape, tokens joined by single spaces.

        Returns:
            String tensor of the same shape.
        """
        return text.join_units(sentences, self.preprocessing.target_units)

    def checked(self, inputs: list[Any]) -> list[Any]:
        """`predict`'s raw inputs, refused with a `BadInputError` where they cannot be read.

        Args:
            inputs: raw inputs to `predict`.

        Returns:
            The inputs, converted where needed (e.g. to `str`); this default returns them as
            they are.

        Raises:
            BadInputError: in an override, an input that cannot be read (e.g. text with no words).
        """
        return inputs

    def inputs_cut(self, inputs: Any) -> tf.Tensor | None:
        """Which raw inputs are longer than the encoder reads (`zoo.data.text.MAX_INPUT_TOKENS`).

        Args:
            inputs: checked raw inputs (a list), or the serving signature's input tensor.

        Returns:
            bool (batch,), True where an input is cut before the encoder reads it; None (this
            default) where no input ever is (an image is read whole).
        """
        return None

    def output_bounds(self, encoder_inputs: Any) -> tf.Tensor:
        """Most tokens generated per input, [end] included: a bound keeps decoding short
        whatever the input, and an output that reaches it is flagged as cut.

        Args:
            encoder_inputs: one batch, as `encoder_inputs` makes it (or the serving
                signature's, as tensors).

        Returns:
            int32 (batch,); this default gives every input `max_tokens` + 1.
        """
        return tf.fill(tf.shape(encoder_inputs)[:1], self.preprocessing.max_tokens + 1)

    def bound_rule(self) -> str:
        """The length limits (`inputs_cut`, `output_bounds`) in words, for warnings.

        Returns:
            E.g. "a caption stops at 25 tokens unless it ends before" (`max_tokens` and a step
            for [end]).
        """
        return (
            f"a {self.output_key} stops at {self.preprocessing.max_tokens + 1} tokens "
            "unless it ends before"
        )

    def generate(
        self, model: keras.Model, encoder_inputs: Any, *, beam_width: int = 1
    ) -> tuple[list[str], list[bool], list[list[str]]]:
        """Decode a batch of encoder inputs; `beam_width=1` is greedy.

        Args:
            model: the task's model (with `encoder` and `decoder` sub-models).
            encoder_inputs: one batch, as `encoder_inputs` makes it.
            beam_width: hypotheses kept per input (`zoo.models.decoding.beam_search`).

        Returns:
            One output text per input; per input whether the output reached its bound
            (`output_bounds`) without an end token, cut there; and per input the output's
            tokens as the decoder emitted them (before `detokenize`).
        """
        decoded = seq2seq.decode(
            model,
            encoder_inputs,
            getattr(self.preprocessing, self.target_vocabulary),
            max_length=self.output_bounds(encoder_inputs).numpy().tolist(),
            beam_width=beam_width,
        )
        texts = self.detokenize(tf.constant([" ".join(t) for t in decoded.tokens])).numpy()
        return [s.decode() for s in texts], decoded.cut, decoded.tokens

    def _cut(self, inputs: list[Any], outputs_cut: list[bool]) -> list[bool]:
        """Per input: was it, or its output, cut at a length limit?"""
        inputs_cut = self.inputs_cut(inputs)
        read_whole = [False] * len(inputs) if inputs_cut is None else inputs_cut.numpy().tolist()
        return [a or b for a, b in zip(read_whole, outputs_cut, strict=True)]

    def _warn_cut(self, cut: list[bool], what: str) -> None:
        """Say, as a `ZooWarning`, how many outputs are cut at a length limit.

        Args:
            cut: per input, whether it or its output was cut.
            what: which inputs these are, e.g. "predict inputs".
        """
        if any(cut):
            positions = [i + 1 for i, c in enumerate(cut) if c][:10]
            warnings.warn(
                ZooWarning(
                    f"{sum(cut)} of {len(cut)} {what} (number {', '.join(map(str, positions))}"
                    f"{', ...' if sum(cut) > len(positions) else ''}) were cut at a length limit: "
                    f"{self.bound_rule()}. Their results say "
                    '"truncated": true.'
                ),
                stacklevel=3,
            )

    def evaluate(
        self,
        model: keras.Model,
        raw: tf.data.Dataset,
        *,
        batch_size: int = 64,
        quick: bool = False,
        beam_width: int = 4,
    ) -> dict[str, float | str]:
        """sacrebleu corpus BLEU of greedy decoding (`bleu`, `bleu<n>`) and, unless `quick`
        (or where the headline metric is a beam-search score, which then chooses the best
        epoch), of beam search (`bleu_beam`, `bleu<n>_beam`) against every reference of an
        input.

        BLEU: Papineni et al. 2002 (https://aclanthology.org/P02-1040); sacrebleu, its
        reproducible implementation: Post 2018 (https://aclanthology.org/W18-6319).

        Args:
            model: the task's model (with `encoder` and `decoder` sub-models).
            raw: raw examples of one split, as `load` yields them.
            batch_size: inputs decoded per batch.
            quick: for use after every epoch: greedy BLEU only, plus beam search where
                `headline_metric` ends in `_beam`.
            beam_width: hypotheses kept per input in the beam-search pass.

        Returns:
            `bleu` (and `bleu<n>` for each other order in `bleu_orders`), plus the same names
            with a `_beam` suffix unless `quick`: corpus scores in [0, 100], against every
            reference of each input (`zoo.models.seq2seq.scored_bleu`), with the sacrebleu
            tokenizer the preprocessing records (`bleu_tokenize`), lowercased where
            `bleu_lowercase`. Unless `quick`, also the string `bleu_signature` (sacrebleu's
            signature of those scores) and, where `bleu_lowercase`, the cased scores
            `bleu_cased` and `bleu_cased_beam` with their `bleu_cased_signature`; and a
            `ZooWarning` says how many inputs or outputs were cut at a length limit.
        """
        inputs, references = self.references(raw)
        metrics = {}
        beam = not quick or self.headline_metric.endswith("_beam")
        for suffix, width in (("", 1), ("_beam", beam_width)) if beam else (("", 1),):
            hypotheses, cut = [], []
            for i in range(0, len(inputs), batch_size):
                texts, outputs_cut, _ = self.generate(
                    model, self.encoder_inputs(inputs[i : i + batch_size]), beam_width=width
                )
                hypotheses += texts
                cut += self._cut(inputs[i : i + batch_size], outputs_cut)
            if not quick:  # after every epoch of training, it would only repeat itself
                self._warn_cut(cut, f"evaluation inputs ({'greedy' if width == 1 else 'beam'})")
            for order in self.bleu_orders:
                name = "bleu" if order == 4 else f"bleu{order}"
                metrics[f"{name}{suffix}"], signature = seq2seq.scored_bleu(
                    hypotheses,
                    references,
                    max_ngram_order=order,
                    lowercase=self.bleu_lowercase,
                    tokenize=self.preprocessing.bleu_tokenize,
                )
            if quick:
                continue
            metrics["bleu_signature"] = signature
            if self.bleu_lowercase:  # the cased score too: published numbers use either
                metrics[f"bleu_cased{suffix}"], metrics["bleu_cased_signature"] = (
                    seq2seq.scored_bleu(
                        hypotheses, references, tokenize=self.preprocessing.bleu_tokenize
                    )
                )
        return metrics

    def serving_function(self, model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
        """The greedy-decoding serving signature shared by the decoder tasks.

        Args:
            model: the task's model (with `encoder` and `decoder` sub-models).

        Returns:
            A `tf.function` over `serving_inputs()`'s spec, returning `{output_key: string
            tensor of shape (batch,), "truncated": bool tensor of shape (batch,)}`: the greedy
            output after `detokenize` (no beam search in the graph), at most `output_bounds`
            steps long, and whether the input or the output was cut at a length limit.
        """
        spec, prepare = self.serving_inputs()
        vocabulary = getattr(self.preprocessing, self.target_vocabulary)
        parts = seq2seq.graph_parts(model)

        @tf.function(input_signature=[spec])
        def serve(inputs):
            """Greedy decoding of one batch of raw inputs.

            Args:
                inputs: a batch matching `serving_inputs()`'s spec.

            Returns:
                `{output_key: string (batch,), "truncated": bool (batch,)}`.
            """
            encoder_inputs = prepare(inputs)
            generated, cut = seq2seq.greedy_in_graph(
                parts, encoder_inputs, vocabulary, max_length=self.output_bounds(encoder_inputs)
            )
            inputs_cut = self.inputs_cut(inputs)
            return {
                self.output_key: self.detokenize(generated),
                "truncated": cut if inputs_cut is None else cut | inputs_cut,
            }

        return serve

    def predict(
        self,
        model: keras.Model,
        inputs: list[Any],
        *,
        beam_width: int = 4,
        return_attention: bool = False,
    ) -> list[dict[str, Any]]:
        """Decode raw inputs with beam search (greedy with `beam_width=1`).

        Args:
            model: the task's model.
            inputs: raw inputs, of the kind `input_description` names.
            beam_width: hypotheses kept per input.
            return_attention: add each output's attention weights under `"attention"`
                (`attention`), for models that attend.

        Returns:
            One `{output_key: text}` per input, e.g. `{"caption": "a red circle on the left"}`,
            with `"truncated": True` added where the input or the output was cut at a length
            limit (`inputs_cut`, `output_bounds`); a `ZooWarning` then says so too.

        Raises:
            BadInputError: an input cannot be read (`checked`, `encoder_inputs`), or
                `return_attention` for a model that does not attend.
        """
        inputs = self.checked(inputs)
        encoder_inputs = self.encoder_inputs(inputs)
        texts, outputs_cut, tokens = self.generate(model, encoder_inputs, beam_width=beam_width)
        cut = self._cut(inputs, outputs_cut)
        self._warn_cut(cut, "inputs")
        results = [
            {self.output_key: s, **({"truncated": True} if c else {})}
            for s, c in zip(texts, cut, strict=True)
        ]
        if return_attention:
            for result, attention in zip(
                results, self.attention(model, encoder_inputs, tokens), strict=True
            ):
                result["attention"] = attention
        return results

    def attention(
        self, model: keras.Model, encoder_inputs: Any, tokens: list[list[str]]
    ) -> list[dict[str, Any]]:
        """Where the decoder looked while it emitted each output token.

        Args:
            model: the task's model.
            encoder_inputs: one batch, as `encoder_inputs` makes it.
            tokens: per input, the output tokens it was decoded to (`generate`).

        Returns:
            Per input, `{"tokens": its tokens, "weights": float32 array (tokens, ...)}`:
            each token's weights over what the encoder gave, summing to 1; an override may
            add what the weights are drawn over.

        Raises:
            BadInputError: always, in this default: the task's models do not attend.
        """
        raise BadInputError(f"{self.name} models have no attention weights to return.")
