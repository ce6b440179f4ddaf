"""A regular install, as a user makes one: `pip install` of the project (not editable) into a
fresh virtual environment, then, from a folder outside the checkout, `zoo predict` of a
shipped model by name, pulled from the checkout's `saved_models/` served over HTTP.

To keep CI short the new environment borrows the test environment's dependencies through a
`.pth` file and installs only the project (`pip install --no-deps --no-build-isolation`);
the project is built from a copy of its sources, since setuptools writes `build/` and
`*.egg-info` beside the sources it builds."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from test_hub import CountingHandler  # tests/ is on the path under pytest

ROOT = Path(__file__).resolve().parent.parent
NAME = "sentiment-mr-lstm"


def install(tmp_path: Path) -> Path:
    """A fresh venv with the project installed from a copy of its sources; its `bin/`."""
    source = tmp_path / "source"
    for folder in ("zoo", "tasks", "tuning"):
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for file in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / file, source / file)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zoo-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)],
        check=True,
    )
    return venv / "bin"


@pytest.mark.slow
def test_an_installed_zoo_pulls_a_shipped_model_by_name_and_predicts(tmp_path: Path) -> None:
    bin_dir = install(tmp_path)
    handler = type("Handler", (CountingHandler,), {"requests": [], "truncated": set()})
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=ROOT / "saved_models")
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "ZOO_REGISTRY": str(tmp_path / "user"),
        "ZOO_HUB": f"http://127.0.0.1:{httpd.server_address[1]}",
    }

    def zoo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [bin_dir / "zoo", *args], cwd=elsewhere, env=env, capture_output=True, text=True
        )

    try:
        probe = subprocess.run(
            [bin_dir / "python", "-c", "import zoo; print(zoo.__file__)"],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            check=True,
        )
        assert Path(probe.stdout.strip()).is_relative_to(tmp_path / "venv")  # not the checkout
        done = zoo("predict", NAME, "a fine film")
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["output"]["label"] in ("pos", "neg")
        fetched = sorted(handler.requests)
        assert fetched and all(path.startswith(f"/{NAME}/") for path in fetched)
        assert (tmp_path / "user" / NAME).is_dir()

        done = zoo("predict", NAME, "a fine film")
        assert done.returncode == 0 and sorted(handler.requests) == fetched  # no new request
    finally:
        httpd.shutdown()
        httpd.server_close()
