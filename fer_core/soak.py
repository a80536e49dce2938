"""Soak benchmark: a long live stream of many faces, recorded into a session as it goes.

A ``LiveRecord`` is fed synthetic frames at a fake clock (``faces`` people at ``fps``
analyzed frames a second, each person replaced by a newcomer every ``stay_s``), and a
``SessionRecorder`` saves it into a fresh SQLite database from its own thread, as for a real
stream. The faces are generated ``Face`` objects: the detector and model are bypassed, since
analyzing an hour of 50-face video takes far longer than an hour on a few cores, and what is
measured here (the record's memory, the saving, the database) does not depend on them.

Every ``sample_s`` of stream time it notes the resident memory, the database's size (as
SQLite counts its pages) and the time of a snapshot (what the Live page polls). At the end
it opens the session as the Sessions page does (list, then the session without its per-face
rows) and times it, times a per-face CSV export, and extrapolates the database's size to
``target_h`` hours.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from fer_core.faces import Face
from fer_core.labels import CLASSES
from fer_core.live import LiveRecord, RecordedStream, SessionRecorder
from fer_core.sessions import SessionStore


class FakeClock:
    """Stream time, advanced by the feeder: an hour of stream runs as fast as it is fed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Stream(RecordedStream):
    def __init__(self, record: LiveRecord) -> None:
        self.record = record


def resident_mb() -> float:
    """This process's resident memory (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status")


def database_mb(path: Path) -> float:
    """The SQLite file and its write-ahead log on disk, in MiB."""
    files = [path, path.with_name(path.name + "-wal")]
    return sum(file.stat().st_size for file in files if file.exists()) / 2**20


def stored_mb(store: SessionStore) -> float:
    """The database's size as its readers see it, what is still in the log included, in MiB:
    the files on disk grow in steps (the log is reused once copied into the database)."""
    with store.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
        size = connection.exec_driver_sql("PRAGMA page_size").scalar_one()
    return pages * size / 2**20


def _frame_faces(rng: np.random.Generator, elapsed: float, faces: int, stay_s: float) -> list:
    """``faces`` confirmed, classified people; slot ``i``'s person leaves every ``stay_s``
    (staggered), and a newcomer with a new track id takes the place."""
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=faces).astype(np.float32)
    people = []
    for slot in range(faces):
        shift = elapsed + stay_s * slot / faces
        track_id = slot + faces * int(shift // stay_s) + 1
        box = (40 * (slot % 10), 40 * (slot // 10), 36, 36)
        best = int(np.argmax(probs[slot]))
        people.append(Face(box, probs[slot], CLASSES[best], float(probs[slot][best]), track_id))
    return people


def soak(
    minutes: float,
    faces: int = 50,
    fps: float = 15.0,
    stay_s: float = 600.0,
    sample_s: float = 60.0,
    save_every_s: float = 0.2,
    target_h: float = 3.0,
    folder: Path | None = None,
) -> dict:
    """Run the benchmark for ``minutes`` of stream time; returns its figures.

    ``save_every_s`` is the recorder's interval in real seconds (a stream fed faster than
    real time is saved every few stream seconds, as a real one every 5 s).
    """
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "soak.db"
        store = SessionStore(path)
        clock = FakeClock()
        stream = _Stream(LiveRecord(CLASSES, clock=clock))
        recorder = SessionRecorder(store, every_s=save_every_s)
        session_id = recorder.start(stream, "Soak", {"faces": faces, "fps": fps})
        rng = np.random.default_rng(0)
        samples, frames = [], int(minutes * 60 * fps)
        started = time.perf_counter()
        next_sample = 0.0
        for index in range(frames):
            clock.now = index / fps
            elapsed = stream.record.elapsed()
            people = _frame_faces(rng, elapsed, faces, stay_s)
            stream.record.add(elapsed, people, people[-1].track_id)
            if elapsed >= next_sample:
                shot = time.perf_counter()
                stream.snapshot()
                samples.append(
                    {
                        "stream_min": round(elapsed / 60, 2),
                        "rss_mb": round(resident_mb(), 1),
                        "db_mb": round(stored_mb(store), 2),
                        "snapshot_s": round(time.perf_counter() - shot, 3),
                    }
                )
                next_sample += sample_s
        fed_s = time.perf_counter() - started
        if not recorder.stop(wait_s=120):
            raise RuntimeError(f"the session was not closed: {recorder.error}")
        with store.engine.begin() as connection:  # what is left in the log, into the file
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        result = _measure(store, session_id, path, minutes, target_h)
        result |= {
            "faces": faces,
            "fps": fps,
            "stream_min": minutes,
            "feed_s": round(fed_s, 1),
            "samples": samples,
            "rss_growth_after_history_mb": _growth(samples, stream.record.history_s / 60),
        }
        store.engine.dispose()
    return result


def _measure(
    store: SessionStore, session_id: int, path: Path, minutes: float, target_h: float
) -> dict:
    """Open the session as the Sessions page does, export its faces, and extrapolate."""
    started = time.perf_counter()
    store.close_abandoned()
    store.list()
    session = store.get(session_id, faces=False)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        store.write_faces_csv(session_id, out)
        csv_mb = out.tell() / 2**20
    export_s = time.perf_counter() - started
    with store.engine.connect() as connection:
        face_rows = connection.exec_driver_sql("SELECT count(*) FROM faces").scalar_one()
    size_mb = database_mb(path)
    scale = target_h * 60 / minutes
    return {
        "face_rows": int(face_rows),
        "timeline_rows": len(session.timeline),
        "face_detections": session.summary["face_detections"],
        "db_mb": round(size_mb, 2),
        "bytes_per_face_row": round(size_mb * 2**20 / max(face_rows, 1), 1),
        f"db_mb_at_{target_h:g}h": round(size_mb * scale, 1),
        f"face_rows_at_{target_h:g}h": int(face_rows * scale),
        "open_s": round(open_s, 3),
        "faces_csv_s": round(export_s, 2),
        "faces_csv_mb": round(csv_mb, 1),
    }


def _growth(samples: list[dict], after_min: float) -> float | None:
    """Resident memory's change between the first sample once the snapshot's history is full
    and the last: the growth that would go on for hours."""
    settled = [sample for sample in samples if sample["stream_min"] >= after_min]
    if len(settled) < 2:
        return None
    return round(settled[-1]["rss_mb"] - settled[0]["rss_mb"], 1)
