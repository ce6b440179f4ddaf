"""Subword units: a SentencePiece model learnt from the training text cuts words into
pieces, so a word never seen in training still reads as pieces the model knows instead of
`[UNK]` (Kudo & Richardson 2018, https://arxiv.org/abs/1808.06226; the unigram model of
Kudo 2018, https://arxiv.org/abs/1804.10959).

The `sentencepiece` library trains the model (Python, once, in `adapt`); TensorFlow Text's
`SentencepieceTokenizer` applies it as TensorFlow ops, so the `tf.data` pipeline,
`predict` and exported serving signatures cut text the same way (a server loading the
export needs TensorFlow Text's ops: `import tensorflow_text`, or TensorFlow Serving, which
links them). The serialised model
travels inside the task's `preprocessing.json` (base64), hashed with it by the registry.

A piece is a string without spaces (SentencePiece writes a space as `▁`, U+2581): the
pieces of a sentence joined by spaces read like the words of `zoo.data.text.normalize`,
so the zoo's vocabulary lookups, padding and decoding take them unchanged, and
`join_pieces` turns the decoder's pieces back into text.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable

import tensorflow as tf

from zoo.errors import ZooError
from zoo_runtime.subwords import SPACE  # noqa: F401  (the marker, defined once)

#: the piece SentencePiece gives a character it never saw (the zoo's lookups read it as [UNK])
UNKNOWN_PIECE = "<unk>"


def train(sentences: Iterable[str], vocabulary_size: int) -> str:
    """Learn a unigram SentencePiece model from raw sentences.

    Text is NFKC-normalised (SentencePiece's `nmt_nfkc` rule, stored in the model) and
    keeps its case; every character of the training text is covered, so only characters
    never seen in training read as unknown.

    Args:
        sentences: raw training sentences of one language.
        vocabulary_size: pieces wanted, the unknown piece included; a small corpus may
            yield fewer (the limit is soft).

    Returns:
        The serialised model, base64-encoded (as `preprocessing.json` stores it).

    Raises:
        ZooError: there is no text to learn from (an empty training split).
    """
    import sentencepiece  # training only: applying a model needs TensorFlow Text alone

    model = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            vocab_size=vocabulary_size,
            model_type="unigram",
            character_coverage=1.0,
            hard_vocab_limit=False,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            pad_id=-1,
            num_threads=1,  # reproducible: the same pieces from the same text
            minloglevel=2,
        )
    except RuntimeError as err:  # sentencepiece's error for no (or too little) text
        raise ZooError(
            f"no subword units can be learnt from the training text ({err}): check that the "
            "training split is not empty and holds text in the expected feature."
        ) from err
    return base64.b64encode(model.getvalue()).decode("ascii")


def pieces(model: str) -> list[str]:
    """The pieces a model emits, most useful first, without the unknown piece.

    Args:
        model: a base64 model from `train`.

    Returns:
        The piece strings in the model's id order (a vocabulary for
        `zoo.data.preprocessing.vocabulary_field`).
    """
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(model))
    return [
        processor.id_to_piece(i)
        for i in range(processor.get_piece_size())
        if not (processor.is_unknown(i) or processor.is_control(i))
    ]


def serialised(model: str) -> bytes:
    """The model's bytes, as `tokenize` takes them.

    Args:
        model: a base64 model from `train`.

    Returns:
        The serialised SentencePiece model proto.
    """
    return base64.b64decode(model)


def tokenize(model: bytes, sentences: tf.Tensor) -> tf.RaggedTensor:
    """Cut sentences into pieces with TensorFlow ops.

    The SentencePiece op is made where this is called: inside a `tf.function`, a `tf.data`
    map or an exported signature it is a node of that graph, holding the model, so the
    graph needs no resource tracked beside it; eagerly, TensorFlow caches the op. (Made
    once and kept eagerly, its resource would vanish whenever TensorFlow clears its eager
    kernel cache, as `tf.random.set_seed` does.)

    Args:
        model: a serialised model (`serialised`).
        sentences: string tensor, a scalar or of shape (batch,).

    Returns:
        The piece strings: shape (pieces,) for a scalar, ragged (batch, None) otherwise.
    """
    import tensorflow_text  # registers the SentencePiece ops with TensorFlow

    return tensorflow_text.SentencepieceTokenizer(model=model, out_type=tf.string).tokenize(
        sentences
    )


def join_pieces(sentences: tf.Tensor) -> tf.Tensor:
    """Pieces joined by spaces -> text: SentencePiece's detokenisation as string ops.

    Args:
        sentences: string tensor of any shape, pieces joined by single spaces
            ("▁Zwei ▁Hund e ." -> "Zwei Hunde.").

    Returns:
        String tensor of the same shape, without leading or trailing space.
    """
    joined = tf.strings.regex_replace(sentences, " ", "")
    return tf.strings.strip(tf.strings.regex_replace(joined, SPACE, " "))
