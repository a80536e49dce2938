"""What the batch modules share: the settings, the error, an input and a video's output layout.

It imports none of the other batch modules, so the engines, the outputs and the run can all
import it without cycles.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fer_core.detectors import DEFAULT_DETECTOR, DETECTORS
from fer_core.errors import FerCoreError
from fer_core.serialization import jsonable

#: More frames a second than any camera gives; sampling faster is analyzing every frame.
MAX_SAMPLE_FPS = 1000.0
#: The shortest chunk: the timeline's bucket (shorter ones only multiply the tasks).
MIN_CHUNK_S = 1.0
#: New track ids of chunk k are ``k * CHUNK_ID_STRIDE + id``; a person the chunk before also
#: saw keeps that chunk's id (``fer_core.batch.chunks``).
CHUNK_ID_STRIDE = 1_000_000
BUCKET_S = 1.0  # the timeline is per second


class BatchError(FerCoreError):
    """A batch that cannot start: bad settings, an unusable output folder, Ray missing."""


@dataclass(frozen=True)
class Settings:
    """Everything that decides a video's results; a video done with other settings is redone.

    ``sample_fps=None`` analyzes every frame. ``chunk_s`` cuts long videos into chunks that
    run as separate tasks; each chunk starts tracking a few seconds early, so its people are
    linked to the chunk before's and counted once (``fer_core.batch.chunks``).
    """

    sample_fps: float | None = 3.0
    detector: str = DEFAULT_DETECTOR
    model: str | None = None
    annotate: bool = False
    blur: bool = False
    chunk_s: float | None = None

    def __post_init__(self) -> None:
        # Checked here, before any work: inf, NaN or an absurd value would otherwise fail
        # every video deep in the analysis (inf sampling overflows; a chunk of 1e-9 s makes
        # billions of tasks).
        fps, chunk = self.sample_fps, self.chunk_s
        if fps is not None and not (_finite(fps) and 0 < fps <= MAX_SAMPLE_FPS):
            raise BatchError(
                f"sample_fps must be frames a second, above 0 and at most {MAX_SAMPLE_FPS:g} "
                f"(or None for every frame), got {self.sample_fps!r}"
            )
        if chunk is not None and not (_finite(chunk) and chunk >= MIN_CHUNK_S):
            raise BatchError(
                f"chunk_s must be a finite number of seconds, at least {MIN_CHUNK_S:g} "
                f"(or None for whole videos), got {self.chunk_s!r}"
            )
        if self.detector not in DETECTORS:
            raise BatchError(f"detector must be one of {sorted(DETECTORS)}, got {self.detector!r}")
        if self.blur and not self.annotate:
            raise BatchError("blur applies to the annotated copy: set annotate too")

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def _finite(value: object) -> bool:
    """A real number, neither NaN nor infinite (and not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


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
    def segments(self) -> Path:
        return self.folder / "segments.csv"

    @property
    def annotated(self) -> Path:
        return self.folder / "annotated.mp4"

    def chunk_part(self, chunk: int) -> Path:
        return self.folder / f".annotated.part{chunk:05d}.mp4"
