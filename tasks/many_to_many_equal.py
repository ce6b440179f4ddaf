"""Many-to-many with equal lengths: named-entity recognition.

Tokens -> ids (the preprocessing: word ids, lowercased by default, casing classes, character ids) ->
word embedding (with masking) plus a small casing embedding plus a character-level
bidirectional recurrent encoding of each word (Lample et al. 2016) -> recurrent layer with
`return_sequences` (optionally bidirectional) -> one tag per token. Padding carries zero
sample weight, so loss and accuracy ignore it; the headline metric is entity-level F1 under
the training data's own tag scheme (`entity_scores`: conlleval's rules for IOB1), in which
the model also predicts; data in another scheme is rewritten in the model's as it is loaded.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, IOBES

from zoo.data import pipeline, text
from zoo.data.formats import convert_tags, tag_scheme
from zoo.data.preprocessing import (
    Preprocessing,
    graph_ops,
    label_field,
    label_scheme_field,
    vocabulary_field,
)
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.errors import BadInputError, ZooWarning
from zoo.models.compiled import compiled_call, graph_call
from zoo.models.custom_layers import (
    CharacterEncoder,
    CRFNegativeLogLikelihood,
    LinearChainCRF,
    WordDropout,
)
from zoo.models.layers import (
    cell_type,
    compile_model,
    lower_layers,
    maybe_bidirectional,
    output_layer,
    recurrent,
)
from zoo.tasks.base import Task, class_names, register_task, with_unknown
from zoo_runtime import readouts
from zoo_runtime import text as rules


def casing(tokens: tf.Tensor) -> tf.Tensor:
    """One casing class per token (works on any shape of string tensor).

    Classes, first match wins: 4 contains a digit, 3 upper case (`NATO`, also a single
    capital such as `I`), 2 title case (`Paris`), 1 lower case (`paris`), 5 anything else
    (punctuation, `McDonald`); 0 for "" (padding). Only ASCII letters count as cased.

    Args:
        tokens: string tensor of any shape.

    Returns:
        int32 tensor of the same shape.
    """
    # the classes and their rules are `zoo_runtime.text`'s; lowercased words lose case,
    # so the model gets it back here
    cls = tf.fill(tf.shape(tokens), rules.OTHER)
    for value, rule in reversed(rules.CASING_RULES):  # the first rule that matches wins
        cls = tf.where(tf.strings.regex_full_match(tokens, rule), value, cls)
    return tf.where(tokens == "", 0, cls)


@dataclass
class TaggerPreprocessing(Preprocessing):
    """Fitted preprocessing of the tagger.

    Attributes:
        vocabulary: words, most frequent first (ids from 2; 0 pads, 1 is unknown).
        characters: characters, most frequent first (same id layout).
        max_word_length: characters read per word.
        tags: the tag names, in the output layer's order.
    """

    task = "many-to-many-equal"
    vocabulary: list[str] = vocabulary_field()
    characters: list[str] = vocabulary_field()
    max_word_length: int = 20
    tags: list[str] = label_field()
    #: how the training data marks entities: `IOB1` (CoNLL-2003), `IOB2` or `BIOES`; the
    #: model predicts in it, entity F1 reads tag sequences by its rules (`entity_scores`), and
    #: fine-tuning takes the new data's. Files written before the field existed: IOB1.
    tag_scheme: str = label_scheme_field("IOB1")
    #: words are lowercased before the vocabulary lookup (case then reaches the model only
    #: through the casing classes and the characters); False keeps `US` and `us` apart.
    #: Files written before the option existed lowercased.
    lowercase: bool = True

    def fitting_options(self) -> dict[str, Any]:
        """`lowercase`: fine-tuning data is looked up the way the parent's was.

        Returns:
            `{"lowercase": ...}`.
        """
        return {"lowercase": self.lowercase}

    @graph_ops
    def model_inputs(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        """Tokens -> the model's three inputs.

        Args:
            tokens: string tensor of shape (time,) or (batch, time), "" for padding.

        Returns:
            `words` and `casing`, int32 of the tokens' shape, and `chars`, int32 of shape
            (*tokens.shape, characters), all 0 where there is padding.
        """
        chars = tf.strings.unicode_split(tokens, "UTF-8", errors="replace").to_tensor(
            default_value=""
        )
        return {
            "words": self.token_ids(
                "vocabulary", tf.strings.lower(tokens) if self.lowercase else tokens
            ),
            "casing": casing(tokens),
            "chars": self.token_ids("characters", chars[..., : self.max_word_length]),
        }


#: seqeval's strict reading of each scheme; IOB1 keeps conlleval's lenient one
_STRICT = {"IOB2": IOB2, "BIOES": IOBES}


def entity_scores(
    truth: list[list[str]], predicted: list[list[str]], scheme: str
) -> dict[str, float]:
    """Entity-level precision, recall and F1 of tag sequences under the data's own scheme.

    IOB1 (CoNLL-2003) is scored with conlleval's rules (seqeval's default mode), which is
    what published CoNLL-2003 numbers use. IOB2 and BIOES data are scored with seqeval's
    strict mode for that scheme: there an ill-formed prediction (an entity opened by `I-`)
    is not an entity, where conlleval's rules would accept it and score `I-PER I-PER O
    I-LOC` against `B-PER I-PER O B-LOC` as perfect. (seqeval: Nakayama 2018,
    https://github.com/chakki-works/seqeval; conlleval: CoNLL-2000 shared task.)

    Args:
        truth: gold tags, one list per sentence.
        predicted: predicted tags, the same lengths.
        scheme: `IOB1`, `IOB2` or `BIOES`.

    Returns:
        `entity_f1`, `entity_precision` and `entity_recall`, each in [0, 1].
    """
    options = {"mode": "strict", "scheme": _STRICT[scheme]} if scheme in _STRICT else {}
    return {
        "entity_f1": float(f1_score(truth, predicted, **options)),
        "entity_precision": float(precision_score(truth, predicted, **options)),
        "entity_recall": float(recall_score(truth, predicted, **options)),
    }


def data_scheme(spec: DatasetSpec, sentences: Iterable[list[str]]) -> str:
    """The tag scheme of a dataset: the one recorded when users' files were prepared (read
    from all their splits), else the one its sentences show (`tag_scheme`).

    Args:
        spec: the dataset.
        sentences: its tag sequences, one list per sentence; read only when no scheme is
            recorded (a TFDS dataset).

    Returns:
        `IOB1`, `IOB2` or `BIOES`.

    Raises:
        BadInputError: a malformed tag (`tag_scheme`).
    """
    recorded = (spec.source or {}).get("tag_scheme")
    return recorded or tag_scheme(sentences, Path(spec.tfds_name))


@register_task
class NamedEntityRecognition(Task):
    """Many-to-many with equal lengths: one tag per token.

    Datasets: `embedded` (`zoo_ner`) and `conll2003`. `predict` takes a sentence (split on
    whitespace) or a token list and returns its tags and entities.
    """

    name = "many-to-many-equal"
    example = "named-entity recognition"
    headline_metric = "entity_f1"
    input_description = 'a sentence (split on spaces) or a JSON token list such as \'["John", "lives", "in", "Paris"]\''
    datasets = {
        "embedded": DatasetSpec(
            "zoo_ner", train="train", validation="validation", test="test", licence=GENERATED
        ),
        "conll2003": DatasetSpec(
            "conll2003",
            train="train",
            validation="dev",
            test="test",
            licence="CoNLL-2003 (Reuters RCV1 text): research use only",
        ),
    }
    default_epochs = 8
    head_layer = "tagger"
    preprocessing_class = TaggerPreprocessing
    label_features = {"tags": "ner"}
    input_features = ("tokens",)
    default_batch_size = 32
    max_vocabulary = 30000
    max_characters = 200  # distinct characters kept; rarer ones become [UNK]
    max_word_length = 20  # characters read per word
    #: words per sentence in fixed-length graphs (`fixed_shapes`): the preprocessing has no
    #: sentence length; longer sentences are cut to it
    export_length = 128

    # data --------------------------------------------------------------
    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Fits the word vocabulary (tokens seen at least `min_word_count` times, lowercased
        first unless the hyperparameter `lowercase` is false) and the character vocabulary
        (every character, at most `max_characters`), and takes the tag names from the
        dataset's `ner` feature.
        """
        hp = hp or kt.HyperParameters()
        lowercase = hp.Boolean("lowercase", default=True)
        examples = list(train.as_numpy_iterator())
        # TFDS text is UTF-8 bytes (numpy's `astype(str)` would decode it as ASCII)
        tokens = [t.decode() for ex in examples for t in ex["tokens"]]
        sequences = ([tag.decode() for tag in ex["ner_name"]] for ex in examples)
        self.preprocessing = TaggerPreprocessing(
            vocabulary=text.build_vocabulary(
                (t.lower() if lowercase else t for t in tokens),
                max_size=self.max_vocabulary,
                min_count=self.min_word_count,
            ),
            characters=text.build_vocabulary(
                (c for t in tokens for c in t), max_size=self.max_characters
            ),
            max_word_length=self.max_word_length,
            tags=class_names(self.features(spec)["ner"]),
            tag_scheme=data_scheme(spec, sequences),
            lowercase=lowercase,
        )

    def load(
        self, dataset: str | DatasetSpec, split: str, *, directory: str | None = None
    ) -> tf.data.Dataset:
        """As `Task.load`; for a fitted tagger, data whose tag scheme is not the model's has
        its tags (`ner_name`) rewritten in the model's (`convert_tags`), which a `ZooWarning`
        says once: the gold tags then mean what the model's do, so token accuracy and entity
        F1 compare like with like (and BIOES data's `S-`, or IOB2 data's `B-PER`, is no tag
        the model does not know). Before fitting (training, fine-tuning), tags are read as
        written, and the model learns their scheme (`adapt`).

        Args:
            dataset: a key of `datasets` or a spec (e.g. from `zoo.prepare`).
            split: a split role, or `all`.
            directory: TFDS data folder (default: `zoo.data.loading.data_dir()`).

        Returns:
            The raw examples, `ner_name` in the model's scheme once it is fitted.

        Raises:
            BadInputError: as `Task.load`, or a malformed tag in a TFDS dataset whose scheme
                is read from its tags (`data_scheme`).
        """
        raw = super().load(dataset, split, directory=directory)
        if self.preprocessing is None:
            return raw
        spec, model_scheme = self.dataset(dataset), self.preprocessing.tag_scheme
        scheme = data_scheme(
            spec,
            (
                [t.decode() for t in tags]
                for tags in raw.map(lambda ex: ex["ner_name"]).as_numpy_iterator()
            ),
        )
        if scheme == model_scheme:
            return raw
        warnings.warn(
            ZooWarning(
                f"{spec.tfds_name} writes its tags in {scheme}: they are rewritten in the "
                f"model's {model_scheme} to be compared with its predictions."
            ),
            stacklevel=2,
        )

        def rewrite(tags: np.ndarray) -> np.ndarray:
            """One sentence's tags, UTF-8 bytes, in the model's scheme."""
            return np.array(
                [t.encode() for t in convert_tags([t.decode() for t in tags], model_scheme)],
                dtype=object,
            )

        def rewritten(ex: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            """The example with its `ner_name` rewritten (a string tensor of its shape)."""
            tags = tf.numpy_function(rewrite, [ex["ner_name"]], tf.string, stateful=False)
            return {**ex, "ner_name": tf.ensure_shape(tags, [None])}

        return raw.map(rewritten, num_parallel_calls=tf.data.AUTOTUNE)

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """Elements `({"words", "casing", "chars"}, tags, weights)`: int32 (tokens,), (tokens,)
        and (tokens, characters) (`TaggerPreprocessing.model_inputs`), int32 tag ids (tokens,)
        (-1 for a tag the model does not know) and float32 ones (tokens,). Sentences without
        tokens are dropped.
        """
        prep = self.preprocessing
        # Under JAX every new batch shape compiles the training step again (several seconds
        # each: compiling was most of the recipe's first JAX epoch). Characters padded to the
        # longest word of each batch made a second varying axis (8, 16 or 24 after rounding):
        # on 3,000 CoNLL sentences 15 shapes an epoch, 10 with one width; the first JAX epoch
        # took 135 s before, 77 s after, later epochs the same (README, "The JAX NER gap")
        char_width = prep.max_word_length if pipeline.default_shape_multiple() > 1 else 0

        def to_example(
            ex: dict[str, tf.Tensor],
        ) -> tuple[dict[str, tf.Tensor], tf.Tensor, tf.Tensor]:
            """One raw sentence -> its encoded element.

            Args:
                ex: a raw example: `tokens` and `ner_name` strings of shape (tokens,).

            Returns:
                `(model inputs, tag ids, weights)`, as `encode` describes, cut to the shorter of
                the two sequences.
            """
            tokens, tags = ex["tokens"], prep.label_ids("tags", ex["ner_name"])
            n = tf.minimum(
                tf.size(tokens), tf.size(tags)
            )  # TFDS mock data draws the two lengths apart
            inputs = prep.model_inputs(tokens[:n])
            if char_width:  # every word's characters padded to one width (JAX, below)
                chars = inputs["chars"]
                inputs["chars"] = tf.pad(chars, [[0, 0], [0, char_width - tf.shape(chars)[1]]])
            return inputs, tags[:n], tf.ones([n], tf.float32)

        return raw.map(to_example, num_parallel_calls=tf.data.AUTOTUNE).filter(
            lambda x, y, w: tf.size(y) > 0
        )

    @staticmethod
    def length_fn(inputs: dict[str, tf.Tensor], tags: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """The bucketing length of an encoded element: its token count.

        Args:
            inputs: the element's model inputs (unused).
            tags: int32 tag ids of shape (tokens,).
            weights: float32 weights (unused).

        Returns:
            int32 scalar.
        """
        return tf.size(tags)

    # model -------------------------------------------------------------
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """Word embedding + casing embedding + a bidirectional character encoder per word
        (Lample et al. 2016, https://arxiv.org/abs/1603.01360), all masked -> recurrent layers
        returning sequences (bidirectional by default) -> softmax over `tags` per token, or with
        `crf=true` a linear-chain CRF head (`LinearChainCRF`: emission scores, trained with the
        CRF's negative log-likelihood, decoded with Viterbi). Inputs `words` and `casing` int32
        (batch, time), `chars` int32 (batch, time, characters); output float32 (batch, time,
        tags): probabilities, or the CRF's emission scores.
        """
        vocabulary = self.preprocessing.vocabulary
        ids = keras.Input(shape=(None,), dtype="int32", name="words")
        case = keras.Input(shape=(None,), dtype="int32", name="casing")
        # words dropped to [UNK] while training teach the model unseen words (default off)
        dropped = WordDropout(
            hp.Float("word_dropout", 0.0, 0.3, step=0.05, default=0.0), name="word_dropout"
        )(ids)
        w = keras.layers.Embedding(
            text.vocabulary_size(vocabulary),
            hp.Int("embedding_dim", 16, 300, step=16, default=64),
            mask_zero=True,
            name="word_embedding",
        )(dropped)
        # every feature masks padding: Keras' Concatenate ORs its inputs' masks, so a single
        # unmasked feature would let the backward recurrent pass read padding as words
        c = keras.layers.Embedding(rules.OTHER + 1, 8, mask_zero=True, name="casing_embedding")(
            case
        )
        char_ids = keras.Input(shape=(None, None), dtype="int32", name="chars")
        char_encoder = CharacterEncoder(
            text.vocabulary_size(self.preprocessing.characters),
            embedding_dim=hp.Int("char_embedding_dim", 8, 64, step=8, default=24),
            units=hp.Int("char_units", 8, 64, step=8, default=24),
            cell=cell_type(hp),
            # not searched unless asked (--choice char_encoder=rnn,cnn)
            kind=hp.Fixed("char_encoder", "rnn"),
            name="char_encoder",
        )
        x = keras.layers.Concatenate(name="features")([w, c, char_encoder(char_ids)])
        x = keras.layers.SpatialDropout1D(
            hp.Float("embedding_dropout", 0.0, 0.5, step=0.1, default=0.1), name="embedding_dropout"
        )(x)
        units = hp.Int("units", 16, 256, step=16, default=64)
        x = lower_layers(hp, x, units, name="rnn", bidirectional=True)
        x = maybe_bidirectional(
            hp, recurrent(hp, units, name="rnn", return_sequences=True), default=True
        )(x)
        x = keras.layers.Dropout(
            hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3), name="dropout"
        )(x)
        tags = len(self.preprocessing.tags)
        if hp.Boolean("crf", default=False):
            # a CRF head scores whole tag sequences: emissions plus learned transitions
            head = LinearChainCRF(tags, dtype="float32", name="tagger")
            loss: str | keras.losses.Loss = CRFNegativeLogLikelihood(head)
        else:
            head, loss = (
                output_layer(tags, "softmax", name="tagger"),
                "sparse_categorical_crossentropy",
            )
        model = keras.Model(
            {"words": ids, "casing": case, "chars": char_ids}, head(x), name="many_to_many_equal"
        )
        # accuracy of the per-token argmax (of the emissions, for a CRF head)
        return compile_model(
            model, hp, loss=loss, weighted_metrics=["accuracy"], learning_rate=3e-3
        )

    # decoding and metrics ---------------------------------------------
    @staticmethod
    def tag_decoder(model: keras.Model) -> Any:
        """The model's decoding: `(model inputs, outputs) -> int32 tag ids (batch, time)`:
        Viterbi over the scores of a CRF head (`LinearChainCRF.decode`), else the most
        likely tag of each token. Transitions the tag scheme forbids are not constrained:
        the CRF learns them from the data.

        Args:
            model: a tagger built by `build_model`.

        Returns:
            A function of `({"words", ...}, outputs)`, for `compiled_call` or a serving graph.
        """
        head = model.get_layer("tagger")
        if isinstance(head, LinearChainCRF):
            return lambda inputs, scores: head.decode(
                scores, keras.ops.not_equal(inputs["words"], 0)
            )
        return lambda inputs, probs: keras.ops.argmax(probs, axis=-1)

    def _tags(self, ids: tf.Tensor, lengths: list[int]) -> list[list[str]]:
        tags = self.preprocessing.tags
        return [[tags[i] for i in row[:n]] for row, n in zip(np.asarray(ids), lengths, strict=True)]

    def evaluate(
        self, model: keras.Model, raw: tf.data.Dataset, *, batch_size: int = 64, quick: bool = False
    ) -> dict[str, float]:
        """`entity_f1`, `entity_precision` and `entity_recall` under the preprocessing's tag
        scheme, the model's, in which `load` gives data of any scheme (`entity_scores`: conlleval's rules for IOB1, as Tjong Kim Sang & De Meulder
        2003, https://aclanthology.org/W03-0419; seqeval's strict mode for IOB2 and BIOES),
        `token_accuracy`, and `unknown_tags` when gold tags the model does not know occur
        (read as O for entities, wrong for token accuracy).
        """
        tags = self.preprocessing.tags
        truth, predicted, correct, unknown = [], [], 0, 0
        for inputs, gold, weights in self.batches(raw, batch_size, training=False):
            lengths = np.asarray(weights).sum(axis=1).astype(int).tolist()
            tagged = self._tags(
                compiled_call(model, decode=self.tag_decoder(model), round_lengths=True)(inputs),
                lengths,
            )
            for row, n, guess in zip(np.asarray(gold), lengths, tagged, strict=True):
                # a gold tag the model does not know (-1) is a wrong token; for entity
                # scoring it reads as O, and the count is reported
                unknown += int((row[:n] < 0).sum())
                correct += sum(
                    int(i >= 0 and tags[i] == g) for i, g in zip(row[:n], guess, strict=True)
                )
                truth.append([tags[i] if i >= 0 else "O" for i in row[:n]])
            predicted += tagged
        metrics = {
            **entity_scores(truth, predicted, self.preprocessing.tag_scheme),
            "token_accuracy": correct / max(1, sum(map(len, truth))),
        }
        return with_unknown(metrics, "unknown_tags", unknown)

    def raw_input(self, example: dict[str, Any]) -> list[str]:
        """The example's tokens, decoded to `str`."""
        return [t.decode() for t in example["tokens"]]

    def serving_function(self, model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
        """Signature: `tokens` string (batch, time), right-padded with "" -> `tags` string
        (batch, time), "" at padding.
        """
        tags = tf.constant(self.preprocessing.tags)
        # JAX's shape polymorphism cannot prove that Viterbi's slice after the first step is
        # non-empty: the signature pads sentences to at least two tokens (padding is masked)
        tag_ids = graph_call(model, self.tag_decoder(model), constraints=("t1 >= 2",))

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
        def serve(tokens):
            """`tokens` right-padded with empty strings; padding gets the empty tag.

            Args:
                tokens: string tensor of shape (batch, time), "" for padding.

            Returns:
                `{"tags": string tensor of shape (batch, time)}`.
            """
            steps = tf.shape(tokens)[1]
            padded = tf.pad(tokens, [[0, 0], [0, tf.maximum(0, 2 - steps)]])
            ids = tag_ids(self.preprocessing.model_inputs(padded))[:, :steps]
            return {"tags": tf.where(tokens == "", "", tf.gather(tags, ids))}

        return serve

    def fixed_shapes(self, inputs: list[keras.KerasTensor]) -> dict[str, tuple[int, ...]]:
        """`export_length` words, each of `max_word_length` characters (the `chars` input)."""
        words, characters = self.export_length, self.preprocessing.max_word_length
        return {i.name: (words, characters)[: len(i.shape) - 1] for i in inputs}

    def parse_cli_input(self, argument: str) -> list[str]:
        """A JSON token list where the argument starts with `[` (broken JSON raises
        `BadInputError`), else the argument split on whitespace.
        """
        return rules.parse_token_list(argument, BadInputError)

    def predict(self, model: keras.Model, inputs: list[Any]) -> list[dict[str, Any]]:
        """`{"tags": [[token, tag], ...], "entities": [{"type", "text"}, ...]}` per sentence; a
        sentence is a string (split on whitespace) or a list of tokens. An empty sentence, or a
        token that is not a non-blank string, raises `BadInputError`.
        """
        sentences = rules.sentence_tokens(list(inputs), BadInputError)
        longest = max(map(len, sentences))
        padded = tf.constant([s + [""] * (longest - len(s)) for s in sentences])
        # feature extraction and the model in one traced graph: about a millisecond a sentence
        tagged = self._tags(
            compiled_call(
                model, self.preprocessing.model_inputs, self.tag_decoder(model), round_lengths=True
            )(padded),
            [len(s) for s in sentences],
        )
        return [
            readouts.tagged(tokens, tags) for tokens, tags in zip(sentences, tagged, strict=True)
        ]
