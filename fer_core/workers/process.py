"""One worker process and our end of its pipe.

A worker is a fresh ``python`` that imports only fer_core and its target's module. Not
multiprocessing's "spawn": that re-imports the parent's ``__main__`` in the child, and in a
Streamlit server ``__main__`` is the app script, so every worker would run the dashboard's
pages first. ``receive`` turns a worker's exit into a ``WorkerError`` instead of a hang, and
every way out reaps the process: no zombies.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fer_core.errors import FerCoreError

STOP_TIMEOUT_S = 5.0  # after SIGTERM, how long a worker has before SIGKILL
_BOOT = "import sys; from fer_core.workers.process import _child; _child(int(sys.argv[1]))"
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding this fer_core


class WorkerError(FerCoreError):
    """A worker process could not do its job: it failed to start, raised, or died."""


class WorkerProcess:
    """Runs ``target(connection, *args)`` in a new process, started here.

    ``target`` must be a module-level function and ``args`` picklable. ``send`` and ``stop``
    may be called from any thread; ``receive`` from one thread at a time.
    """

    def __init__(self, target: Callable[..., None], name: str, *args: Any) -> None:
        self.name = name
        ours, theirs = socket.socketpair()
        path = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
        with ours, theirs:
            self._popen = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
            self._connection = Connection(ours.detach())
        # Our copy of the child's end is closed now: ours sees EOF once the child exits.
        self._send_lock = threading.Lock()
        self.send((target.__module__, target.__qualname__, args))

    @property
    def pid(self) -> int:
        return self._popen.pid

    def send(self, message: Any) -> bool:
        """Send ``message``; False when the worker is gone (``receive`` then says why)."""
        with self._send_lock:
            if self._connection.closed:
                return False
            try:
                self._connection.send(message)
            except OSError:  # a broken pipe: the worker died
                return False
            return True

    def receive(self) -> Any:
        """The worker's next message; ``WorkerError`` once it has exited (it is then reaped)."""
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            pass
        try:
            self._popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # it closed its pipe but lingers
            self.stop()
        raise WorkerError(f"the {self.name} process {exit_reason(self._popen.returncode)}")

    def stop(self) -> None:
        """End the worker now and reap it; it holds nothing worth saving."""
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._popen.kill()
        self._popen.wait()

    def close(self) -> None:
        """Stop the worker and close the pipe; call it once nothing waits in ``receive``."""
        self.stop()
        with self._send_lock:
            self._connection.close()


def _child(fd: int) -> None:
    """The worker's first code: read what to run from the pipe, then run it."""
    # Ctrl-C in the server's terminal reaches the whole process group; the server stops its
    # workers itself, and a worker whose server is gone sees its pipe close.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = Connection(fd)
    module, name, args = connection.recv()
    getattr(importlib.import_module(module), name)(connection, *args)


def exit_reason(exitcode: int | None) -> str:
    """How a process ended, in words: ``was killed by SIGSEGV``, ``exited with code 1``."""
    if exitcode is None:
        return "closed its pipe"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:  # a real-time signal has no name
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"
