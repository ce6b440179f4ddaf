"""Many-to-one: text classification (sentiment, questions, topics, intents, tags).

Text -> normalised tokens -> ids (the preprocessing, in `tf.data` and in the traced
predict function) -> embedding with masking -> recurrent layer (optionally bidirectional)
-> a head for the label set:

| label set | head | loss | decision |
|---|---|---|---|
| two labels, one per text (binary) | 1 sigmoid: P(labels[1]) | binary cross-entropy | P >= 0.5 |
| three or more, one per text (multi-class) | softmax over the labels | sparse categorical cross-entropy | the most probable |
| any number per text (multi-label) | one sigmoid per label | binary cross-entropy | P >= the label's threshold, chosen on validation |
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.constants import CLASS_WEIGHTS
from zoo.data import text
from zoo.data.preprocessing import (
    Preprocessing,
    calibration_field,
    graph_ops,
    label_field,
    label_option_field,
    vocabulary_field,
)
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.errors import BadInputError, ZooWarning
from zoo.models import streaming
from zoo.models.compiled import compiled_call, graph_call
from zoo.models.custom_layers import BigramBag, WordDropout
from zoo.models.layers import (
    compile_model,
    lower_layers,
    maybe_bidirectional,
    output_layer,
    recurrent,
    sequence_summary,
)
from zoo.tasks.base import Task, class_names, register_task, with_unknown
from zoo.training import classification
from zoo_runtime import readouts

#: the three heads of the module docstring's table (`zoo_runtime.readouts`)
BINARY, MULTI_CLASS, MULTI_LABEL = readouts.BINARY, readouts.MULTI_CLASS, readouts.MULTI_LABEL


@dataclass
class TextClassificationPreprocessing(Preprocessing):
    """Fitted preprocessing of the text classifier.

    Attributes:
        max_tokens: tokens read per training text; longer ones are cut there. `predict`,
            `evaluate` and serving read up to `zoo.data.text.MAX_INPUT_TOKENS` (and say so
            when they cut); `zoo stream` reads any length.
        labels: the class names in the head's order (the dataset's `ClassLabel` order: natural
            order for users' files). Binary: the model predicts P(labels[1]).
        multi_label: a text has any number of labels (one sigmoid each) rather than one.
        thresholds: multi-label only: per label, the probability from which it is predicted,
            chosen on the validation split after training (`calibrate`); empty: 0.5 each.
        vocabulary: normalised words, most frequent first (ids from 2; 0 pads, 1 is unknown).
    """

    task = "many-to-one"
    max_tokens: int = 300
    labels: list[str] = label_field()
    multi_label: bool = label_option_field(False)
    thresholds: list[float] = calibration_field()
    vocabulary: list[str] = vocabulary_field()

    @property
    def head(self) -> str:
        """`BINARY`, `MULTI_CLASS` or `MULTI_LABEL`: which head the label set takes."""
        return readouts.head_of(self.labels, self.multi_label)

    def decision_thresholds(self) -> np.ndarray:
        """float (labels,): `thresholds`, or 0.5 for every label while none are chosen."""
        return readouts.decision_thresholds(self.thresholds, self.labels)

    @graph_ops
    def token_ids_of(self, texts: tf.Tensor, max_tokens: int = text.MAX_INPUT_TOKENS) -> tf.Tensor:
        """Raw texts -> ids of their normalised tokens.

        Args:
            texts: string tensor, a scalar (one text) or shape (batch,).
            max_tokens: tokens read per text (training texts: `self.max_tokens`).

        Returns:
            int32 ids: shape (tokens,) for a scalar, a ragged (batch, None) tensor otherwise.
        """
        return self.token_ids(
            "vocabulary", tf.strings.split(text.normalize(texts, max_tokens=max_tokens))
        )

    @graph_ops
    def texts_cut(self, texts: tf.Tensor) -> tf.Tensor:
        """Which texts `model_inputs` reads only up to `zoo.data.text.MAX_INPUT_TOKENS`
        tokens (`zoo.data.text.beyond_input_limit`).

        Args:
            texts: string tensor of shape (batch,).

        Returns:
            bool tensor of shape (batch,).
        """
        return text.beyond_input_limit(texts)

    @graph_ops
    def model_inputs(self, texts: tf.Tensor) -> tf.Tensor:
        """A batch of raw texts -> the model's input: ids of their normalised tokens, each
        text read whole up to `zoo.data.text.MAX_INPUT_TOKENS` tokens.

        Args:
            texts: string tensor of shape (batch,).

        Returns:
            int32 tensor of shape (batch, time), right-padded with 0; time is the batch's
            longest token count, at most `zoo.data.text.MAX_INPUT_TOKENS`.
        """
        return self.token_ids_of(texts).to_tensor(0)


@register_task
class TextClassification(Task):
    """Many-to-one: a text in, its label (or labels) out.

    Datasets: `embedded` (`zoo_reviews`, binary sentiment), `imdb_reviews` and `trec`
    (question classification, 6 coarse classes), and users' files of any label set: a
    `ClassLabel` feature `label` is single-label (two labels: binary; more: multi-class), a
    `Sequence` of `ClassLabel` multi-label. `predict` takes one string per input; `stream`
    reads texts of any length.
    """

    name = "many-to-one"
    example = "text classification"
    headline_metric = "accuracy"
    objective_metrics = ("macro_f1", "micro_f1")  # micro_f1: multi-label models only
    input_description = "a sentence or review, as one string"
    datasets = {
        "embedded": DatasetSpec(
            "zoo_reviews",
            train="train[:90%]",
            validation="train[90%:]",
            test="test",
            licence=GENERATED,
        ),
        "imdb_reviews": DatasetSpec(
            "imdb_reviews",
            train="train[:90%]",
            validation="train[90%:]",
            test="test",
            licence="Large Movie Review Dataset (Maas et al. 2011): research use; cite the paper",
        ),
        # TFDS's `trec`: `text`, `label-coarse` (6 classes) and `label-fine` (50)
        "trec": DatasetSpec(
            "trec",
            train="train[:90%]",
            validation="train[90%:]",
            test="test",
            licence="TREC question classification (Li & Roth 2002): freely available for "
            "research; cite the paper",
            rename={"label": "label-coarse"},
        ),
    }
    default_epochs = 8
    head_layer = "classifier"
    preprocessing_class = TextClassificationPreprocessing
    label_features = {"labels": "label"}
    input_features = ("text",)
    default_batch_size = 64
    max_tokens = 300  # training reviews are cut: memory and time of training grow with length
    max_vocabulary = 20000

    # data --------------------------------------------------------------
    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Fits the vocabulary (at most `max_vocabulary` normalised words seen at least
        `min_word_count` times, in texts cut to `max_tokens`) and takes the label names from
        the dataset's `label` feature, in its order; a `Sequence` of labels makes the model
        multi-label. Declares `class_weight` (`none` or `balanced`, not searched) and, for
        `balanced`, weighs each training example by its class
        (`zoo.training.classification.class_weights`).

        Raises:
            BadInputError: a single-label dataset with fewer than two labels, or
                `class_weight=balanced` on multi-label data or with a class that has no
                training example.
        """
        hp = hp or kt.HyperParameters()
        weighting = hp.Choice("class_weight", list(CLASS_WEIGHTS), default="none")
        feature = self.features(spec)["label"]
        labels = class_names(feature)
        multi_label = isinstance(feature, tfds.features.Sequence)
        if len(labels) < 2 and not multi_label:  # refused before a vocabulary is built
            raise BadInputError(
                f"{spec.tfds_name}: {len(labels)} label ({', '.join(labels)}); a classifier "
                "needs at least two: add examples of another class (a README or notes file is "
                "not a class)."
            )
        if multi_label and weighting != "none":
            raise BadInputError(
                f"class_weight={weighting} weighs single-label data; {spec.tfds_name} is "
                "multi-label: leave class_weight unset."
            )
        tokens = (
            word
            for batch in train.map(
                lambda ex: text.normalize(ex["text"], max_tokens=self.max_tokens)
            )
            .batch(1024)
            .as_numpy_iterator()
            for sentence in batch
            for word in sentence.split()
        )
        self.preprocessing = TextClassificationPreprocessing(
            max_tokens=self.max_tokens,
            labels=labels,
            multi_label=multi_label,
            vocabulary=text.build_vocabulary(
                tokens, max_size=self.max_vocabulary, min_count=self.min_word_count
            ),
        )
        self.class_weights = None
        if weighting != "none":
            ids = np.concatenate(
                [
                    batch
                    for batch in train.map(
                        lambda ex: self.preprocessing.label_ids("labels", ex["label_name"])
                    )
                    .batch(4096)
                    .as_numpy_iterator()
                ]
            )
            self.class_weights = classification.class_weights(ids, labels, weighting)

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """Elements `(ids, target)`, or `(ids, target, weight)` for training with class
        weights: int32 token ids (tokens,), at most `max_tokens` for training and
        `zoo.data.text.MAX_INPUT_TOKENS` otherwise (as `predict` reads); the target is an
        int32 scalar label id (-1 for a label the model does not know) for single-label
        data, a float32 0/1 vector (labels,) for multi-label data (labels the model does
        not know are left out); the weight a float32 scalar.
        """
        prep = self.preprocessing
        limit = prep.max_tokens if training else text.MAX_INPUT_TOKENS
        count = len(prep.labels)

        def target(names: tf.Tensor) -> tf.Tensor:
            """Label names -> the head's target (see above)."""
            ids = prep.label_ids("labels", names)
            if not prep.multi_label:
                return ids
            # one_hot of -1 (unknown) is all zeros: an unknown label adds nothing; no label
            # at all sums to zeros
            return tf.minimum(tf.reduce_sum(tf.one_hot(ids, count, dtype=tf.float32), axis=0), 1.0)

        weights = getattr(self, "class_weights", None) if training else None
        table = None if weights is None else tf.constant(weights, tf.float32)
        return raw.map(
            lambda ex: (
                prep.token_ids_of(ex["text"], limit),
                target(ex["label_name"]),
                *(
                    ()
                    if table is None
                    else (tf.gather(table, prep.label_ids("labels", ex["label_name"])),)
                ),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    @staticmethod
    def length_fn(ids: tf.Tensor, *target: tf.Tensor) -> tf.Tensor:
        """The bucketing length of an encoded element: its token count.

        Args:
            ids: int32 token ids of shape (tokens,).
            *target: the target (and weight) of the element (unused).

        Returns:
            int32 scalar.
        """
        return tf.size(ids)

    # model -------------------------------------------------------------
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """Word dropout (training only) -> masked embedding -> recurrent layers (bidirectional by default) summarised by `pooling`
        (`last` state, `max` or `mean` over steps), joined with a bag of hashed word bigrams
        when `bigram_buckets` > 0 -> dropout -> the label set's head (the module docstring's
        table). Input `token_ids` int32 (batch, time), 0 for padding; output float32
        (batch, 1) for a binary model, (batch, labels) otherwise.
        """
        vocabulary = self.preprocessing.vocabulary
        ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        # words dropped to [UNK] while training (default off): less leaning on memorised words
        dropped = WordDropout(
            hp.Float("word_dropout", 0.0, 0.3, step=0.05, default=0.0), name="word_dropout"
        )(ids)
        embedding_dim = hp.Int("embedding_dim", 16, 256, step=16, default=64)
        x = keras.layers.Embedding(
            text.vocabulary_size(vocabulary),
            embedding_dim,
            mask_zero=True,
            name="embedding",
        )(dropped)
        x = keras.layers.SpatialDropout1D(
            hp.Float("embedding_dropout", 0.0, 0.5, step=0.1, default=0.2), name="embedding_dropout"
        )(x)
        # the textbook many-to-one reads the last state; max or mean over all steps often does better
        pooling = hp.Choice("pooling", ["last", "max", "mean"], default="last")
        units = hp.Int("units", 16, 256, step=16, default=64)
        x = lower_layers(hp, x, units, name="rnn", bidirectional=True)
        rnn = recurrent(hp, units, name="rnn", return_sequences=pooling != "last")
        x = sequence_summary(pooling, maybe_bidirectional(hp, rnn, default=True)(x))
        # a bag of hashed word bigrams beside the recurrent summary (0: none); not searched
        # unless asked (--choice bigram_buckets=0,100000)
        buckets = hp.Fixed("bigram_buckets", 0)
        if buckets:
            bag = BigramBag(buckets, embedding_dim, name="bigram_bag")(dropped)
            x = keras.layers.Concatenate(name="summary_and_bigrams")([x, bag])
        x = keras.layers.Dropout(
            hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3), name="dropout"
        )(x)
        head = self.preprocessing.head
        count = len(self.preprocessing.labels)
        units_out, activation, loss, metrics = {
            BINARY: (1, "sigmoid", "binary_crossentropy", ["accuracy"]),
            MULTI_CLASS: (count, "softmax", "sparse_categorical_crossentropy", ["accuracy"]),
            # Keras's accuracy here is per label; the zoo logs subset accuracy as `accuracy`
            MULTI_LABEL: (
                count,
                "sigmoid",
                "binary_crossentropy",
                [keras.metrics.BinaryAccuracy(name="binary_accuracy")],
            ),
        }[head]
        prob = output_layer(units_out, activation, name="classifier")(x)
        model = keras.Model(ids, prob, name="many_to_one")
        return compile_model(model, hp, loss=loss, metrics=metrics, learning_rate=3e-3)

    # decoding and metrics ---------------------------------------------
    def _probabilities(
        self, model: keras.Model, raw: tf.data.Dataset, batch_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model's outputs and the gold targets of every example, in batches.

        Returns:
            `(probabilities, gold)`: float (examples, 1 or labels), and the targets as
            `encode` gives them (int ids, or 0/1 rows for multi-label data).
        """
        outputs, gold = [], []
        for ids, targets in self.batches(raw, batch_size, training=False):
            outputs.append(np.asarray(compiled_call(model)(ids), dtype=np.float64))
            gold.append(targets.numpy())
        width = 1 if self.preprocessing.head == BINARY else len(self.preprocessing.labels)
        if not outputs:
            return np.zeros((0, width)), np.zeros((0, width) if width > 1 else (0,))
        return np.concatenate(outputs), np.concatenate(gold)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """The model's outputs -> its decisions.

        Args:
            probabilities: float (examples, 1) for a binary model, (examples, labels)
                otherwise.

        Returns:
            int label ids (examples,) for single-label models (binary: P(labels[1]) >= 0.5),
            0/1 int (examples, labels) for multi-label ones (each label's threshold).
        """
        prep = self.preprocessing
        return readouts.decide(probabilities, prep.head, prep.decision_thresholds())

    def evaluate(
        self, model: keras.Model, raw: tf.data.Dataset, *, batch_size: int = 64, quick: bool = False
    ) -> dict[str, Any]:
        """Scores of the model's decisions (`decide`) on raw examples
        (`zoo.training.classification`).

        Single-label: `accuracy` and `macro_f1`; multi-label: `accuracy` (subset accuracy),
        `micro_f1` and `macro_f1`. Unless `quick`, also `per_class` (name -> precision,
        recall, F1, support) and, single-label, the `confusion_matrix`. `unknown_labels`
        counts the examples carrying a label the model does not know (single-label: each
        counts wrong; multi-label: that label is left out of the gold set).
        """
        probabilities, gold = self._probabilities(model, raw, batch_size)
        decided, labels = self.decide(probabilities), self.preprocessing.labels
        if self.preprocessing.multi_label:
            scores = classification.multi_label_scores(gold, decided, labels, details=not quick)
            known = self.preprocessing.label_ids
            unknown = sum(
                int(np.any(row < 0))
                for row in raw.map(lambda ex: known("labels", ex["label_name"])).as_numpy_iterator()
            )
        else:
            scores = classification.single_label_scores(gold, decided, labels, details=not quick)
            unknown = int((gold < 0).sum())
        return with_unknown(scores, "unknown_labels", unknown)

    def calibrate(
        self, model: keras.Model, validation: tf.data.Dataset, *, batch_size: int
    ) -> None:
        """Multi-label models: choose each label's decision threshold on the validation
        split (`zoo.training.classification.choose_thresholds`) and keep them in the
        preprocessing; single-label models decide without thresholds.
        """
        if self.preprocessing.multi_label:
            probabilities, gold = self._probabilities(model, validation, batch_size)
            self.preprocessing.thresholds = classification.choose_thresholds(gold, probabilities)

    def raw_input(self, example: dict[str, Any]) -> str:
        """The example's text, decoded to `str`."""
        return example["text"].decode()

    def serving_function(self, model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
        """Signature `text` string (batch,) -> `truncated` bool (batch,), True for a text cut
        at `zoo.data.text.MAX_INPUT_TOKENS`, and by head:

        - binary: `label` string (batch,) and `probability_positive` float32 (batch,), the
          probability of `labels[1]`;
        - multi-class: `label` string (batch,), `probability` float32 (batch,), the top
          label's, and `probabilities` float32 (batch, labels), in `labels` order;
        - multi-label: `predicted` bool (batch, labels), each label's decision at its
          threshold, and `probabilities` float32 (batch, labels).
        """
        prep = self.preprocessing
        head, names = prep.head, tf.constant(prep.labels)
        thresholds = tf.constant(prep.decision_thresholds(), tf.float32)
        classify = graph_call(model)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(texts):
            """Classify one batch of raw texts.

            Args:
                texts: string tensor of shape (batch,).

            Returns:
                The outputs the enclosing docstring lists for the model's head.
            """
            prob = classify(prep.model_inputs(texts))
            cut = {"truncated": prep.texts_cut(texts)}
            if head == BINARY:
                positive = prob[:, 0]
                return {
                    "label": tf.where(positive >= 0.5, names[1], names[0]),
                    "probability_positive": positive,
                    **cut,
                }
            if head == MULTI_CLASS:
                return {
                    "label": tf.gather(names, tf.argmax(prob, axis=1)),
                    "probability": tf.reduce_max(prob, axis=1),
                    "probabilities": prob,
                    **cut,
                }
            return {"predicted": prob >= thresholds, "probabilities": prob, **cut}

        return serve

    def _readable(self, probabilities: Any, top_k: int | None = None) -> list[dict[str, Any]]:
        """Model outputs -> `predict`'s results (see `predict`)."""
        prep = self.preprocessing
        return readouts.classification(
            probabilities,
            prep.labels,
            multi_label=prep.multi_label,
            thresholds=prep.thresholds,
            top_k=top_k,
        )

    def predict(
        self, model: keras.Model, inputs: list[Any], *, top_k: int | None = None
    ) -> list[dict[str, Any]]:
        """Classify texts.

        Args:
            model: the task's model.
            inputs: texts (`str`; anything else, such as None, is refused).
            top_k: keep the `top_k` most probable labels under `"probabilities"` (default:
                every label; binary models add `"probabilities"` only when it is given).

        Returns:
            Per text, by head:
            - binary: `{"label": name, "probability": p}`, p that label's probability;
            - multi-class: `{"label", "probability", "probabilities": {name: p, ...}}`, the
              top label, its probability, and the labels' probabilities, most probable
              first;
            - multi-label: `{"labels": [names], "probabilities": {...}}`, the labels whose
              probability reaches their threshold (possibly none), most probable first.
            Probabilities are rounded to 4 decimals. A text longer than
            `zoo.data.text.MAX_INPUT_TOKENS` tokens is read up to there: its result adds
            `"truncated": True`, and a `ZooWarning` says so (`stream` reads any length).

        Raises:
            BadInputError: an input that is not text or has no words, or `top_k` below 1.
        """
        if top_k is not None and top_k < 1:
            raise BadInputError(f"--top-k must be at least 1; got {top_k}.")
        texts = text.require_words(list(inputs))
        results = self._readable(
            compiled_call(model, self.preprocessing.model_inputs, round_lengths=True)(
                tf.constant(texts)
            ),
            top_k,
        )
        # traced: its string ops run eagerly cost about a millisecond, as much as the model
        cut = self.preprocessing.traced("texts_cut")(tf.constant(texts)).numpy().tolist()
        if any(cut):
            warnings.warn(
                ZooWarning(
                    f"{sum(cut)} of {len(cut)} texts are longer than {text.MAX_INPUT_TOKENS} "
                    'tokens and were read up to there (their results say "truncated": true); '
                    "`zoo stream` reads a text of any length."
                ),
                stacklevel=2,
            )
        return [
            {**r, **({"truncated": True} if c else {})} for r, c in zip(results, cut, strict=True)
        ]

    def stream(
        self, model: keras.Model, text_chunks: Iterable[str], *, window: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The sentiment of everything read so far, after each window of tokens: a document
        longer than `max_tokens` is read whole instead of truncated, and live text can be
        scored as it arrives. Needs a unidirectional model that reads its last state
        (`--set bidirectional=false`, pooling `last`), since max or mean pooling would have
        to see every step again.

        A generator: nothing runs, and nothing is checked, until the first result is asked for.
        The recurrent state of a stateful copy of `model` (`zoo.models.streaming`) is carried
        from window to window.

        Args:
            model: a many-to-one model with pooling `last` and no bidirectional layer.
            text_chunks: text in reading order (e.g. the lines of a file), read lazily; each
                chunk is normalised as `predict` normalises a text.
            window: tokens per window (default: the preprocessing's `max_tokens`). Windows run
                across chunk boundaries; the last one may be shorter.

        Returns:
            A generator of results, as `predict` gives them, one per window.

        Raises:
            BadInputError: the model pools with `max` or `mean`.
            ZooError: the model has a bidirectional layer.
        """
        if any(layer.name in ("max_pool", "mean_pool") for layer in model.layers):
            raise BadInputError(
                "streaming needs a model trained with pooling=last (max and mean pooling see every step at once)."
            )
        stateful = streaming.stateful_copy(model)
        window = window or self.preprocessing.max_tokens
        # windows run across chunk boundaries: N tokens each, whatever the lines
        pending: list[str] = []
        scored = False
        # lazily: live input is scored as it arrives
        for chunk in itertools.chain(text_chunks, [None]):
            if chunk is not None:
                pending += text.normalize(tf.constant(str(chunk))).numpy().decode().split()
            while len(pending) >= window or (chunk is None and pending):
                piece, pending = pending[:window], pending[window:]
                ids = self.preprocessing.token_ids("vocabulary", tf.constant([piece]))  # normalised
                scored = True
                yield self._readable(stateful(ids, training=False))[0]
        if not scored:  # as `predict` refuses a blank input, so does a blank stream
            raise BadInputError(
                "the input has no words once normalised (it is empty or blank); give it at least one word."
            )
