"""Only what the user should act on: TensorFlow's C++ log lines kept off standard error,
for the command line and for a Python script or notebook that imports `zoo` alike.

TensorFlow 2.21 logs through absl before anything calls `absl::InitializeLog()`, so every
record goes to standard error whatever `TF_CPP_MIN_LOG_LEVEL` says: the preamble `All log
messages before absl::InitializeLog() ...`, oneDNN and CUDA notices at import, and a few
error-level records on any machine without a GPU (`failed call to cuInit`) or AVX-512.
The only place to stop them is file descriptor 2 itself.

`quiet_stderr` points descriptor 2 at a pipe for the duration of a block, and a thread
copies what arrives to the real standard error through `LogFilter`, which drops those
records and passes everything else: fatal and unexpected error records, and anything that
is not a log record (a crash report, a child process's output). Python's own `sys.stderr`
(tracebacks, `zoo: error: ...`, progress bars) writes to the real standard error directly,
so nothing Python prints is delayed or filtered. The Python loggers of absl and TensorFlow
are set to errors only (TFDS's `Using custom data configuration`, retracing notices).

The command line runs each command in that block. `import zoo` cannot hold descriptor 2
for a whole Python session, so `quiet_tensorflow_start` runs only TensorFlow's start-up in
it: its import and its first look at the devices (where `cuInit` fails), wherever the
import happens. Either way, `TF_CPP_MIN_LOG_LEVEL` is set to 2 unless the user set it: a
level the user chose decides what the filter drops (`is_noise`), 0 turns it off, and so do
`ZOO_VERBOSE=1` and `zoo --verbose`.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

#: one record of absl's C++ logging: severity and date (MMDD), time (seconds since the epoch
#: before absl is initialised), thread id, `file:line]`
_RECORD = re.compile(rb"([IWEF])\d{4} [\d:.]+ +\d+ [^ \]]+:\d+\] ")
#: the line absl prints before its first record when nothing has initialised it
_PREAMBLE = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
)
#: error-level records TensorFlow prints on machines without a GPU or AVX-512, whatever
#: the command: not errors of the command (informational and warning records all go)
_KNOWN_ERRORS = re.compile(
    rb"failed call to cuInit|oneDNN supports \S+ only on platforms with AVX-512"
    rb"|Unable to register cu(DNN|FFT|BLAS) factory"
)
#: Python loggers whose warnings are start-up and housekeeping notices
_LOGGERS = ("absl", "tensorflow")
_CHUNK = 1 << 16


#: `TF_CPP_MIN_LOG_LEVEL` where the user set none: errors only, as TensorFlow counts
_DEFAULT_LEVEL = 2
#: the severities in `TF_CPP_MIN_LOG_LEVEL`'s order (0: info ... 3: fatal)
_SEVERITIES = b"IWEF"


def log_level() -> int:
    """The `TF_CPP_MIN_LOG_LEVEL` in force, set to 2 first where the user set none (so that
    TensorFlow, which reads it when it starts, drops its informational and warning records
    once absl is initialised).

    Returns:
        The level: 0 shows every record; 1 drops informational ones; 2 warnings too; 3 errors
        too. A value that is not a whole number reads as 2.
    """
    value = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", str(_DEFAULT_LEVEL))
    try:
        return int(value)
    except ValueError:
        return _DEFAULT_LEVEL


def verbose_requested() -> bool:
    """Whether TensorFlow's log lines are shown untouched: `ZOO_VERBOSE` set to anything but
    empty or `0` (`zoo --verbose` sets it too).

    Returns:
        True to leave standard error alone.
    """
    return os.environ.get("ZOO_VERBOSE", "") not in ("", "0")


def is_noise(record: bytes, level: int = _DEFAULT_LEVEL) -> bool:
    """Whether a line written to standard error is one of TensorFlow's log records that
    the quiet zoo drops.

    Args:
        record: one line, without its line break.
        level: the `TF_CPP_MIN_LOG_LEVEL` in force (`log_level`).

    Returns:
        At level 0, always False. Otherwise True for absl's preamble, for the records of a
        severity below the level (informational ones at 1; warnings too at 2; errors too at
        3), and for the error records of `_KNOWN_ERRORS`, which no user can act on; False
        for fatal records, other error records and anything that is not a log record.
    """
    if level <= 0:
        return False
    if record == _PREAMBLE:
        return True
    match = _RECORD.match(record)
    if match is None:
        return False
    severity = _SEVERITIES.index(match[1])
    return severity < min(level, 3) or (
        match[1] == b"E" and _KNOWN_ERRORS.search(record) is not None
    )


def shows_progress(stream: Any) -> bool:
    """Whether progress bars written to `stream` are drawn in place: a terminal, or a
    Jupyter kernel (whose front end draws them, as Keras itself assumes). Elsewhere (a
    file, a pipe, a CI log) a redrawn bar is a run of carriage returns, backspaces and
    escape codes.

    Args:
        stream: a text stream, e.g. `sys.stderr`.

    Returns:
        True where bars are drawn in place.
    """
    if "ipykernel" in sys.modules:
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def keras_verbose(verbose: int | str) -> int | str:
    """Keras's `verbose` for `fit`, with `"auto"` made one plain line per epoch (2) where
    standard output draws no bars (`shows_progress`). Keras 3 takes any POSIX system for a
    terminal and redraws its bar with backspaces and colour codes even into a file.

    Args:
        verbose: `"auto"`, 0, 1 or 2, as the caller gave it.

    Returns:
        2 for `"auto"` off a terminal, else `verbose` unchanged.
    """
    if verbose == "auto" and not shows_progress(sys.stdout):
        return 2
    return verbose


class LogFilter:
    """What to show of the bytes written to standard error, fed as they arrive.

    A record's continuation lines (lines that are not records themselves, such as the
    second line of TensorFlow's CPU-instructions notice) go with it, as long as they arrive
    in the same chunk: one record is written at once, so anything read later is new output.
    A line is judged once it is complete; `flush` returns an incomplete last one.

    Args:
        level: the `TF_CPP_MIN_LOG_LEVEL` in force, as `is_noise` takes it.
    """

    def __init__(self, level: int = _DEFAULT_LEVEL) -> None:
        self._level = level
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """Judge the lines that `chunk` completes.

        Args:
            chunk: bytes as read from the pipe.

        Returns:
            The bytes to show, whole lines with their line breaks.
        """
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        shown, dropping = [], False
        for line in lines:
            if line == _PREAMBLE or _RECORD.match(line):
                dropping = is_noise(line, self._level)
            if not dropping:
                shown.append(line + b"\n")
        return b"".join(shown)

    def flush(self) -> bytes:
        """The incomplete last line, if any (it is not a whole record, so it is shown).

        Returns:
            The bytes held back, now to show.
        """
        rest, self._pending = self._pending, b""
        return rest


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _pump(source: int, target: int, level: int) -> None:
    """Copy the pipe to the real standard error through a `LogFilter`, until every writer
    has closed it."""
    log = LogFilter(level)
    with contextlib.suppress(OSError):  # the real standard error is gone: nothing to show on
        while chunk := os.read(source, _CHUNK):
            _write_all(target, log.feed(chunk))
        _write_all(target, log.flush())
    os.close(source)


def _writes_to_descriptor_2(stream: Any) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # e.g. pytest's captured streams
        return False


@contextlib.contextmanager
def quiet_loggers() -> Iterator[None]:
    """Errors only from the Python loggers of absl and TensorFlow while the block runs
    (TFDS's `Using custom data configuration` and `Variant folder ... has no
    dataset_info.json`, retracing notices); nothing changes where `ZOO_VERBOSE` asks for
    everything.

    Returns:
        A context manager; the loggers' levels are restored on exit.
    """
    if verbose_requested():
        yield
        return
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _retarget_handlers(old: Any, new: Any) -> None:
    """Point every logging handler that writes to `old` at `new` instead: a handler made
    inside a `quiet_stderr` block (absl's, when TensorFlow is first imported) took the
    block's stand-in for `sys.stderr`, which is closed when the block ends; its later records
    (retracing notices) would each print a "Logging error" traceback."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            # absl's handler reads `sys.stderr` on every record (a property): nothing to do
            dynamic = isinstance(getattr(type(handler), "stream", None), property)
            if isinstance(handler, logging.StreamHandler) and not dynamic and handler.stream is old:
                handler.setStream(new)


#: whether a `quiet_stderr` block is running (the CLI's, around TensorFlow's start-up)
_filtering = threading.Event()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Drop TensorFlow's C++ log records (`is_noise` at `log_level`) from standard error
    while the block runs; everything else still reaches it. Inside another such block, and
    at level 0, it changes nothing.

    Returns:
        A context manager. On exit, descriptor 2, `sys.stderr` and the loggers' levels are
        restored, and what the pipe still held has been shown (child processes that keep
        the pipe open are waited for a few seconds at most).
    """
    level = log_level()
    if level <= 0 or _filtering.is_set():
        yield
        return
    _filtering.set()
    sys.stderr.flush()
    real = os.dup(2)
    source, sink = os.pipe()
    os.dup2(sink, 2)
    os.close(sink)
    pump = threading.Thread(
        target=_pump, args=(source, real, level), name="zoo-stderr", daemon=True
    )
    pump.start()
    python_stderr = sys.stderr
    if _writes_to_descriptor_2(python_stderr):  # Python's own output skips the pipe
        sys.stderr = open(  # noqa: SIM115  (closed below, after the block)
            real,
            "w",
            encoding=python_stderr.encoding,
            errors=python_stderr.errors,
            buffering=1,
            closefd=False,
        )
    try:
        with quiet_loggers():
            yield
    finally:
        if sys.stderr is not python_stderr:
            _retarget_handlers(sys.stderr, python_stderr)
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(real, 2)  # closes this process's end of the pipe: the pump reads to its end
        pump.join(timeout=5)
        if not pump.is_alive():  # else a child still writes through it to `real`: keep it open
            os.close(real)
        _filtering.clear()


class _QuietTensorFlowStart(importlib.abc.MetaPathFinder):
    """The first finder on `sys.meta_path` while TensorFlow is not imported: it finds
    `tensorflow` with the finders after it, once, and has its loader run the import, and
    the first look at the devices, inside `quiet_stderr`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec of `tensorflow`, with a quiet loader; None for any other module.

        Args:
            fullname: the module's full name.
            path: its parent package's `__path__` (None for a top-level module).
            target: the module being reloaded, if any.

        Returns:
            The spec, or None to let the other finders find the module.
        """
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: from now on the module is found as usual
        spec = importlib.util.find_spec(fullname)
        if verbose_requested() or spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_quietly(module: ModuleType) -> None:
            with quiet_stderr():
                exec_module(module)
                # CUDA is initialised (and fails with `cuInit` on a machine without a GPU)
                # the first time TensorFlow looks at the devices: do that now, still
                # quietly; devices can still be configured afterwards
                module.config.list_physical_devices()

        spec.loader.exec_module = exec_quietly  # type: ignore[method-assign]
        return spec


def quiet_tensorflow_start() -> None:
    """Have TensorFlow start quietly when it is first imported, in this process, by the zoo
    or by anyone else: its start-up records go through `quiet_stderr`, and
    `TF_CPP_MIN_LOG_LEVEL` is set to 2 unless the user set it. Nothing changes where
    `ZOO_VERBOSE` asks for TensorFlow's lines (now, or by the time TensorFlow is imported:
    `zoo --verbose` sets it after `import zoo`) or TensorFlow is already imported; calling
    it twice is calling it once.
    """
    if "tensorflow" in sys.modules or verbose_requested():
        return
    if not any(isinstance(finder, _QuietTensorFlowStart) for finder in sys.meta_path):
        log_level()
        sys.meta_path.insert(0, _QuietTensorFlowStart())
