"""The library reaches Keras and TFDS through their public API only: private modules and
attributes change without notice between releases, and a patched `layer.call` leaks into
every later use of the model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def _run(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_importing_zoo_registers_every_zoo_layer_with_keras() -> None:
    # every shipped model, in Keras safe mode, with nothing of the zoo imported but the package;
    # Keras imported after zoo (the hook) and before it (registered at once)
    from zoo.registry import catalogue

    # the shipped models (the catalogue's), not the demo models `zoo demo` adds beside them
    models = sorted(
        str(ROOT / "saved_models" / name / str(entry["aliases"]["latest"]))
        for name, entry in catalogue.models().items()
    )
    load_all = f"for path in {models!r}: keras.saving.load_model(path + '/model.keras')\n"
    assert len(models) == 18  # three cells on six datasets (TREC questions included)
    out = _run("import sys, zoo; print('keras' in sys.modules); import keras\n" + load_all)
    assert out.split() == ["False"]  # `import zoo` alone stays free of Keras (zoo --help)
    _run("import keras, zoo\n" + load_all)
