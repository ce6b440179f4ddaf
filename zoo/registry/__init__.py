"""The registry of trained models: `store` (immutable versions, aliases, integrity checks,
loading), `cards` (what a model records about itself) and `export` (serving signatures).

The store's public API is re-exported here: `zoo.registry.load(...)`, `zoo.registry.save(...)`.
"""

from zoo.registry.store import (
    ALIASES_FILE,
    CARD_FILE,
    MODEL_FILE,
    PREPROCESSING_FILE,
    README_FILE,
    IntegrityError,
    ZooModel,
    default_root,
    list_models,
    load,
    reference_inputs,
    resolve,
    save,
    set_alias,
    sha256,
    verify,
)

__all__ = [
    "ALIASES_FILE",
    "CARD_FILE",
    "MODEL_FILE",
    "PREPROCESSING_FILE",
    "README_FILE",
    "IntegrityError",
    "ZooModel",
    "default_root",
    "list_models",
    "load",
    "reference_inputs",
    "resolve",
    "save",
    "set_alias",
    "sha256",
    "verify",
]
