"""A batch's files: each video's tables, summary and annotated copy, and the run's index.

Every file is written under a temporary name and renamed, so it is whole or absent; a
video's ``summary.json`` is written last, as it marks the video done. A chunked video's
results are joined here, its annotated parts by copying packets.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pandas as pd

from fer_core import analytics
from fer_core.batch.chunks import link_tracks, relabel
from fer_core.batch.engines import Done, Outcome, Task
from fer_core.batch.types import BUCKET_S, Input, Settings, VideoOutputs
from fer_core.events.alerts import Alert, detect_alerts
from fer_core.events.segments import Segment, segment_table
from fer_core.redaction import mask_credentials
from fer_core.serialization import jsonable

#: The summary's figures that the index repeats, one column each.
SUMMARY_COLUMNS = (
    "duration_s",
    "frames_analyzed",
    "faces_seen",
    "faces_in_view",
    "faces_classified",
    "classified_share",
    "dominant",
    "processing_s",
    "speed_x_realtime",
)
INDEX_COLUMNS = (
    "input",
    "name",
    "status",
    "reason",
    "faces_csv",
    "timeline_csv",
    "summary_json",
    "annotated_mp4",
    *SUMMARY_COLUMNS,
    "session_id",
)

#: The run's index files in the output folder, beside the videos' folders.
INDEX_FILES = ("index.csv", "index.json")

#: Stores one analyzed video as a session:
#: ``(path, summary, timeline, faces, segments, alerts) -> {"db", "id"}``.
SaveSession = Callable[
    [Path, dict, pd.DataFrame, pd.DataFrame, Sequence[Segment], Sequence[Alert]], dict[str, Any]
]


@dataclass
class Video:
    """A video being analyzed: its tasks, and their outcomes as they come in."""

    item: Input
    name: str
    outputs: VideoOutputs
    tasks: list[Task]
    done: dict[int, Outcome] = field(default_factory=dict)
    fractions: dict[int, float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        assert self.item.path is not None
        return self.item.path

    def fraction(self) -> float:
        return sum(self.fractions.values()) / len(self.tasks)


def fingerprint(path: Path) -> dict[str, int]:
    """What tells a changed input file: its size and modification time."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)`` beside ``target``, then rename: ``target`` is whole or absent."""
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_json(target: Path, data: object) -> None:
    atomic_write(target, lambda p: p.write_text(json.dumps(jsonable(data), indent=2) + "\n"))


# --- one video -------------------------------------------------------------------------------


def _assemble(video: Video, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Faces, timeline and summary of a whole video from its chunks' results."""
    results = [video.done[k] for k in sorted(video.done)]
    assert all(isinstance(r, Done) for r in results)
    parts = [results[0].faces]
    for result in results[1:]:  # each chunk's people take the ids the chunk before gave them
        links = (
            link_tracks(parts[-1], result.warmup_faces) if result.warmup_faces is not None else {}
        )
        parts.append(relabel(result.faces, links))
    parts = [part for part in parts if len(part)] or [results[0].faces]
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
        "input_file": fingerprint(video.path),
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

    atomic_write(target, write)


def write_outputs(
    video: Video,
    settings: Settings,
    session: SaveSession | None,
    agenda: Sequence[Segment] | None = None,
) -> dict[str, Any]:
    """Write a finished video's files, ``summary.json`` last; returns the summary."""
    faces, timeline, summary = _assemble(video, settings)
    outputs = video.outputs
    if settings.annotate and len(video.tasks) > 1:
        parts = [t.annotated for t in video.tasks if t.annotated and t.annotated.is_file()]
        _concat_mp4(parts, outputs.annotated)
    atomic_write(outputs.faces, lambda p: faces.to_csv(p, index=False))
    atomic_write(outputs.timeline, lambda p: timeline.to_csv(p, index=False))
    if agenda is None:  # an earlier run's figures, from the timeline just replaced
        outputs.segments.unlink(missing_ok=True)
    add_events(outputs, summary, timeline, agenda)
    if session is not None:
        saved = session(video.path, summary, timeline, faces, *stored_events(summary))
        summary["sessions"] = [saved]
    write_json(outputs.summary, summary)
    return summary


def add_events(
    outputs: VideoOutputs,
    summary: dict,
    timeline: pd.DataFrame,
    agenda: Sequence[Segment] | None,
) -> None:
    """Put a video's alerts and, with an agenda, its segments' figures in its summary (the
    agenda too, to tell a re-run with another one); ``segments.csv`` holds the figures."""
    summary["alerts"] = [asdict(alert) for alert in detect_alerts(timeline)]
    if agenda is None:
        return
    table = segment_table(timeline, agenda, end_s=summary["duration_s"])
    atomic_write(outputs.segments, lambda p: table.to_csv(p, index=False))
    summary["agenda"] = [asdict(segment) for segment in agenda]
    summary["segments"] = jsonable(table.to_dict("records"))
    summary["outputs"] = summary.get("outputs", {}) | {"segments": outputs.segments.name}


def refresh_events(
    outputs: VideoOutputs, summary: dict, agenda: Sequence[Segment] | None
) -> dict[str, Any]:
    """A video done by an earlier run, its alerts and segments brought up to date from its
    timeline: done before alerts existed, or before this agenda was given."""
    same_agenda = agenda is None or (
        summary.get("agenda") == [asdict(segment) for segment in agenda]
        and outputs.segments.is_file()
    )
    if "alerts" in summary and same_agenda:
        return summary
    summary = dict(summary)
    add_events(outputs, summary, read_timeline(outputs.timeline), agenda)
    write_json(outputs.summary, summary)
    return summary


def stored_events(summary: dict) -> tuple[list[Segment], list[Alert]]:
    """What a video's summary says to store with its session: the agenda's segments that
    start within the video, and the alerts."""
    segments = [Segment(**s) for s in summary.get("agenda") or ()]
    segments = [s for s in segments if s.start_s < summary["duration_s"]]
    return segments, [Alert(**a) for a in summary.get("alerts", ())]


def read_timeline(path: Path) -> pd.DataFrame:
    """A ``timeline.csv`` as ``analytics.timeline`` gave it (no dominant emotion: None)."""
    timeline = pd.read_csv(path).astype({"dominant": object})
    timeline["dominant"] = timeline["dominant"].where(timeline["dominant"].notna(), None)
    return timeline


def remove_parts(outputs: VideoOutputs) -> None:
    for part in outputs.folder.glob(".annotated.part*"):
        part.unlink(missing_ok=True)


def drop_if_empty(folder: Path) -> None:
    """Remove a video's folder that a failure left empty (nothing there to look at)."""
    with contextlib.suppress(OSError):
        folder.rmdir()  # fails, as it should, if anything is inside


# --- the index -------------------------------------------------------------------------------


def session_id(summary: dict, db: str | None) -> int | None:
    """The id under which a video's summary says it was saved in database ``db``."""
    ids = [s.get("id") for s in summary.get("sessions", []) if s.get("db") == db]
    return ids[-1] if ids else None


def index_row(item: Input, name: str | None, status: str, reason: str | None = None) -> dict:
    row: dict[str, Any] = dict.fromkeys(INDEX_COLUMNS)
    where = mask_credentials(item.path or item.arg)  # an input may be a URL with a password
    reason = None if reason is None else mask_credentials(reason)
    row |= {"input": where, "name": name, "status": status, "reason": reason}
    return row


def done_row(item: Input, name: str, status: str, summary: dict, db: str | None) -> dict:
    row = index_row(item, name, status)
    files = summary.get("outputs", {})
    for column, key in [
        ("faces_csv", "faces"),
        ("timeline_csv", "timeline"),
        ("annotated_mp4", "annotated"),
    ]:
        row[column] = f"{name}/{files[key]}" if key in files else None
    row["summary_json"] = f"{name}/summary.json"
    for key in SUMMARY_COLUMNS:
        row[key] = summary.get(key)
    row["session_id"] = session_id(summary, db)
    return row


def write_index(out: Path, rows: list[dict], run: dict) -> tuple[Path, Path]:
    """Write ``index.csv`` and ``index.json`` (the rows with the run's facts); returns both."""
    index = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    index = index.astype(dict.fromkeys(["frames_analyzed", "faces_seen", "session_id"], "Int64"))
    index_csv, index_json = (out / name for name in INDEX_FILES)
    atomic_write(index_csv, lambda p: index.to_csv(p, index=False))
    write_json(index_json, {"run": run, "videos": rows})
    return index_csv, index_json
