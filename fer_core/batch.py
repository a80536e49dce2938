"""Analyze many videos unattended: per-video tables and summary, an index, resumable runs.

Inputs are video files or folders (searched recursively for ``VIDEO_EXTENSIONS``). Each video
gets a folder ``OUT/<name>/`` with ``faces.csv``, ``timeline.csv``, ``summary.json`` and, if
asked, ``annotated.mp4``; ``OUT/index.csv`` and ``OUT/index.json`` list every input of the
run with its status. Every file is written under a temporary name and renamed, and
``summary.json`` is written last: it is what marks a video as done, so a re-run skips the
videos whose summary matches the input file and the settings, and redoes the rest.

The work is cut into tasks (a whole video, or ``chunk_s``-second chunks of one) that run in
this process, in a local process pool or on a Ray cluster. Tasks only analyze; this process
gathers their results and writes every file, so all engines give the same outputs.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
import pandas as pd

from fer_core import analytics
from fer_core.errors import FerCoreError, InvalidInputError

if TYPE_CHECKING:
    from fer_core.analyzer import FrameAnalyzer

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
ENGINES = ("local", "ray")
#: Track ids of chunk k are ``k * CHUNK_ID_STRIDE + id``: tracking restarts in every chunk.
CHUNK_ID_STRIDE = 1_000_000
INDEX_COLUMNS = (
    "input",
    "name",
    "status",
    "reason",
    "faces_csv",
    "timeline_csv",
    "summary_json",
    "annotated_mp4",
    "duration_s",
    "frames_analyzed",
    "faces_seen",
    "dominant",
    "processing_s",
    "speed_x_realtime",
    "session_id",
)
BUCKET_S = 1.0  # the timeline is per second


class BatchError(FerCoreError):
    """A batch that cannot start: bad settings, an unusable output folder, Ray missing."""


@dataclass(frozen=True)
class Settings:
    """Everything that decides a video's results; a video done with other settings is redone.

    ``sample_fps=None`` analyzes every frame. ``chunk_s`` cuts long videos into chunks that
    run as separate tasks; tracking restarts in each chunk (ids are offset by
    ``CHUNK_ID_STRIDE`` per chunk), everything else is as in one pass.
    """

    sample_fps: float | None = 3.0
    detector: str = "haar"
    model: str | None = None
    annotate: bool = False
    blur: bool = False
    chunk_s: float | None = None

    def __post_init__(self) -> None:
        if self.sample_fps is not None and not self.sample_fps > 0:
            raise BatchError(f"sample_fps must be positive (or None), got {self.sample_fps}")
        if self.chunk_s is not None and not self.chunk_s > 0:
            raise BatchError(f"chunk_s must be positive (or None), got {self.chunk_s}")
        if self.blur and not self.annotate:
            raise BatchError("blur applies to the annotated copy: set annotate too")

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Input:
    """One thing to analyze: a video file, or an argument that cannot be used, and why."""

    arg: str
    path: Path | None
    error: str | None = None


@dataclass(frozen=True)
class VideoOutputs:
    """Where one video's results go."""

    folder: Path

    @property
    def faces(self) -> Path:
        return self.folder / "faces.csv"

    @property
    def timeline(self) -> Path:
        return self.folder / "timeline.csv"

    @property
    def summary(self) -> Path:
        return self.folder / "summary.json"

    @property
    def annotated(self) -> Path:
        return self.folder / "annotated.mp4"

    def chunk_part(self, chunk: int) -> Path:
        return self.folder / f".annotated.part{chunk:05d}.mp4"


class Reporter:
    """Progress hooks of ``run_batch``; these do nothing (the CLI draws progress bars)."""

    def begin(self, total: int) -> None:
        """The run has ``total`` inputs."""

    def video(self, name: str, fraction: float) -> None:
        """Video ``name`` is ``fraction`` analyzed."""

    def finished(self, row: dict[str, Any]) -> None:
        """An input is done with (``row`` is its index row: ok, skipped or failed)."""


@dataclass
class BatchResult:
    """The index rows (one per input, in input order) and where the index was written."""

    rows: list[dict[str, Any]]
    index_csv: Path
    index_json: Path
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(row["status"] != "failed" for row in self.rows)


# --- inputs and output layout ----------------------------------------------------------------


def discover(inputs: Sequence[str | os.PathLike[str]], exclude: Path | None = None) -> list[Input]:
    """Video files from files and folders (recursive, sorted), each file once.

    A named file is taken whatever its extension (analysis says if it is no video); in
    folders only ``VIDEO_EXTENSIONS`` count, hidden files and folders and ``exclude`` (the
    output folder) are skipped. A missing path or a folder without videos is an ``Input``
    with its ``error``.
    """
    found: list[Input] = []
    seen: set[Path] = set()
    skip = exclude.resolve() if exclude is not None else None
    for arg in map(str, inputs):
        path = Path(arg).expanduser()
        if path.is_dir():
            videos = _videos_in(path.resolve(), skip)
            if not videos:
                kinds = ", ".join(VIDEO_EXTENSIONS)
                found.append(Input(arg, None, f"folder holds no video files ({kinds})"))
        elif path.exists():
            videos = [path.resolve()]
        else:
            found.append(Input(arg, None, "does not exist"))
            continue
        for video in videos:
            if video not in seen:
                seen.add(video)
                found.append(Input(arg, video))
    return found


def _videos_in(folder: Path, skip: Path | None) -> list[Path]:
    videos = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and here / d != skip)
        videos += [
            here / name
            for name in sorted(files)
            if not name.startswith(".") and Path(name).suffix.lower() in VIDEO_EXTENSIONS
        ]
    return videos


def output_names(paths: Sequence[Path], out: Path | None = None) -> dict[Path, str]:
    """Output folder name per video: its stem, or ``stem-<hash of its path>`` when videos of
    the run share a stem (ignoring case, as some file systems do) or when ``out`` holds
    results of another file under the stem; results of this file under either name win."""
    stems = Counter(path.stem.casefold() for path in paths)
    names = {}
    for path in paths:
        hashed = f"{path.stem}-{_short_hash(path)}"
        plain = stems[path.stem.casefold()] == 1
        if out is not None:
            plain = plain and _results_of(out / path.stem) in (None, str(path))
            plain = plain and _results_of(out / hashed) != str(path)
        names[path] = path.stem if plain else hashed
    return names


def _results_of(folder: Path) -> str | None:
    """The input file whose finished results ``folder`` holds, if any."""
    try:
        return json.loads((folder / "summary.json").read_text()).get("input")
    except (OSError, ValueError, AttributeError):
        return None


def _short_hash(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]


def _fingerprint(path: Path) -> dict[str, int]:
    """What tells a changed input file: its size and modification time."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def finished_summary(outputs: VideoOutputs, path: Path, settings: Settings) -> dict | None:
    """The summary of an earlier complete run on this same file with these settings, if any."""
    try:
        summary = json.loads(outputs.summary.read_text())
        same = summary.get("settings") == settings.to_dict() and summary.get("input") == str(path)
        same = same and summary.get("input_file") == _fingerprint(path)
    except (OSError, ValueError, AttributeError):
        return None
    needed = [outputs.faces, outputs.timeline] + [outputs.annotated] * settings.annotate
    return summary if same and all(p.is_file() for p in needed) else None


def _atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)`` beside ``target``, then rename: ``target`` is whole or absent."""
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _write_json(target: Path, data: object) -> None:
    _atomic_write(target, lambda p: p.write_text(json.dumps(_jsonable(data), indent=2) + "\n"))


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN as null, paths as strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


# --- tasks: what a worker runs ---------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    name: str  # the video's output folder name
    path: Path
    chunk: int
    start_s: float
    end_s: float | None
    settings: Settings
    annotated: Path | None


@dataclass
class _Done:
    chunk: int
    start_s: float
    faces: pd.DataFrame
    frame_times: np.ndarray
    summary: dict


@dataclass
class _Failed:
    chunk: int
    reason: str


@functools.lru_cache(maxsize=2)
def _analyzer(model: str | None, detector: str) -> FrameAnalyzer:
    """One analyzer per process and settings: loading the model per video would be slow."""
    from fer_core.analyzer import FrameAnalyzer

    analyzer = FrameAnalyzer(model, detector=detector)
    analyzer.classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))  # Keras's first call is slow
    return analyzer


class _Progress:
    """Forwards a task's progress as ``(name, chunk, fraction)``, at most every 1%."""

    def __init__(self, send: Callable[[tuple[str, int, float]], object], task: _Task) -> None:
        self.send, self.name, self.chunk, self.last = send, task.name, task.chunk, -1.0

    def __call__(self, fraction: float) -> None:
        if fraction - self.last >= 0.01 or (fraction == 1.0 and self.last < 1.0):
            self.last = fraction
            self.send((self.name, self.chunk, fraction))


def _run_task(task: _Task, send: Callable[[tuple[str, int, float]], object] | None = None):
    """Analyze one video or chunk; a known failure comes back as ``_Failed`` with its reason.

    Runs in whichever process the engine picks; TensorFlow is imported here, on first use.
    """
    from fer_core.video import analyze_video

    settings = task.settings
    try:
        result = analyze_video(
            task.path,
            sample_fps=settings.sample_fps,
            progress=None if send is None else _Progress(send, task),
            analyzer=_analyzer(settings.model, settings.detector),
            annotated_path=task.annotated,
            blur=settings.blur,
            bucket_s=BUCKET_S,
            start_s=task.start_s,
            end_s=task.end_s,
        )
    except FerCoreError as error:
        return _Failed(task.chunk, str(error))
    faces = result.faces
    if task.chunk:
        faces = faces.assign(track_id=faces["track_id"] + task.chunk * CHUNK_ID_STRIDE)
    return _Done(task.chunk, task.start_s, faces, result.frame_times, result.summary)


def _plan(name: str, path: Path, settings: Settings, outputs: VideoOutputs) -> list[_Task]:
    """The tasks of one video: one, or one per ``chunk_s`` of its duration."""
    chunks = 1
    if settings.chunk_s is not None:
        chunks = max(1, math.ceil(_probe_duration(path) / settings.chunk_s - 1e-6))
    if chunks == 1:
        annotated = outputs.annotated if settings.annotate else None
        return [_Task(name, path, 0, 0.0, None, settings, annotated)]
    step = settings.chunk_s or 0.0
    return [
        _Task(
            name,
            path,
            k,
            k * step,
            (k + 1) * step if k < chunks - 1 else None,
            settings,
            outputs.chunk_part(k) if settings.annotate else None,
        )
        for k in range(chunks)
    ]


def _probe_duration(path: Path) -> float:
    """The video's length from its header (0 if it states none), to plan chunks."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidInputError(f"{path} has no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return container.duration / av.time_base if container.duration else 0.0
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path} is not a readable video: {error}") from error


# --- engines ---------------------------------------------------------------------------------

Outcome = _Done | _Failed


def _crash(task: _Task, error: BaseException) -> _Failed:
    cause = getattr(error, "cause", None) or error  # Ray wraps the task's own exception
    return _Failed(task.chunk, f"{type(cause).__name__}: {cause}")


def _in_process(tasks: list[_Task], on_progress: Callable) -> Iterator[tuple[_Task, Outcome]]:
    for task in tasks:
        try:
            outcome = _run_task(task, on_progress)
        except Exception as error:  # a bug or a resource error fails this video, not the run
            outcome = _crash(task, error)
        yield task, outcome


def _drain(queue: Any, on_progress: Callable) -> None:
    import queue as queues

    while True:
        try:
            on_progress(queue.get_nowait())
        except queues.Empty:
            return


def _process_pool(
    tasks: list[_Task], workers: int, on_progress: Callable
) -> Iterator[tuple[_Task, Outcome]]:
    # spawn, not fork: TensorFlow does not survive a fork, and this process may have it loaded.
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue = manager.Queue()
        pool = ProcessPoolExecutor(workers, mp_context=context)
        try:
            futures: dict[Future, _Task] = {
                pool.submit(_run_task, task, queue.put): task for task in tasks
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(queue, on_progress)
                for future in done:
                    error = future.exception()
                    task = futures[future]
                    yield task, future.result() if error is None else _crash(task, error)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise BatchError(
            "--engine ray needs Ray, an optional dependency: python3 -m pip install ray "
            "(see README, 'Batch analysis')"
        ) from error
    return ray


def _ray(
    tasks: list[_Task], address: str | None, on_progress: Callable
) -> Iterator[tuple[_Task, Outcome]]:
    ray = _import_ray()
    from ray.util.queue import Queue

    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise BatchError(
                f"cannot start or reach Ray at {address or 'local'}: {error}"
            ) from error
    queue = Queue(actor_options={"num_cpus": 0})
    try:
        remote = ray.remote(num_cpus=1)(_run_task)
        refs = {remote.remote(task, queue.put): task for task in tasks}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.25)
            _drain(queue, on_progress)
            for ref in done:
                try:
                    outcome = ray.get(ref)
                except Exception as error:  # a crashed worker or task
                    outcome = _crash(refs[ref], error)
                yield refs[ref], outcome
    finally:
        queue.shutdown()
        if started_here:
            ray.shutdown()


# --- gathering results -----------------------------------------------------------------------


@dataclass
class _Video:
    """A video being analyzed: its tasks, and their outcomes as they come in."""

    item: Input
    name: str
    outputs: VideoOutputs
    tasks: list[_Task]
    done: dict[int, Outcome] = field(default_factory=dict)
    fractions: dict[int, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        assert self.item.path is not None
        return self.item.path

    def fraction(self) -> float:
        return sum(self.fractions.values()) / len(self.tasks)


def _assemble(video: _Video, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Faces, timeline and summary of a whole video from its chunks' results."""
    results = [video.done[k] for k in sorted(video.done)]
    assert all(isinstance(r, _Done) for r in results)
    parts = [r.faces for r in results if len(r.faces)] or [results[0].faces]
    faces = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame_times = np.concatenate([r.frame_times for r in results])
    last = results[-1]
    length = last.start_s + last.summary["duration_s"]
    timeline = analytics.timeline(faces, frame_times, BUCKET_S)
    summary = analytics.summarize(faces, frame_times, BUCKET_S, duration_s=length)
    processing_s = sum(r.summary["processing_s"] for r in results)
    first = results[0].summary
    outputs = {"faces": video.outputs.faces.name, "timeline": video.outputs.timeline.name}
    if settings.annotate:
        outputs["annotated"] = video.outputs.annotated.name
    summary |= {
        "source": video.path.name,
        "input": str(video.path),
        "input_file": _fingerprint(video.path),
        "width": first["width"],
        "height": first["height"],
        "fps": first["fps"],
        "chunks": len(results),
        "processing_s": processing_s,
        "frames_per_s": len(frame_times) / processing_s if processing_s > 0 else None,
        "speed_x_realtime": length / processing_s if processing_s > 0 else None,
        "settings": settings.to_dict(),
        "analyzed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outputs": outputs,
    }
    return faces, timeline, summary


def _concat_mp4(parts: list[Path], target: Path) -> None:
    """Join MP4 parts encoded alike into ``target`` by copying packets (no re-encoding)."""

    def write(partial: Path) -> None:
        with av.open(str(partial), mode="w") as output:
            stream = None
            offset = 0  # in the parts' time base
            for part in parts:
                with av.open(str(part)) as source:
                    template = source.streams.video[0]
                    stream = stream or output.add_stream_from_template(template)
                    end = offset
                    for packet in source.demux(template):
                        if packet.dts is None:  # the demuxer's empty end-of-stream packet
                            continue
                        end = max(end, offset + packet.pts + (packet.duration or 0))
                        packet.pts += offset
                        packet.dts += offset
                        packet.stream = stream
                        output.mux(packet)
                    offset = end

    _atomic_write(target, write)


def _write_outputs(
    video: _Video, settings: Settings, session: _SessionSaver | None
) -> dict[str, Any]:
    """Write a finished video's files, ``summary.json`` last; returns the summary."""
    faces, timeline, summary = _assemble(video, settings)
    outputs = video.outputs
    if settings.annotate and len(video.tasks) > 1:
        parts = [t.annotated for t in video.tasks if t.annotated and t.annotated.is_file()]
        _concat_mp4(parts, outputs.annotated)
    _atomic_write(outputs.faces, lambda p: faces.to_csv(p, index=False))
    _atomic_write(outputs.timeline, lambda p: timeline.to_csv(p, index=False))
    if session is not None:
        summary["sessions"] = [session(video.path, summary, timeline, faces)]
    _write_json(outputs.summary, summary)
    return summary


def _remove_parts(outputs: VideoOutputs) -> None:
    for part in outputs.folder.glob(".annotated.part*"):
        part.unlink(missing_ok=True)


def _drop_if_empty(folder: Path) -> None:
    """Remove a video's folder that a failure left empty (nothing there to look at)."""
    with contextlib.suppress(OSError):
        folder.rmdir()  # fails, as it should, if anything is inside


# --- sessions --------------------------------------------------------------------------------


def _recorded_at(path: Path, duration_s: float) -> datetime:
    """When the recording started: the container's creation time, else the file's
    modification time (a camera's file is last written when recording stops) minus its length."""
    try:
        with av.open(str(path)) as container:
            stamp = container.metadata.get("creation_time")
        if stamp:
            moment = datetime.fromisoformat(stamp)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (av.error.FFmpegError, ValueError, OSError):
        pass
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) - timedelta(seconds=duration_s)


class _SessionSaver:
    """Saves analyzed videos into the dashboard's session store (kind ``"video"``)."""

    def __init__(self, db: str | os.PathLike[str] | None) -> None:
        try:
            from fer_core.sessions import SessionStore

            self.store = SessionStore(db)
        except (ImportError, FerCoreError) as error:
            raise BatchError(f"cannot save sessions: {error}") from error
        self.db = self.store.engine.url.render_as_string(hide_password=True)  # no secrets in files

    def __call__(
        self, path: Path, summary: dict, timeline: pd.DataFrame, faces: pd.DataFrame
    ) -> dict[str, Any]:
        """Store one video; returns ``{"db", "id"}`` for its summary."""
        started = _recorded_at(path, summary["duration_s"])
        try:
            session_id = self.store.save(
                name=path.name,
                kind="video",
                timeline=timeline,
                faces=faces,
                summary={k: v for k, v in summary.items() if k != "sessions"},
                settings=summary["settings"] | {"source": str(path)},
                started_at=started,
                ended_at=started + timedelta(seconds=summary["duration_s"]),
            )
        except Exception as error:  # the database's own errors too: this video fails, not the run
            raise FerCoreError(f"analyzed, but the session could not be saved: {error}") from error
        return {"db": self.db, "id": session_id}

    def save_earlier(self, outputs: VideoOutputs, path: Path, summary: dict) -> dict:
        """Save a video done by an earlier run, unless it is already in this database."""
        if _session_id(summary, self.db) is not None:
            return summary
        faces = pd.read_csv(outputs.faces)
        timeline = pd.read_csv(outputs.timeline).astype({"dominant": object})
        timeline["dominant"] = timeline["dominant"].where(timeline["dominant"].notna(), None)
        saved = self(path, summary, timeline, faces)
        summary = summary | {"sessions": [*summary.get("sessions", []), saved]}
        _write_json(outputs.summary, summary)
        return summary


def _session_id(summary: dict, db: str | None) -> int | None:
    """The id under which a video's summary says it was saved in database ``db``."""
    ids = [s.get("id") for s in summary.get("sessions", []) if s.get("db") == db]
    return ids[-1] if ids else None


# --- the run ---------------------------------------------------------------------------------


def _row(item: Input, name: str | None, status: str, reason: str | None = None) -> dict:
    row: dict[str, Any] = dict.fromkeys(INDEX_COLUMNS)
    row |= {"input": str(item.path or item.arg), "name": name, "status": status, "reason": reason}
    return row


def _done_row(item: Input, name: str, status: str, summary: dict, db: str | None) -> dict:
    row = _row(item, name, status)
    files = summary.get("outputs", {})
    for column, key in [
        ("faces_csv", "faces"),
        ("timeline_csv", "timeline"),
        ("annotated_mp4", "annotated"),
    ]:
        row[column] = f"{name}/{files[key]}" if key in files else None
    row["summary_json"] = f"{name}/summary.json"
    for key in ("duration_s", "frames_analyzed", "faces_seen", "dominant", "processing_s"):
        row[key] = summary.get(key)
    row["speed_x_realtime"] = summary.get("speed_x_realtime")
    row["session_id"] = _session_id(summary, db)
    return row


def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    force: bool = False,
    save_sessions: bool = False,
    db: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
) -> BatchResult:
    """Analyze every video of ``inputs`` into ``out``; failures are recorded, never raised.

    ``engine="local"`` runs in this process (``workers=1``) or in a pool of ``workers``
    processes; ``engine="ray"`` sends tasks to Ray (``address``, e.g. ``"auto"``, or a Ray
    started here, or the one already initialized). Videos done by an earlier run with the
    same settings are skipped unless ``force``. With ``save_sessions`` each video is also
    stored in the dashboard's session database (``db``: a path or SQLAlchemy URL).
    Raises ``BatchError`` only for a run that cannot start.
    """
    settings = settings or Settings()
    reporter = reporter or Reporter()
    _check_run(settings, engine, workers, address)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BatchError(f"cannot create the output folder {out}: {error}") from error
    save = _SessionSaver(db) if save_sessions else None
    db_name = save.db if save is not None else None

    started_at, clock = datetime.now(UTC), time.perf_counter()
    items = discover(inputs, exclude=out)
    names = output_names([item.path for item in items if item.path is not None], out)
    rows: dict[int, dict] = {}
    videos: dict[str, _Video] = {}
    positions: dict[str, int] = {}
    reporter.begin(len(items))

    def finish(position: int, row: dict) -> None:
        rows[position] = row
        reporter.finished(row)

    for position, item in enumerate(items):
        if item.path is None:
            finish(position, _row(item, None, "failed", item.error))
            continue
        name = names[item.path]
        outputs = VideoOutputs(out / name)
        summary = None if force else finished_summary(outputs, item.path, settings)
        if summary is not None:
            try:
                if save is not None:
                    summary = save.save_earlier(outputs, item.path, summary)
            except (FerCoreError, OSError, ValueError) as error:
                finish(position, _row(item, name, "failed", str(error)))
                continue
            finish(position, _done_row(item, name, "skipped", summary, db_name))
            continue
        try:
            outputs.folder.mkdir(parents=True, exist_ok=True)
            outputs.summary.unlink(missing_ok=True)  # from now on the folder is not "done"
            _remove_parts(outputs)
            tasks = _plan(name, item.path, settings, outputs)
        except (FerCoreError, OSError) as error:
            _drop_if_empty(outputs.folder)
            finish(position, _row(item, name, "failed", str(error)))
            continue
        videos[name] = _Video(item, name, outputs, tasks)
        positions[name] = position

    def on_progress(event: tuple[str, int, float]) -> None:
        name, chunk, fraction = event
        video = videos[name]
        video.fractions[chunk] = fraction
        reporter.video(name, video.fraction())

    tasks = [task for video in videos.values() for task in video.tasks]
    if not tasks:
        outcomes: Iterator[tuple[_Task, Outcome]] = iter(())
    elif engine == "ray":
        outcomes = _ray(tasks, address, on_progress)
    elif workers == 1:
        outcomes = _in_process(tasks, on_progress)
    else:
        outcomes = _process_pool(tasks, workers, on_progress)
    analyzed_s = processing_s = 0.0
    for task, outcome in outcomes:
        video = videos[task.name]
        video.done[task.chunk] = outcome
        if len(video.done) < len(video.tasks):
            continue
        failures = [o.reason for o in video.done.values() if isinstance(o, _Failed)]
        try:
            if failures:
                raise FerCoreError(failures[0])
            summary = _write_outputs(video, settings, save)
            row = _done_row(video.item, video.name, "ok", summary, db_name)
            analyzed_s += summary["duration_s"]
            processing_s += summary["processing_s"]
        except (FerCoreError, OSError, ValueError) as error:
            row = _row(video.item, video.name, "failed", str(error))
        finally:
            _remove_parts(video.outputs)
        if row["status"] == "failed":
            _drop_if_empty(video.outputs.folder)
        finish(positions[video.name], row)

    ordered = [rows[i] for i in range(len(items))]
    wall_s = time.perf_counter() - clock
    counts = Counter(row["status"] for row in ordered)
    run = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_s": wall_s,
        "engine": engine,
        "workers": workers if engine == "local" else None,
        "settings": settings.to_dict(),
        "inputs": [str(arg) for arg in inputs],
        "ok": counts["ok"],
        "skipped": counts["skipped"],
        "failed": counts["failed"],
        "analyzed_s": analyzed_s,  # seconds of video analyzed by this run
        "processing_s": processing_s,  # seconds spent analyzing them, summed over tasks
        "analysis_speed_x_realtime": analyzed_s / processing_s if processing_s else None,
        "speed_x_realtime": analyzed_s / wall_s if analyzed_s else None,  # with start-up, queues
    }
    return _write_index(out, ordered, run)


def _check_run(settings: Settings, engine: str, workers: int, address: str | None) -> None:
    """Refuse, before any work, a run that cannot go through."""
    if engine not in ENGINES:
        raise BatchError(f"engine must be one of {ENGINES}, got {engine!r}")
    if workers < 1:
        raise BatchError(f"workers must be at least 1, got {workers}")
    if address is not None and engine != "ray":
        raise BatchError("an address is only for --engine ray")
    if workers != 1 and engine == "ray":
        raise BatchError("workers are for the local engine; Ray runs a task per CPU it has")
    if engine == "ray":
        _import_ray()
    if settings.model is not None:
        from fer_core.catalog import resolve_model_path

        try:
            resolve_model_path(settings.model)
        except FerCoreError as error:
            raise BatchError(str(error)) from error


def _write_index(out: Path, rows: list[dict], run: dict) -> BatchResult:
    index = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    index = index.astype(dict.fromkeys(["frames_analyzed", "faces_seen", "session_id"], "Int64"))
    index_csv, index_json = out / "index.csv", out / "index.json"
    _atomic_write(index_csv, lambda p: index.to_csv(p, index=False))
    _write_json(index_json, {"run": run, "videos": rows})
    return BatchResult(rows, index_csv, index_json, run)
