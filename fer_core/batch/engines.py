"""The batch's tasks and where they run: in this process, a local process pool or Ray.

A task analyzes a whole video, or one ``chunk_s``-second chunk of it, and returns its result
(``Done``) or the reason it failed (``Failed``); it writes no files but the annotated copy it
is given, so every engine gives the same outcomes. Progress comes back as
``(name, chunk, fraction)`` events.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np
import pandas as pd

from fer_core.batch.chunks import LOOKAHEAD_S, WARMUP_S
from fer_core.batch.types import BUCKET_S, CHUNK_ID_STRIDE, BatchError, Settings, VideoOutputs
from fer_core.errors import FerCoreError, InvalidInputError
from fer_core.redaction import mask_credentials

if TYPE_CHECKING:
    from fer_core.analyzer import FrameAnalyzer

ENGINES = ("local", "ray")


# --- tasks: what a worker runs ---------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    name: str  # the video's output folder name
    path: Path
    chunk: int
    start_s: float
    end_s: float | None
    settings: Settings
    annotated: Path | None


@dataclass
class Done:
    chunk: int
    start_s: float
    faces: pd.DataFrame
    frame_times: np.ndarray
    summary: dict
    #: A later chunk's people in the seconds before its start, which the chunk before it
    #: also analyzed: how the two chunks' people are linked (``fer_core.batch.chunks``).
    warmup_faces: pd.DataFrame | None = None


@dataclass
class Failed:
    chunk: int
    reason: str


Outcome = Done | Failed


@functools.lru_cache(maxsize=2)
def cached_analyzer(model: str | None, detector: str) -> FrameAnalyzer:
    """One analyzer per process and settings: loading the model per video would be slow."""
    from fer_core.analyzer import FrameAnalyzer

    # Searches in the calling thread: a batch run's output must not depend on timing.
    analyzer = FrameAnalyzer(model, detector=detector, background_search=False)
    analyzer.classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))  # Keras's first call is slow
    return analyzer


class _Progress:
    """Forwards a task's progress as ``(name, chunk, fraction)``, at most every 1%."""

    def __init__(self, send: Callable[[tuple[str, int, float]], object], task: Task) -> None:
        self.send, self.name, self.chunk, self.last = send, task.name, task.chunk, -1.0

    def __call__(self, fraction: float) -> None:
        if fraction - self.last >= 0.01 or (fraction == 1.0 and self.last < 1.0):
            self.last = fraction
            self.send((self.name, self.chunk, fraction))


def run_task(task: Task, send: Callable[[tuple[str, int, float]], object] | None = None):
    """Analyze one video or chunk; a known failure comes back as ``Failed`` with its reason.

    Runs in whichever process the engine picks; TensorFlow is imported here, on first use.
    """
    from fer_core.video import analyze_video

    settings = task.settings
    try:
        result = analyze_video(
            task.path,
            sample_fps=settings.sample_fps,
            progress=None if send is None else _Progress(send, task),
            analyzer=cached_analyzer(settings.model, settings.detector),
            annotated_path=task.annotated,
            blur=settings.blur,
            bucket_s=BUCKET_S,
            start_s=task.start_s,
            end_s=task.end_s,
            warmup_s=WARMUP_S if task.chunk else 0.0,
            lookahead_s=LOOKAHEAD_S if task.end_s is not None else 0.0,
        )
    except FerCoreError as error:
        return Failed(task.chunk, str(error))
    faces, warmup = result.faces, result.warmup_faces
    if task.chunk:
        offset = task.chunk * CHUNK_ID_STRIDE
        faces = faces.assign(track_id=faces["track_id"] + offset)
        warmup = warmup.assign(track_id=warmup["track_id"] + offset)
    return Done(task.chunk, task.start_s, faces, result.frame_times, result.summary, warmup)


def plan(name: str, path: Path, settings: Settings, outputs: VideoOutputs) -> list[Task]:
    """The tasks of one video: one, or one per ``chunk_s`` of its duration."""
    chunks = 1
    if settings.chunk_s is not None:
        chunks = max(1, math.ceil(_probe_duration(path) / settings.chunk_s - 1e-6))
    if chunks == 1:
        annotated = outputs.annotated if settings.annotate else None
        return [Task(name, path, 0, 0.0, None, settings, annotated)]
    step = settings.chunk_s or 0.0
    return [
        Task(
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


def run_tasks(
    tasks: list[Task], engine: str, workers: int, address: str | None, on_progress: Callable
) -> Iterator[tuple[Task, Outcome]]:
    """Each task with its outcome, in the order they finish, on the engine asked for."""
    if not tasks:
        return iter(())
    if engine == "ray":
        return _ray(tasks, address, on_progress)
    if workers == 1:
        return _in_process(tasks, on_progress)
    return _process_pool(tasks, workers, on_progress)


def _crash(task: Task, error: BaseException) -> Failed:
    cause = getattr(error, "cause", None) or error  # Ray wraps the task's own exception
    return Failed(task.chunk, f"{type(cause).__name__}: {cause}")


def _in_process(tasks: list[Task], on_progress: Callable) -> Iterator[tuple[Task, Outcome]]:
    for task in tasks:
        try:
            outcome = run_task(task, on_progress)
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


#: Why a task failed whose worker process was killed under it (as the out-of-memory killer does).
WORKER_DIED = "its worker process died while analyzing it (killed, e.g. for lack of memory)"
#: Rounds in a row in which a pool broke before any task started, before the rest are failed.
FUTILE_ROUNDS = 3


def _process_pool(
    tasks: list[Task], workers: int, on_progress: Callable
) -> Iterator[tuple[Task, Outcome]]:
    """Tasks in a pool of ``workers`` processes, where one worker's death fails one task.

    A killed worker breaks a ``ProcessPoolExecutor`` and fails everything still in it. Here
    tasks not yet started go on in a fresh pool; the tasks that were running when it broke
    are each retried alone, in a pool of one, where a death is that task's own; a task that
    was running alone when its pool broke fails.
    """
    # spawn, not fork: TensorFlow does not survive a fork, and this process may have it loaded.
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue, started = manager.Queue(), manager.dict()
        waiting = list(enumerate(tasks))  # (index, task), not started yet
        alone: list[tuple[int, Task]] = []  # running beside a worker that died
        futile = 0
        while waiting or alone:
            if alone:
                batch, width, alone = alone[:1], 1, alone[1:]
            else:
                batch, width, waiting = waiting, workers, []
            for index, _ in batch:
                started.pop(index, None)
            cut = yield from _pool_round(batch, width, context, queue, started, on_progress)
            running = [item for item in cut if item[0] in started]
            waiting = [item for item in cut if item[0] not in started] + waiting
            if len(running) == 1:
                yield running[0][1], Failed(running[0][1].chunk, WORKER_DIED)
            else:
                alone += running
            futile = futile + 1 if cut and not running and len(cut) == len(batch) else 0
            if futile == FUTILE_ROUNDS:
                reason = f"worker processes died {futile} times before starting a task"
                for _, task in sorted(waiting + alone, key=lambda item: item[0]):
                    yield task, Failed(task.chunk, reason)
                return


def _run_started(index: int, started: Any, task: Task, send: Callable) -> Outcome:
    """``run_task`` in a pool worker, first marking the task started: from then on, the
    worker's death is this task's."""
    started[index] = True
    return run_task(task, send)


def _pool_round(
    batch: list[tuple[int, Task]],
    workers: int,
    context: Any,
    queue: Any,
    started: Any,
    on_progress: Callable,
) -> Generator[tuple[Task, Outcome], None, list[tuple[int, Task]]]:
    """Run ``batch`` in a fresh pool, yielding each task's outcome as it finishes; returns
    the tasks that a worker's death cut off (running or queued), in their order."""
    cut: list[tuple[int, Task]] = []
    pool = ProcessPoolExecutor(workers, mp_context=context)
    try:
        futures: dict[Future, tuple[int, Task]] = {}
        for index, task in batch:
            try:
                futures[pool.submit(_run_started, index, started, task, queue.put)] = (index, task)
            except BrokenProcessPool:  # a worker died already
                cut.append((index, task))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(queue, on_progress)
            for future in done:
                index, task = futures[future]
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    cut.append((index, task))
                else:
                    yield task, future.result() if error is None else _crash(task, error)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return sorted(cut, key=lambda item: item[0])


def import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise BatchError(
            "--engine ray needs Ray, an optional dependency: python3 -m pip install ray "
            "(see README, 'Batch analysis')"
        ) from error
    return ray


def _ray(
    tasks: list[Task], address: str | None, on_progress: Callable
) -> Iterator[tuple[Task, Outcome]]:
    ray = import_ray()
    from ray.util.queue import Queue

    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = mask_credentials(address or "local")
            raise BatchError(f"cannot start or reach Ray at {where}: {error}") from error
    queue = Queue(actor_options={"num_cpus": 0})
    try:
        remote = ray.remote(num_cpus=1)(run_task)
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
