"""What counts as text a model can read, without importing TensorFlow: invisible format
characters (Unicode category Cf: zero-width space U+200B, joiners U+200C/U+200D, the
byte-order mark U+FEFF, the soft hyphen U+00AD, the word joiner U+2060, direction marks)
are no text, nor is white space (the zoo and `zoo_runtime` share this module). `zoo.data.text.normalize` removes the same characters in
TensorFlow (`FORMAT_CHARACTERS`), so a text blank here normalises to nothing, at training
and at prediction alike. (`normalize` also drops HTML line breaks: `zoo.data.text.
require_words` refuses a text of those alone.)
"""

from __future__ import annotations

import unicodedata

#: RE2 / Python class of the characters `normalize` removes (Unicode general category Cf)
FORMAT_CHARACTERS = r"\p{Cf}"


def visible(text: str) -> str:
    """`text` without format characters.

    Args:
        text: any text.

    Returns:
        The text a tokenizer sees (not yet lowercased or split).
    """
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def is_blank(text: str) -> bool:
    """Whether `text` holds nothing a model can read: empty, white space or format
    characters only (a line of zero-width spaces).

    Args:
        text: any text.

    Returns:
        True when nothing visible is left.
    """
    return not visible(text).strip()
