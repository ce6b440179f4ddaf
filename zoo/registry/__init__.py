"""The registry of trained models: `layout` (where registry folders are and how one is laid
out), `store` (immutable versions, aliases, integrity checks, loading), `catalogue` (the
shipped models as pinned data), `hub` (pulling and pushing models), `packages` (a model
version as a pip-installable wheel, and the installed ones), `cards` (what a model records
about itself), `export` (exported folders: SavedModel, ONNX, LiteRT) and `graphs`
(writing, describing and checking ONNX and LiteRT graphs).

The public API is re-exported here: `zoo.registry.load(...)`, `zoo.registry.pull(...)`.
Attributes are imported on first use, so that `zoo pull` and `zoo models` (whose modules
import no TensorFlow) start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "ALIASES_FILE": "zoo.registry.layout",
    "CARD_FILE": "zoo.registry.layout",
    "MODEL_FILE": "zoo.registry.layout",
    "PREPROCESSING_FILE": "zoo.registry.layout",
    "README_FILE": "zoo.registry.layout",
    "IntegrityError": "zoo.registry.layout",
    "default_root": "zoo.registry.layout",
    "sha256": "zoo.registry.layout",
    "user_root": "zoo.registry.layout",
    "ZooModel": "zoo.registry.store",
    "list_models": "zoo.registry.store",
    "load": "zoo.registry.store",
    "reference_inputs": "zoo.registry.store",
    "resolve": "zoo.registry.store",
    "save": "zoo.registry.store",
    "set_alias": "zoo.registry.store",
    "verify": "zoo.registry.store",
    "pull": "zoo.registry.hub",
    "push": "zoo.registry.hub",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'zoo.registry' has no attribute {name!r}")
