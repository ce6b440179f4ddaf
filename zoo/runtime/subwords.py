"""SentencePiece units without TensorFlow: the `sentencepiece` package applies the model
that `preprocessing.json` carries (base64), as TensorFlow Text's `SentencepieceTokenizer`
does in the zoo (`zoo.data.subwords`), and `join_pieces` turns pieces back into text.
"""

from __future__ import annotations

import base64
from typing import Any

from zoo_runtime.text import SPLIT_WHITESPACE

#: SentencePiece's marker of a word start (a space in the text)
SPACE = "\u2581"


def processor(model: str) -> Any:
    """A SentencePiece processor for a base64 model.

    Args:
        model: the serialised model, base64 (a `preprocessing.json` field).

    Returns:
        A `sentencepiece.SentencePieceProcessor`.
    """
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(model))


def pieces(model: Any, text: str) -> list[str]:
    """The pieces of a text (no sampling, no begin or end markers).

    Args:
        model: a processor from `processor`.
        text: one text.

    Returns:
        The piece strings.
    """
    return model.encode(text, out_type=str)


def join_pieces(sentence: str) -> str:
    """Pieces joined by spaces -> text (`zoo.data.subwords.join_pieces`).

    Args:
        sentence: pieces joined by single spaces ("▁Zwei ▁Hund e ." -> "Zwei Hunde.").

    Returns:
        The text, without leading or trailing white space.
    """
    return sentence.replace(" ", "").replace(SPACE, " ").strip(SPLIT_WHITESPACE)
