"""A quiet command line: TensorFlow's C++ log lines kept off the terminal.

TensorFlow 2.21 logs through absl before anything calls `absl::InitializeLog()`, so every
record goes to standard error whatever `TF_CPP_MIN_LOG_LEVEL` says: the preamble `All log
messages before absl::InitializeLog() ...`, oneDNN and CUDA notices at import, and a few
error-level records on any machine without a GPU (`failed call to cuInit`) or AVX-512.
The only place to stop them is file descriptor 2 itself.

`quiet_stderr` points descriptor 2 at a pipe for the duration of a command, and a thread
copies what arrives to the real standard error through `LogFilter`, which drops those
records and passes everything else: fatal and unexpected error records, and anything that
is not a log record (a crash report, a child process's output). Python's own `sys.stderr`
(tracebacks, `zoo: error: ...`, progress bars) writes to the real standard error directly,
so nothing Python prints is delayed or filtered. The Python loggers of absl and TensorFlow
are set to errors only (TFDS's `Using custom data configuration`, retracing notices).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
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


def is_noise(record: bytes) -> bool:
    """Whether a line written to standard error is one of TensorFlow's log records that
    the quiet command line drops.

    Args:
        record: one line, without its line break.

    Returns:
        True for absl's preamble, informational and warning records, and the error records
        of `_KNOWN_ERRORS`; False for fatal records, other error records and anything that
        is not a log record.
    """
    if record == _PREAMBLE:
        return True
    match = _RECORD.match(record)
    if match is None:
        return False
    return match[1] in b"IW" or (match[1] == b"E" and _KNOWN_ERRORS.search(record) is not None)


class LogFilter:
    """What to show of the bytes written to standard error, fed as they arrive.

    A record's continuation lines (lines that are not records themselves, such as the
    second line of TensorFlow's CPU-instructions notice) go with it, as long as they arrive
    in the same chunk: one record is written at once, so anything read later is new output.
    A line is judged once it is complete; `flush` returns an incomplete last one.
    """

    def __init__(self) -> None:
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
                dropping = is_noise(line)
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


def _pump(source: int, target: int) -> None:
    """Copy the pipe to the real standard error through a `LogFilter`, until every writer
    has closed it."""
    log = LogFilter()
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
def quiet_stderr() -> Iterator[None]:
    """Drop TensorFlow's C++ log records (`is_noise`) from standard error while the block
    runs; everything else still reaches it.

    Returns:
        A context manager. On exit, descriptor 2, `sys.stderr` and the loggers' levels are
        restored, and what the pipe still held has been shown (child processes that keep
        the pipe open are waited for a few seconds at most).
    """
    sys.stderr.flush()
    real = os.dup(2)
    source, sink = os.pipe()
    os.dup2(sink, 2)
    os.close(sink)
    pump = threading.Thread(target=_pump, args=(source, real), name="zoo-stderr", daemon=True)
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
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(real, 2)  # closes this process's end of the pipe: the pump reads to its end
        pump.join(timeout=5)
        if not pump.is_alive():  # else a child still writes through it to `real`: keep it open
            os.close(real)
