"""Shared fixtures: every test session gets its own TFDS data folder and registry, so the
suite never touches the user's `~/tensorflow_datasets` or the shipped `saved_models/`."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory):
    data_dir = os.environ.get("ZOO_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("tfds"))
    saved = {k: os.environ.get(k) for k in ("ZOO_DATA_DIR", "ZOO_REGISTRY", "ZOO_CHECKPOINTS")}
    os.environ["ZOO_DATA_DIR"] = data_dir
    os.environ["ZOO_REGISTRY"] = str(tmp_path_factory.mktemp("registry"))
    os.environ["ZOO_CHECKPOINTS"] = str(tmp_path_factory.mktemp("checkpoints"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
