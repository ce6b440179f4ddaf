"""The hyperparameters the zoo's model builders declare, with the type and the range of
values a model can be built and trained with, without importing TensorFlow.

A builder declares each hyperparameter with keras-tuner (`hp.Int("units", 16, 256, ...)`):
that is its *search* range and its default. A value set by hand (`--set units=512`) may lie
outside the search range, but not outside what can work: `LIMITS` says that range, and
`--set`, `--choice` and a search's fixed values are checked against it before any data is
read (`check`). `tests/test_hyperparameters.py` keeps `LIMITS` and the builders' declarations
equal, so a new hyperparameter cannot be added to one and forgotten in the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zoo.constants import CELLS, CHARACTER_ENCODERS, CLASS_WEIGHTS, OPTIMIZERS
from zoo.errors import UnknownNameError, ZooError


@dataclass(frozen=True)
class Limit:
    """What values one hyperparameter can take.

    Attributes:
        kind: `int`, `float`, `bool` or `str`.
        low: the smallest number allowed (numbers only).
        high: the largest number allowed (numbers only).
        choices: the names allowed (`str` only); None: any string.
        low_open: `low` itself is not allowed (a rate of 0 learns nothing).
        what: what it sets, for `--list-hparams`.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    low_open: bool = False
    what: str = ""

    def describe(self) -> str:
        """The allowed values in words, e.g. `int in [1, 4096]` or `one of lstm, gru`."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return f"one of {', '.join(self.choices)}" if self.choices else "a name"
        opening = "(" if self.low_open else "["
        closing = ")" if math.isinf(self.high) else "]"
        return f"{self.kind} in {opening}{self.low:g}, {self.high:g}{closing}"


_SIZE = 4096  # widths beyond this do not fit a 2-core machine's memory, nor most GPUs'
LIMITS: dict[str, Limit] = {
    "cell": Limit("str", choices=CELLS, what="recurrent cell"),
    # 0 reaches the builder, whose refusal is one line (and a failed trial in a search)
    "units": Limit("int", 0, _SIZE, what="recurrent units per layer (per direction)"),
    "layers": Limit("int", 1, 16, what="stacked recurrent layers"),
    "layer_dropout": Limit(
        "float", 0.0, 0.95, what="variational dropout between stacked recurrent layers"
    ),
    "bidirectional": Limit("bool", what="read the sequence both ways"),
    "unroll": Limit("bool", what="unroll the recurrent loop (fixed-length inputs only)"),
    "embedding_dim": Limit("int", 1, _SIZE, what="word (or token) embedding width"),
    "dropout": Limit("float", 0.0, 0.95, what="dropout before the output layer"),
    "embedding_dropout": Limit("float", 0.0, 0.95, what="dropout of embedding channels"),
    "word_dropout": Limit("float", 0.0, 0.95, what="share of words replaced by [UNK] in training"),
    # any finite rate: one too large diverges, which training reports in one line
    "learning_rate": Limit("float", 0.0, math.inf, low_open=True, what="optimizer step size"),
    "clipnorm": Limit("float", 0.0, 1e6, low_open=True, what="gradient clipping by global norm"),
    "optimizer": Limit("str", choices=OPTIMIZERS, what="optimizer"),
    # Keras's SGD refuses momentum outside [0, 1] when the model is built, in one line
    "momentum": Limit("float", 0.0, 1e6, what="SGD momentum"),
    "lr_decay": Limit("float", 0.0, 1e3, what="inverse-time decay per 1,000 updates"),
    "ema_momentum": Limit("float", 0.0, 0.9999, what="moving average of the weights (0: off)"),
    # many-to-one
    "pooling": Limit("str", choices=("last", "max", "mean"), what="summary of the steps"),
    "bigram_buckets": Limit("int", 0, 10_000_000, what="hashed word bigrams (0: none)"),
    "class_weight": Limit("str", choices=CLASS_WEIGHTS, what="per-class loss weights"),
    # many-to-many-equal
    "lowercase": Limit("bool", what="lowercase words (casing is a feature of its own)"),
    "crf": Limit("bool", what="a linear-chain CRF over the tags"),
    "char_encoder": Limit(
        "str", choices=CHARACTER_ENCODERS, what="how a word's characters are read"
    ),
    "char_embedding_dim": Limit("int", 1, 1024, what="character embedding width"),
    "char_units": Limit("int", 1, 1024, what="character encoder width"),
    # many-to-many-unequal
    "attention": Limit(
        "str", choices=("luong", "bahdanau", "soft", "none"), what="attention of the decoder"
    ),
    "units_kind": Limit("str", choices=("subwords", "words"), what="translation units"),
    "subword_vocabulary": Limit("int", 1, 1_000_000, what="SentencePiece vocabulary size"),
    "label_smoothing": Limit("float", 0.0, 0.9, what="label smoothing of the loss"),
    # one-to-one, one-to-many
    "steps": Limit("int", 1, 64, what="time steps the image summary is repeated over"),
    "encoder": Limit("str", what="image encoder: cnn, or a keras.applications name"),
    "encoder_weights": Limit("str", what="the encoder's weights: none or imagenet"),
    "cnn_filters": Limit("int", 1, 1024, what="filters of the first convolution block"),
    "cnn_convs": Limit("int", 1, 8, what="convolutions per block"),
    "cnn_blocks": Limit("int", 1, 8, what="convolution blocks"),
    # the tuner's
    "batch_size": Limit("int", 1, 65536, what="examples per batch (searched by zoo tune)"),
}


def check(key: str, value: Any) -> None:
    """Refuse a hyperparameter the zoo does not know, or a value it cannot be built or
    trained with, before any data is read.

    Args:
        key: the hyperparameter's name.
        value: its value, as `--set` parsed it (`int`, `float`, `bool` or `str`).

    Raises:
        UnknownNameError: an unknown key (the closest known ones suggested), or a name not
            among a named hyperparameter's choices.
        ZooError: a value of the wrong type, not finite, or out of the key's range; the
            message names the key, the value and the range.
    """
    limit = LIMITS.get(key)
    if limit is None:
        raise UnknownNameError("hyperparameter", key, sorted(LIMITS))
    if limit.kind == "str":
        if not isinstance(value, str):
            raise ZooError(f"{key}={value!r}: {key} takes {limit.describe()}.")
        if limit.choices and value not in limit.choices:
            raise UnknownNameError(key, value, limit.choices)
        return
    if limit.kind == "bool":
        if not isinstance(value, bool):
            raise ZooError(f"{key}={value!r}: {key} is true or false.")
        return
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (limit.kind == "int" and not isinstance(value, int)):
        raise ZooError(
            f"{key}={value!r} is not {'a whole number' if limit.kind == 'int' else 'a number'}: "
            f"{key} ({limit.what}) takes {limit.describe()}."
        )
    low_ok = value > limit.low if limit.low_open else value >= limit.low
    if not (math.isfinite(value) and low_ok and value <= limit.high):  # inf, nan: never
        raise ZooError(
            f"{key}={value!r} is out of range: {key} ({limit.what}) takes {limit.describe()}."
        )
