"""Runs the README's code blocks in order, as a new user pastes them, in a fresh copy of the
checkout, and (with `--write`) writes the outputs the examples print into the README.

A fenced block whose language is `bash` or `python` is an example; a block without a
language is output and is not run. `<!-- readme-example: skip (REASON) -->` on the line
before a block keeps it from running (the test command, which would run this script's own
test suite, and the TensorFlow Serving recipe, which needs Docker). Each block runs in its
own process from the copy's root (bash with `-e -o pipefail`, Python with the copy's
`.venv/bin/python`), so a block that fails stops there with its line number in the README.

Two things are not literally as written, and only so that a run is isolated from the
machine it runs on: `HOME` is a new folder (the user registry, TFDS's data folder and
Keras's cache start empty; pip keeps its download cache), and the README's `/tmp/` paths
are moved into the run's own folder, so two runs do not share a hub or an environment.

The README shows what an example prints as `# {"input": ...}` lines after its command, and
`zoo retrain`'s summary as `# NAME@V fine-tuned on ...`: `--write` replaces each with the
line the run printed for the same input (a summary: the block's in the same order), so
those figures come from a run, not from hands. `tests/test_readme.py` (slow) runs every block,
checks the outputs of shipped models against the README, and that `git status` stays
clean.

    .venv/bin/python benchmarks/readme_examples.py [--write] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from report import ROOT

#: the marker that keeps the next block from running, with its reason
SKIP = re.compile(r"<!-- readme-example: skip \((?P<reason>[^)]+)\) -->")
FENCE = re.compile(r"^```(?P<language>\w*)\s*$")
PREDICT = re.compile(r"zoo predict (?P<model>[\w.@:-]+)")
#: the summary line `zoo retrain` prints, e.g. `sentiment-mr-lstm@5 fine-tuned on zoo_reviews in 6.4 s (...)`
FINE_TUNED = re.compile(r"^(?P<parent>[\w.-]+@\d+) fine-tuned on (?P<data>\S+) in [\d.]+ s \(")
RUNNABLE = ("bash", "python")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of the README.

    Attributes:
        line: the 1-based line of its opening fence.
        language: `bash`, `python`, or "" for output.
        lines: its lines, without the fences.
        skip: why it is not run, or None.
    """

    line: int
    language: str
    lines: tuple[str, ...]
    skip: str | None

    @property
    def code(self) -> str:
        return "\n".join(self.lines) + "\n"

    def shown_outputs(self) -> Iterator[tuple[int, str | None, dict]]:
        """The JSON results the README shows after `zoo predict` commands.

        Yields:
            `(index, model, result)`: the line's index in `lines`, the model of the last
            `zoo predict` before it (None if there is none), and the parsed result
            (a dict with `input` and `output`).
        """
        model = None
        for index, line in enumerate(self.lines):
            if found := PREDICT.search(line):
                model = found["model"]
            if line.startswith("# {"):
                result = json.loads(line[2:])
                if "input" in result and "output" in result:
                    yield index, model, result

    def shown_retrains(self) -> Iterator[tuple[int, str]]:
        """The summary lines of `zoo retrain` the README shows, as `# NAME@V fine-tuned on
        DATA in T s (...)`.

        Yields:
            `(index, line)`: the line's index in `lines`, and the line without its `# `.
        """
        for index, line in enumerate(self.lines):
            if line.startswith("# ") and FINE_TUNED.match(line[2:]):
                yield index, line[2:]


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order.

    Args:
        text: the README.

    Returns:
        Every block, runnable or not.
    """
    found, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        skip = SKIP.search(lines[i - 1]) if i else None
        found.append(
            Block(
                line=i + 1,
                language=opening["language"],
                lines=tuple(lines[i + 1 : end]),
                skip=skip["reason"] if skip else None,
            )
        )
        i = end + 1
    return found


def fresh_copy(destination: Path) -> Path:
    """The checkout's tracked files as they are now (uncommitted edits included), committed
    into a new repository, so `git status` there shows only what the examples change.

    Args:
        destination: a folder that does not exist yet.

    Returns:
        `destination`.
    """
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git = ["git", "-c", "user.name=readme", "-c", "user.email=readme@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "fresh copy"]):
        subprocess.run([*git, *command], cwd=destination, check=True)
    return destination


def environment(scratch: Path) -> dict[str, str]:
    """A new user's environment: a new `HOME`, no `ZOO_*`/`XDG_*` settings, no virtual
    environment active; pip's download cache stays the machine's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ZOO_", "XDG_", "VIRTUAL_ENV", "PYTHONPATH", "TF_"))
    }
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
    env["HOME"] = str(scratch / "home")
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.endswith(".venv/bin")
    )
    (scratch / "home").mkdir(exist_ok=True)
    return env


@dataclasses.dataclass
class Run:
    """What one block did: its exit code and what it printed."""

    block: Block
    returncode: int
    stdout: str
    stderr: str

    def results(self) -> list[dict]:
        """The JSON results (lines with `input` and `output`) it printed on stdout."""
        parsed = []
        for line in self.stdout.splitlines():
            if line.startswith("{"):
                try:
                    result = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "input" in result and "output" in result:
                    parsed.append(result)
        return parsed

    def retrains(self) -> list[str]:
        """The summary lines `zoo retrain` printed on stdout, in order."""
        return [line for line in self.stdout.splitlines() if FINE_TUNED.match(line)]


def run_blocks(checkout: Path, scratch: Path, *, timeout: float = 3600) -> Iterator[Run]:
    """Runs every runnable, unskipped block of the checkout's README in order, stopping
    after the first that fails.

    Args:
        checkout: a fresh copy (`fresh_copy`).
        scratch: a folder for `HOME` and the README's `/tmp/` paths.
        timeout: seconds a block may run.

    Yields:
        One `Run` per block run.
    """
    env = environment(scratch)
    sessions = []
    try:
        for block in blocks((checkout / "README.md").read_text()):
            if block.language not in RUNNABLE or block.skip:
                continue
            code = block.code.replace("/tmp/", f"{scratch}/").replace(
                "cd /tmp\n", f"cd {scratch}\n"
            )
            command = (
                ["bash", "-e", "-o", "pipefail", "-c", code]
                if block.language == "bash"
                else [str(checkout / ".venv" / "bin" / "python"), "-c", code]
            )
            # its own session, so a server it starts in the background is stopped at the end;
            # output goes to files, not pipes, which that server would hold open
            with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
                process = subprocess.Popen(
                    command,
                    cwd=checkout,
                    env=env,
                    stdout=out,
                    stderr=err,
                    text=True,
                    start_new_session=True,
                )
                sessions.append(process.pid)
                process.wait(timeout=timeout)
                out.seek(0)
                err.seek(0)
                run = Run(block, process.returncode, out.read(), err.read())
            yield run
            if run.returncode:
                return
    finally:
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)


def write_outputs(runs: list[Run], readme: Path) -> int:
    """Replaces each `# {"input": ...}` line of the README by what the run printed for the
    same input (and line number, for `--input` files), and each `# NAME@V fine-tuned on ...`
    line by the block's summary line of `zoo retrain` in the same place, in order.

    Returns:
        How many lines changed.
    """
    lines = readme.read_text().splitlines()
    changed = 0
    for run in runs:
        printed = run.results()
        for index, _, shown in run.block.shown_outputs():
            match = next(
                (
                    r
                    for r in printed
                    if r["input"] == shown["input"] and r.get("line") == shown.get("line")
                ),
                None,
            )
            new = f"# {json.dumps(match, ensure_ascii=False)}" if match else None
            at = run.block.line + index  # the block's lines start after the fence
            if new and lines[at] != new:
                lines[at] = new
                changed += 1
        for (index, _), printed_line in zip(
            run.block.shown_retrains(), run.retrains(), strict=False
        ):
            at = run.block.line + index
            if lines[at] != f"# {printed_line}":
                lines[at] = f"# {printed_line}"
                changed += 1
    readme.write_text("\n".join(lines) + "\n")
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write", action="store_true", help="write the printed results into the README"
    )
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="zoo-readme-"))
    scratch.mkdir(parents=True, exist_ok=True)
    checkout = fresh_copy(scratch / "clone")
    runs = []
    for run in run_blocks(checkout, scratch):
        runs.append(run)
        print(f"README line {run.block.line}: exit {run.returncode}", flush=True)
        if run.returncode:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n", file=sys.stderr)
            return 1
    if args.write:
        print(f"{write_outputs(runs, ROOT / 'README.md')} README line(s) rewritten")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
