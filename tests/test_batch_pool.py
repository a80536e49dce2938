"""The batch's local process pool when a worker is killed, as the out-of-memory killer does:
only the video whose worker died may fail; every other video is analyzed."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

from fer_core.batch import run_batch
from fer_core.batch.engines import WORKER_DIED
from fer_core.synthetic import write_demo_video


def _descendants(root: int) -> list[int]:
    """Every process under ``root`` (the pool's workers, the queue's manager)."""
    found, todo = [], [root]
    while todo:
        with contextlib.suppress(OSError):  # it exited meanwhile
            for children in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
                pids = [int(child) for child in children.read_text().split()]
                found += pids
                todo += pids
    return found


def _has_open(pid: int, path: Path) -> bool:
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return True
    return False


class Killer(threading.Thread):
    """SIGKILLs any process of ours that opens ``victim``: a video whose analysis always
    gets its worker killed."""

    def __init__(self, victim: Path) -> None:
        super().__init__(daemon=True)
        self.victim, self.killed, self.stop = victim, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in _descendants(os.getpid()):
                if _has_open(pid, self.victim):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(pid)
            self.stop.wait(0.01)


def test_a_killed_worker_fails_only_its_own_video(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    # Long enough (about 150 frames analyzed) that its worker is caught with the file open.
    victim = write_demo_video(library / "b_huge.mp4", seconds=50, fps=5, width=320, height=240)
    for name in ("a", "c", "d", "e"):
        write_demo_video(library / f"{name}.mp4", seconds=2, fps=10, width=160, height=120)
    killer = Killer(victim.resolve())
    killer.start()
    try:
        result = run_batch([library], tmp_path / "out", workers=2)
    finally:
        killer.stop.set()
        killer.join()
    statuses = {row["name"]: (row["status"], row["reason"]) for row in result.rows}
    assert killer.killed, "the victim's worker was never seen, so never killed"
    assert statuses.pop("b_huge") == ("failed", WORKER_DIED), killer.killed
    assert statuses == dict.fromkeys(("a", "c", "d", "e"), ("ok", None)), killer.killed
    for name in statuses:
        assert (tmp_path / "out" / name / "summary.json").is_file()
