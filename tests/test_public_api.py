"""The library reaches Keras and TFDS through their public API only: private modules and
attributes change without notice between releases, and a patched `layer.call` leaks into
every later use of the model."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ("zoo", "tasks", "tuning")
FORBIDDEN = {
    "keras.src": re.compile(r"keras\.src\b"),
    "_flatten_layers": re.compile(r"\b_flatten_layers\b"),
    "_inbound_nodes": re.compile(r"\b_inbound_nodes\b"),
    "_initial_epoch": re.compile(r"\b_initial_epoch\b"),
    "an assigned .call": re.compile(r"\.call\s*=(?!=)"),
}


def test_the_library_uses_no_keras_internals() -> None:
    sources = sorted(path for folder in LIBRARY for path in (ROOT / folder).rglob("*.py"))
    assert len(sources) > 20  # the folders were found
    found = [
        f"{path.relative_to(ROOT)}:{number}: {what}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for what, pattern in FORBIDDEN.items()
        if pattern.search(line)
    ]
    assert found == []
