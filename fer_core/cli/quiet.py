"""A quiet start: a command shows its own output, not the log lines of the native libraries it
loads, unless ``--verbose``.

TensorFlow and LiteRT log from C++ straight to file descriptor 2. TensorFlow's first lines come
before it reads ``TF_CPP_MIN_LOG_LEVEL`` ("oneDNN custom operations are on", "Could not find
cuda drivers"), LiteRT's ignore it ("Created TensorFlow Lite XNNPACK delegate"), and every
worker process prints them again. So ``entry`` runs the command line in a child process whose
stderr passes through ``NativeLogFilter``: lines in those libraries' formats are dropped, and
everything else (our warnings and errors, progress bars, a fatal error's message) passes
through as it comes. The filtering process outlives the command, so nothing it wrote is lost,
not even if it crashes.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

OPTION = "--verbose"
_FILTERED_BY = "FER_CORE_FILTERED_BY"  # in a filtered command's environment: its filter's pid
_NATIVE_LOG = re.compile(
    rb"[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\] "  # absl / TensorFlow; F (fatal) passes
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|INFO: "  # LiteRT's C++ logger
    # LiteRT's messages without their "INFO: ": in a worker process it may write the prefix
    # just as another process's progress bar ends a line, which parts the two.
    rb"|Created TensorFlow Lite XNNPACK delegate|Initialized TensorFlow Lite runtime"
)
_LOG_HEADS = (
    b"INFO: ",
    b"WARNING: All log messages",
    b"Created TensorFlow Lite",
    b"Initialized TensorFlow Lite",
)
_LINE_END = re.compile(rb"(?<=[\r\n])")  # after each \n, and each \r of a progress bar


class NativeLogFilter:
    """Drops native log lines from a byte stream that arrives in chunks of any size.

    A whole line (ending in ``\\n``, or ``\\r`` for a progress bar) passes unless it is a log
    line; an unfinished one passes at once unless it may still become one, so progress bars
    do not lag (LiteRT writes "INFO: ", its message and the newline separately).
    """

    def __init__(self) -> None:
        self._unfinished = b""

    def feed(self, chunk: bytes) -> bytes:
        *lines, rest = _LINE_END.split(self._unfinished + chunk)
        # A dropped line that ends in \r was a log head parted by a progress bar: keep its \r.
        kept = [
            (b"\r" if line.endswith(b"\r") else b"") if _NATIVE_LOG.match(line) else line
            for line in lines
        ]
        if _may_become_log(rest):
            self._unfinished = rest
        else:
            self._unfinished = b""
            kept.append(rest)
        return b"".join(kept)

    def close(self) -> bytes:
        """What is left once the stream has ended."""
        rest, self._unfinished = self._unfinished, b""
        return b"" if _NATIVE_LOG.match(rest) else rest


def _may_become_log(start: bytes) -> bool:
    head = start[:6]
    return bool(
        _NATIVE_LOG.match(start)
        or re.match(rb"[IWE]\d", head)
        or (head and any(known.startswith(head) for known in _LOG_HEADS))
    )


def add_option(parser: argparse.ArgumentParser) -> None:
    """The ``--verbose`` option every command has (``entry`` acts on it)."""
    parser.add_argument(
        OPTION,
        action="store_true",
        help="also show the log lines of TensorFlow and LiteRT (hidden by default)",
    )


def asked_verbose(argv: Sequence[str]) -> bool:
    """Whether ``argv`` holds ``--verbose``, read as argparse reads it (``--verb`` too)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_option(parser)
    return parser.parse_known_args(list(argv))[0].verbose


def entry(main: Callable[[list[str]], int]) -> int:
    """Run ``main`` on this process's command line; quietly, as said above, unless
    ``--verbose``. For entry points only: ``main(argv)`` itself runs in this process."""
    argv = sys.argv[1:]
    if asked_verbose(argv) or os.environ.get(_FILTERED_BY) == str(os.getppid()):
        return main(argv)
    return _run_filtered()


def _run_filtered() -> int:
    """This process's command line again, in a child whose stderr is filtered; its exit code."""
    env = {**os.environ, _FILTERED_BY: str(os.getpid())}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # fewer lines where TensorFlow does read it
    env.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # OpenCV's warnings repeat our own errors
    # A TERM sent here goes on to the child, also one that comes while it is being started (a
    # handler, unlike an ignored signal, is not inherited, so it can be set first).
    early: list[int] = []
    child: subprocess.Popen | None = None

    def forward(number: int, _frame: object) -> None:
        if child is None:
            early.append(number)
        else:
            child.send_signal(number)

    signal.signal(signal.SIGTERM, forward)
    child = subprocess.Popen([sys.executable, *sys.orig_argv[1:]], env=env, stderr=subprocess.PIPE)
    for number in early:
        child.send_signal(number)
    # Ctrl-C reaches the child from the terminal; the child decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log_filter, out = NativeLogFilter(), sys.stderr.buffer
    with child.stderr as stream:
        while chunk := stream.read1(65536):
            out.write(log_filter.feed(chunk))
            out.flush()
    out.write(log_filter.close())
    out.flush()
    code = child.wait()
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says
