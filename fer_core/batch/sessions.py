"""Saving a batch's videos into the dashboard's session store, so they show on its Sessions page.

A video is saved when its files are written; one done by an earlier run is saved on a re-run
unless its summary says it is in that database already (the summary records database and id).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import pandas as pd

from fer_core.batch.outputs import read_timeline, session_id, stored_events, write_json
from fer_core.batch.types import BatchError, VideoOutputs
from fer_core.errors import FerCoreError
from fer_core.events.alerts import Alert
from fer_core.events.segments import Segment
from fer_core.redaction import mask_credentials


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


class SessionSaver:
    """Saves analyzed videos into the dashboard's session store (kind ``"video"``)."""

    def __init__(self, db: str | os.PathLike[str] | None) -> None:
        try:
            from fer_core.sessions import SessionStore

            self.store = SessionStore(db)
        except (ImportError, FerCoreError) as error:
            raise BatchError(f"cannot save sessions: {mask_credentials(error)}") from error
        self.db = self.store.url  # its password masked: this goes into every summary

    def __call__(
        self,
        path: Path,
        summary: dict,
        timeline: pd.DataFrame,
        faces: pd.DataFrame,
        segments: Sequence[Segment] = (),
        alerts: Sequence[Alert] = (),
    ) -> dict[str, Any]:
        """Store one video with its segments and alerts; returns ``{"db", "id"}`` for its
        summary."""
        started = _recorded_at(path, summary["duration_s"])
        try:
            saved_id = self.store.save(
                name=path.name,
                kind="video",
                timeline=timeline,
                faces=faces,
                summary={k: v for k, v in summary.items() if k != "sessions"},
                settings=summary["settings"] | {"source": str(path)},
                started_at=started,
                ended_at=started + timedelta(seconds=summary["duration_s"]),
                segments=segments,
                alerts=alerts,
            )
        except Exception as error:  # the database's own errors too: this video fails, not the run
            raise FerCoreError(
                f"analyzed, but the session could not be saved: {mask_credentials(error)}"
            ) from None  # the database's error, quoted masked, may hold the password
        return {"db": self.db, "id": saved_id}

    def update_events(self, before: dict, after: dict) -> None:
        """A video saved here by an earlier run whose alerts or segments a re-run brought up
        to date (``before`` and ``after`` are its summaries): the store follows."""
        saved = session_id(after, self.db)
        if saved is None:
            return
        segments, alerts = stored_events(after)
        try:
            if before.get("agenda") != after.get("agenda"):
                self.store.set_segments(saved, segments)
            if "alerts" not in before:
                self.store.add_alerts(saved, alerts)
        except Exception as error:  # as in __call__: this video fails, not the run
            raise FerCoreError(
                f"the stored session's segments could not be updated: {mask_credentials(error)}"
            ) from None

    def save_earlier(self, outputs: VideoOutputs, path: Path, summary: dict) -> dict:
        """Save a video done by an earlier run, unless it is already in this database."""
        if session_id(summary, self.db) is not None:
            return summary
        faces = pd.read_csv(outputs.faces)
        timeline = read_timeline(outputs.timeline)
        saved = self(path, summary, timeline, faces, *stored_events(summary))
        summary = summary | {"sessions": [*summary.get("sessions", []), saved]}
        write_json(outputs.summary, summary)
        return summary
