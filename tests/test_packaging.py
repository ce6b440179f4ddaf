"""One import namespace: the zoo installs only `zoo`, with `zoo.tasks` and `zoo.tuning`
mapped from the top-level folders, and a user's own `tasks.py` or `tuning.py` cannot
shadow them."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_for_installation() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    folders = {
        "zoo": ROOT / "zoo",
        "zoo.tasks": ROOT / "tasks",
        "zoo.tuning": ROOT / "tuning",
        "zoo_runtime": ROOT / "zoo" / "runtime",
    }
    on_disk = set()
    for package, folder in folders.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            if package == "zoo" and relative[:1] == ("runtime",):
                continue  # installed as `zoo_runtime`, not `zoo.runtime`
            if {"build", "dist"} & set(relative):
                # what a build leaves (git ignores it): the README's `pip install ./zoo/runtime`
                # builds rnn-zoo-runtime in place, leaving build/lib/zoo_runtime/
                continue
            on_disk.add(".".join((package, *relative)))
    assert set(config["packages"]) == on_disk
    assert mapping == {
        "zoo": "zoo",
        "zoo.tasks": "tasks",
        "zoo.tuning": "tuning",
        "zoo_runtime": "zoo/runtime",
    }


@pytest.mark.slow
def test_a_users_own_tasks_and_tuning_modules_do_not_shadow_the_zoo(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("raise SystemExit('the user tasks.py was imported')\n")
    (tmp_path / "tuning.py").write_text("raise SystemExit('the user tuning.py was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # as a project folder on the path would be
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "tasks"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()[1:]] == [
        "one-to-one",
        "one-to-many",
        "many-to-one",
        "many-to-many-equal",
        "many-to-many-unequal",
    ]
    probe = (
        "import tasks, tuning, zoo.tasks, zoo.tuning; "
        "print(zoo.tasks.__name__, zoo.tuning.__name__, len(zoo.TASKS))"
    )
    # the user's modules stay theirs: importing them runs their code, not the zoo's
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert "the user tasks.py was imported" in done.stderr
    done = subprocess.run(
        [sys.executable, "-c", "import zoo; print(len(zoo.TASKS), zoo.tuning.__name__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.split() == ["5", "zoo.tuning"], done.stderr
