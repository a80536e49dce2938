"""Saved sessions: every live run and analyzed video, kept in a SQL database.

A session is its metadata (name, kind, start, end, settings, summary), its per-second
timeline, its segments (named spans: a talk, a lesson part) and alerts, and, optionally, its
per-face rows. An event (kind ``event``, ``fer_core.cameras.Event``) also stores each of its
cameras (masked name, when it joined and left, its own summary), each camera's own
per-second timeline, and each camera's gaps: spans in which it sent no frame, which are "no
data", not "no faces"; its ``timeline`` is the cameras' combined. Only these numbers are
stored, never frames or face crops. A live stream stores at most one per-face row per track
and second (see ``fer_core.live``), so a long session stays small; a video stores every row.
Opening a session for a page (``get(..., faces=False)``) reads only its summary and
timelines, and the per-face rows are read in chunks (``faces_chunks``, ``write_json``,
``write_faces_csv``), so a session of millions of rows is never held in memory whole. SQLite
is the default (one file, nothing to run); any database SQLAlchemy speaks to works through a
URL such as ``postgresql+psycopg://user@host/db``.

Live runs are written as they go (``create``, then ``append``, then ``finish``). A session's
``status`` is ``recording`` until it is finished, and every append is a heartbeat: a session
whose heartbeat is older than a minute lost its writer (a server that stopped or crashed), and
``close_abandoned`` closes it as ``interrupted``. The schema carries a version, and opening an
older database brings it up to date (``MIGRATIONS``).

A live stream, a dashboard and a batch job may share one SQLite file: it is opened in WAL mode
(readers never block a writer), a writer waits up to ``busy_timeout_s`` for another, and a
write that still finds the database locked is retried before it fails with
``SessionStoreError``.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa

from fer_core.analytics import FACE_COLUMNS, POSE_COLUMNS, TIMELINE_COLUMNS, track_table
from fer_core.errors import FerCoreError
from fer_core.events import Alert, Segment
from fer_core.labels import CLASSES
from fer_core.redaction import mask_credentials
from fer_core.serialization import jsonable

DEFAULT_DB = Path.home() / ".local" / "share" / "fer_core" / "sessions.db"
KINDS = ("live", "video", "event")
RECORDING, FINISHED, INTERRUPTED = "recording", "finished", "interrupted"
STALE_AFTER_S = 60.0  # a heartbeat older than this: the session's writer is gone
BUSY_TIMEOUT_S = 15.0  # how long one write waits for another process's to finish
WRITE_ATTEMPTS = 3  # tries of a write that finds the database locked or unreachable
CHUNK_ROWS = 50_000  # per-face rows read at once when a session is exported
#: An event's per-face rows keep their cameras' tracks apart: camera k's track t is stored as
#: track id ``k * CAMERA_TRACKS + t`` (trackers number each camera's faces from 1).
CAMERA_TRACKS = 1_000_000
_T = TypeVar("_T")

_metadata = sa.MetaData()


def _second_columns() -> list[sa.Column]:
    """A per-second row's time and figures (new objects each call: a column has one table)."""
    return [
        sa.Column("time_s", sa.Float, primary_key=True),
        sa.Column("n_frames", sa.Integer, nullable=False),
        sa.Column("n_faces", sa.Integer, nullable=False),
        sa.Column("n_tracks", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Float) for name in CLASSES),
        sa.Column("dominant", sa.String(16)),
        sa.Column("valence", sa.Float),
        sa.Column("attention", sa.Float),
    ]


_sessions = sa.Table(
    "sessions",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON),
    sa.Column("status", sa.String(16), nullable=False, server_default=FINISHED),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
)
_timeline = sa.Table(
    "timeline",
    _metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), primary_key=True),
    *_second_columns(),
)
_schema = sa.Table("schema_version", _metadata, sa.Column("version", sa.Integer, nullable=False))
_faces = sa.Table(
    "faces",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("time_s", sa.Float, nullable=False),
    sa.Column("frame", sa.Integer, nullable=False),
    sa.Column("track_id", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in ("x", "y", "w", "h")),
    sa.Column("label", sa.String(16)),
    sa.Column("confidence", sa.Float),
    *(sa.Column(name, sa.Float) for name in CLASSES),
    *(sa.Column(name, sa.Float) for name in POSE_COLUMNS),
)
_segments = sa.Table(
    "segments",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
    sa.Column("start_s", sa.Float, nullable=False),
    sa.Column("end_s", sa.Float),
    sa.Column("title", sa.String(200), nullable=False),
)
_alerts = sa.Table(
    "alerts",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
    sa.Column("time_s", sa.Float, nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("before", sa.Float),
    sa.Column("after", sa.Float),
    sa.Column("message", sa.String(500), nullable=False),
)
_cameras = sa.Table(
    "cameras",
    _metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("camera", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(500), nullable=False),  # the masked URL, or the device
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("added_s", sa.Float, nullable=False),
    sa.Column("removed_s", sa.Float),
    sa.Column("summary", sa.JSON),
)
_camera_timeline = sa.Table(
    "camera_timeline",
    _metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("camera", sa.Integer, primary_key=True),
    *_second_columns(),
)
_gaps = sa.Table(
    "gaps",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
    sa.Column("camera", sa.Integer, nullable=False),
    sa.Column("start_s", sa.Float, nullable=False),
    sa.Column("end_s", sa.Float),  # NULL while the camera is still away
)
# A session's rows in the order they are read and exported: no sort of millions of rows.
_faces_index = sa.Index(
    "ix_faces_session_time", _faces.c.session_id, _faces.c.time_s, _faces.c.track_id
)


class SessionNotFoundError(FerCoreError, KeyError):
    """No session has this id (it may have been deleted)."""


class SessionStoreError(FerCoreError):
    """The database cannot be opened or the data does not fit the schema."""


@dataclass(frozen=True)
class SessionCamera:
    """One camera of an event: ``name`` is its masked URL or device, ``kind`` its scheme or
    ``device``; it joined at ``added_s`` and left at ``removed_s`` (seconds from the event's
    start; None while it runs), and ``summary`` covers its own frames."""

    camera: int
    name: str
    kind: str
    added_s: float
    removed_s: float | None = None
    summary: dict[str, Any] | None = None


@dataclass(frozen=True)
class CameraGap:
    """Seconds from the event's start between which ``camera`` sent no frame (no data, not
    "no faces"); ``end_s`` is None while it is still away."""

    camera: int
    start_s: float
    end_s: float | None = None


@dataclass
class Session:
    """One saved session, as stored."""

    id: int
    name: str
    kind: str
    started_at: datetime
    ended_at: datetime | None
    settings: dict[str, Any]
    summary: dict[str, Any] | None
    timeline: pd.DataFrame = field(repr=False)
    #: None when opened without them (``SessionStore.get(..., faces=False)``).
    faces: pd.DataFrame | None = field(repr=False)
    #: ``recording``, ``finished``, or ``interrupted`` (its writer stopped without finishing).
    status: str = FINISHED
    #: Named spans (talks, lesson parts), in time order; the last may be open.
    segments: list[Segment] = field(default_factory=list)
    #: Alerts raised on the timeline, in time order.
    alerts: list[Alert] = field(default_factory=list)
    #: An event's cameras, by id; empty for a single stream or a video.
    cameras: list[SessionCamera] = field(default_factory=list)
    #: An event's per-camera timelines: ``camera`` and ``TIMELINE_COLUMNS``, by camera and time.
    camera_timeline: pd.DataFrame = field(default_factory=lambda: _empty_camera_timeline())
    #: An event's cameras' gaps, by camera and time.
    gaps: list[CameraGap] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready export: metadata, summary, timeline and faces as lists of records
        (none if the faces were not read)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "status": self.status,
            "settings": self.settings,
            "summary": self.summary,
            "segments": [asdict(segment) for segment in self.segments],
            "alerts": [asdict(alert) for alert in self.alerts],
            "cameras": [asdict(camera) for camera in self.cameras],
            "gaps": [asdict(gap) for gap in self.gaps],
            "timeline": _records(self.timeline),
            "camera_timeline": _records(self.camera_timeline),
            "faces": [] if self.faces is None else _records(self.faces),  # last: see write_json
        }


def _empty_camera_timeline() -> pd.DataFrame:
    return pd.DataFrame(columns=["camera", *TIMELINE_COLUMNS])


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    # NaN is not JSON; missing emotion figures (seconds with nobody in view) become null.
    return json.loads(table.to_json(orient="records"))


def _identity(name: str, kind: str) -> dict[str, str]:
    """A new session's name and kind, checked: a kind the pages know, a name not blank."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not name.strip():
        raise ValueError("a session needs a name")
    return {"name": name.strip(), "kind": kind}


def _utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_db(moment: datetime | None) -> datetime | None:
    # SQLite keeps no time zone: what we wrote was UTC.
    return None if moment is None else _utc(moment)


def _password(url: str) -> str | None:
    """The password in a SQLAlchemy URL, to mask wherever a driver quotes it."""
    try:
        return sa.engine.make_url(url).password
    except (sa.exc.ArgumentError, ValueError):
        return None


def database_url(location: str | os.PathLike[str] | None = None) -> str:
    """A SQLAlchemy URL from a URL, a file path, ``$FER_CORE_DB`` or the default file."""
    location = location or os.environ.get("FER_CORE_DB") or DEFAULT_DB
    if isinstance(location, str) and "://" in location:
        return location
    path = Path(location).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class SessionStore:
    """Create, append to, list, open, rename, delete and export saved sessions.

    ``url`` is the database's URL with its password masked, safe to show or store.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        attempts: int = WRITE_ATTEMPTS,
    ) -> None:
        self.attempts = max(attempts, 1)
        url = ""
        try:
            url = database_url(location)
            self.engine = _engine(url, busy_timeout_s)
            _create_or_upgrade(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError, ValueError, OSError) as error:
            # A bad port is a ValueError, a missing driver an ImportError, a folder that
            # cannot be made an OSError; none of them, nor the URL, may show the password.
            where = url or location or os.environ.get("FER_CORE_DB") or DEFAULT_DB
            message = f"cannot open the session database {where}: {error}"
            # Not chained: the driver's own error, quoted above masked, may hold the password.
            raise SessionStoreError(mask_credentials(message, _password(url))) from None
        self.url = mask_credentials(url)

    def create(
        self,
        name: str,
        kind: str,
        settings: dict[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> int:
        """Open a new session (``recording``) and return its id; data is appended to it
        afterwards, at least once a minute, and ``finish`` closes it."""
        row = {
            **_identity(name, kind),
            "started_at": _utc(started_at),
            "settings": jsonable(settings or {}),
            "status": RECORDING,
            "heartbeat_at": _utc(None),
        }
        return self._write(
            lambda connection: int(
                connection.execute(sa.insert(_sessions).values(**row)).inserted_primary_key[0]
            )
        )

    def append(
        self,
        session_id: int,
        faces: pd.DataFrame | None = None,
        timeline: pd.DataFrame | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Add per-face rows and per-second rows (and the summary so far) in one transaction:
        all are stored or none, so a failed append can be repeated without storing a face
        twice. Every append is the writer's heartbeat; a session closed as interrupted while
        its writer was in fact alive (the database locked for a minute) is recording again."""
        self._require(session_id)
        face_rows = self._face_rows(session_id, faces)
        timeline_rows = self._timeline_rows(session_id, timeline)
        values: dict[str, Any] = {"heartbeat_at": _utc(None)}
        if summary is not None:
            values["summary"] = jsonable(summary)

        def work(connection: sa.Connection) -> None:
            _insert_timeline(connection, session_id, timeline_rows)
            if face_rows:
                connection.execute(sa.insert(_faces), face_rows)
            this = _sessions.c.id == session_id
            connection.execute(sa.update(_sessions).where(this).values(**values))
            revived = {"status": RECORDING, "ended_at": None}
            interrupted = _sessions.c.status == INTERRUPTED
            connection.execute(sa.update(_sessions).where(this, interrupted).values(**revived))

        self._write(work)

    def append_timeline(self, session_id: int, timeline: pd.DataFrame) -> None:
        """Add per-second rows; a bucket already stored is replaced (it may have grown)."""
        self.append(session_id, None, timeline)

    def append_faces(self, session_id: int, faces: pd.DataFrame) -> None:
        """Add per-face rows (``FACE_COLUMNS``; ``frame`` may be absent)."""
        self.append(session_id, faces, None)

    def finish(
        self, session_id: int, summary: dict[str, Any] | None, ended_at: datetime | None = None
    ) -> None:
        """Close a session with its summary."""
        self._require(session_id)
        values = {"ended_at": _utc(ended_at), "summary": jsonable(summary), "status": FINISHED}
        self._write(
            lambda connection: connection.execute(
                sa.update(_sessions).where(_sessions.c.id == session_id).values(**values)
            )
        )

    def save(
        self,
        name: str,
        kind: str,
        timeline: pd.DataFrame,
        faces: pd.DataFrame | None = None,
        summary: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        started_at: datetime | None = None,
        ended_at: datetime | None = None,
        segments: Sequence[Segment] = (),
        alerts: Sequence[Alert] = (),
    ) -> int:
        """Store a finished session in one transaction (an analyzed video, a batch result):
        it is stored whole or not at all."""
        session = {
            **_identity(name, kind),
            "started_at": _utc(started_at),
            "ended_at": _utc(ended_at),
            "settings": jsonable(settings or {}),
            "summary": jsonable(summary),
            "status": FINISHED,
        }
        face_rows = self._face_rows(0, faces)
        timeline_rows = self._timeline_rows(0, timeline)

        def work(connection: sa.Connection) -> int:
            result = connection.execute(sa.insert(_sessions).values(**session))
            session_id = int(result.inserted_primary_key[0])
            for row in (*face_rows, *timeline_rows):
                row["session_id"] = session_id
            _insert_timeline(connection, session_id, timeline_rows)
            if face_rows:
                connection.execute(sa.insert(_faces), face_rows)
            _insert_segments(connection, session_id, segments)
            _insert_alerts(connection, session_id, alerts)
            return session_id

        return self._write(work)

    def close_abandoned(self, stale_after_s: float = STALE_AFTER_S) -> list[int]:
        """Close, as ``interrupted``, every session still recording whose heartbeat is older
        than ``stale_after_s``: its writer is gone. It ends at its last heartbeat, with the
        summary its writer last stored. Returns their ids; sessions still written are left."""
        cutoff = datetime.now(UTC) - timedelta(seconds=stale_after_s)
        stale = sa.and_(
            _sessions.c.status == RECORDING,
            sa.or_(_sessions.c.heartbeat_at.is_(None), _sessions.c.heartbeat_at < cutoff),
        )

        def work(connection: sa.Connection) -> list[int]:
            ids = connection.execute(sa.select(_sessions.c.id).where(stale)).scalars().all()
            if ids:
                ended = sa.func.coalesce(_sessions.c.heartbeat_at, _sessions.c.started_at)
                connection.execute(
                    sa.update(_sessions)
                    .where(_sessions.c.id.in_(ids), stale)
                    .values(status=INTERRUPTED, ended_at=ended)
                )
            return list(ids)

        return self._write(work)

    def list(self) -> pd.DataFrame:
        """One row per session, newest first, with its headline figures."""
        seconds = (
            sa.select(_timeline.c.session_id, sa.func.count().label("seconds"))
            .group_by(_timeline.c.session_id)
            .subquery()
        )
        query = (
            sa.select(_sessions, sa.func.coalesce(seconds.c.seconds, 0).label("seconds"))
            .outerjoin(seconds, seconds.c.session_id == _sessions.c.id)
            .order_by(_sessions.c.started_at.desc(), _sessions.c.id.desc())
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        columns = ["id", "name", "kind", "status", "started_at", "ended_at", "duration_s"]
        columns += ["seconds"]
        columns += ["faces_seen", "dominant", "mean_valence"]
        table = pd.DataFrame([_listing(row) for row in rows], columns=columns)
        return table.astype({"id": int, "seconds": int})

    def get(self, session_id: int, faces: bool = True) -> Session:
        """The session: metadata, summary, timeline and, unless ``faces`` is False, its
        per-face rows (millions for a long video: a page opens it without them)."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(_sessions).where(_sessions.c.id == session_id))
                .mappings()
                .first()
            )
            if row is None:
                raise SessionNotFoundError(f"no session with id {session_id}")
            timeline = pd.read_sql(
                sa.select(*(_timeline.c[name] for name in TIMELINE_COLUMNS))
                .where(_timeline.c.session_id == session_id)
                .order_by(_timeline.c.time_s),
                connection,
            )
            table = pd.read_sql(_faces_query(session_id), connection) if faces else None
            segments = _read_segments(connection, session_id)
            alerts = _read_alerts(connection, session_id)
            cameras = _read_cameras(connection, session_id)
            camera_timeline = _read_camera_timeline(connection, session_id)
            gaps = _read_gaps(connection, session_id)
        timeline = _typed_timeline(timeline)
        return Session(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            started_at=_from_db(row["started_at"]),
            ended_at=_from_db(row["ended_at"]),
            settings=row["settings"] or {},
            summary=row["summary"],
            timeline=timeline,
            faces=table,
            status=row["status"],
            segments=segments,
            alerts=alerts,
            cameras=cameras,
            camera_timeline=camera_timeline,
            gaps=gaps,
        )

    def rename(self, session_id: int, name: str) -> None:
        if not name.strip():
            raise ValueError("a session needs a name")
        self._require(session_id)
        self._write(
            lambda connection: connection.execute(
                sa.update(_sessions).where(_sessions.c.id == session_id).values(name=name.strip())
            )
        )

    def delete(self, session_id: int) -> None:
        """Remove a session and everything stored for it."""
        self._require(session_id)

        def work(connection: sa.Connection) -> None:
            for table in (_faces, _timeline, _segments, _alerts, _cameras, _camera_timeline, _gaps):
                connection.execute(sa.delete(table).where(table.c.session_id == session_id))
            connection.execute(sa.delete(_sessions).where(_sessions.c.id == session_id))

        self._write(work)

    def segments(self, session_id: int) -> list[Segment]:
        """A session's segments, in time order."""
        self._require(session_id)
        with self.engine.connect() as connection:
            return _read_segments(connection, session_id)

    def set_segments(self, session_id: int, segments: Sequence[Segment]) -> None:
        """Replace a session's segments (an imported agenda, or edited ones) in one write;
        they may not overlap."""
        self._require(session_id)
        _check_no_overlap(segments)

        def work(connection: sa.Connection) -> None:
            connection.execute(sa.delete(_segments).where(_segments.c.session_id == session_id))
            _insert_segments(connection, session_id, segments)

        self._write(work)

    def start_segment(self, session_id: int, start_s: float, title: str) -> Segment:
        """ "Next segment", marked live: the open segment (if any) ends at ``start_s`` and a
        new one, open, starts there. Returns it."""
        self._require(session_id)
        title = title.strip()

        def work(connection: sa.Connection) -> Segment:
            existing = _read_segments(connection, session_id)
            if existing and start_s <= existing[-1].start_s:
                raise ValueError(
                    f"a new segment must start after {existing[-1].title!r} "
                    f"({existing[-1].start_s:.1f} s), not at {start_s:.1f} s"
                )
            segment = Segment(start_s, None, title or f"Segment {len(existing) + 1}")
            mine = _segments.c.session_id == session_id
            connection.execute(
                sa.update(_segments).where(mine, _segments.c.end_s.is_(None)).values(end_s=start_s)
            )
            _insert_segments(connection, session_id, [segment])
            return segment

        return self._write(work)

    def add_alerts(self, session_id: int, alerts: Sequence[Alert]) -> None:
        """Store alerts raised on a session's timeline."""
        self._require(session_id)
        if alerts:
            self._write(lambda connection: _insert_alerts(connection, session_id, alerts))

    def alerts(self, session_id: int) -> list[Alert]:
        """A session's alerts, in time order."""
        self._require(session_id)
        with self.engine.connect() as connection:
            return _read_alerts(connection, session_id)

    def add_camera(
        self, session_id: int, camera: int, name: str, kind: str, added_s: float
    ) -> None:
        """Record that ``camera`` (its masked ``name``; masked again here) joined the event
        ``added_s`` seconds after it started."""
        self._require(session_id)
        row = {
            "session_id": session_id,
            "camera": camera,
            "name": mask_credentials(name)[:500],
            "kind": kind,
            "added_s": added_s,
        }
        self._write(lambda connection: connection.execute(sa.insert(_cameras).values(**row)))

    def append_camera(
        self,
        session_id: int,
        camera: int,
        faces: pd.DataFrame | None = None,
        timeline: pd.DataFrame | None = None,
        summary: dict[str, Any] | None = None,
        removed_s: float | None = None,
    ) -> None:
        """Add one camera's per-face rows (its track ids made the event's: see
        ``CAMERA_TRACKS``) and per-second rows (a bucket already stored is replaced), with its
        summary so far and, once it left, ``removed_s``; in one transaction, which is also the
        event's heartbeat."""
        self._require(session_id)
        if faces is not None and not faces.empty:
            faces = faces.assign(track_id=faces["track_id"] + camera * CAMERA_TRACKS)
        face_rows = self._face_rows(session_id, faces)
        timeline_rows = self._timeline_rows(session_id, timeline)
        for row in timeline_rows:
            row["camera"] = camera
        values: dict[str, Any] = {}
        if summary is not None:
            values["summary"] = jsonable(summary)
        if removed_s is not None:
            values["removed_s"] = removed_s

        def work(connection: sa.Connection) -> None:
            if timeline_rows:
                times = [row["time_s"] for row in timeline_rows]
                mine = (_camera_timeline.c.session_id == session_id) & (
                    _camera_timeline.c.camera == camera
                )
                connection.execute(
                    sa.delete(_camera_timeline).where(mine, _camera_timeline.c.time_s.in_(times))
                )
                connection.execute(sa.insert(_camera_timeline), timeline_rows)
            if face_rows:
                connection.execute(sa.insert(_faces), face_rows)
            if values:
                this = (_cameras.c.session_id == session_id) & (_cameras.c.camera == camera)
                connection.execute(sa.update(_cameras).where(this).values(**values))
            connection.execute(
                sa.update(_sessions)
                .where(_sessions.c.id == session_id)
                .values(heartbeat_at=_utc(None))
            )

        self._write(work)

    def set_gaps(self, session_id: int, camera: int, gaps: Sequence[CameraGap]) -> None:
        """Replace ``camera``'s gaps with ``gaps`` (the last may still be open)."""
        self._require(session_id)
        rows = [{"session_id": session_id, **asdict(gap), "camera": camera} for gap in gaps]

        def work(connection: sa.Connection) -> None:
            mine = (_gaps.c.session_id == session_id) & (_gaps.c.camera == camera)
            connection.execute(sa.delete(_gaps).where(mine))
            if rows:
                connection.execute(sa.insert(_gaps), rows)

        self._write(work)

    def cameras(self, session_id: int) -> list[SessionCamera]:
        """An event's cameras, by id."""
        self._require(session_id)
        with self.engine.connect() as connection:
            return _read_cameras(connection, session_id)

    def camera_timeline(self, session_id: int) -> pd.DataFrame:
        """An event's per-camera timelines: ``camera`` and ``TIMELINE_COLUMNS``."""
        self._require(session_id)
        with self.engine.connect() as connection:
            return _read_camera_timeline(connection, session_id)

    def gaps(self, session_id: int) -> list[CameraGap]:
        """An event's cameras' gaps, by camera and time."""
        self._require(session_id)
        with self.engine.connect() as connection:
            return _read_gaps(connection, session_id)

    def export(self, session_id: int) -> dict[str, Any]:
        """A session as a JSON-ready dict; ``write_json`` writes a long one in bounded memory."""
        return self.get(session_id).to_dict()

    def faces_chunks(self, session_id: int, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """A session's per-face rows (``FACE_COLUMNS``), in time order, ``chunk_rows`` at a time."""
        self._require(session_id)
        with self.engine.connect() as connection:
            yield from pd.read_sql(_faces_query(session_id), connection, chunksize=chunk_rows)

    def tracks(self, session_id: int) -> pd.DataFrame:
        """One row per tracked face (``analytics.tracks``), grouped by the database rather than
        from every row read; a live session's ``detections`` are its rows kept (one a second)."""
        self._require(session_id)
        query = (
            sa.select(
                _faces.c.track_id,
                sa.func.min(_faces.c.time_s).label("first_s"),
                sa.func.max(_faces.c.time_s).label("last_s"),
                sa.func.count().label("detections"),
                *(sa.func.avg(_faces.c[name]).label(name) for name in CLASSES),
                sa.func.avg(_faces.c.attending).label("attention"),
            )
            .where(_faces.c.session_id == session_id)
            .group_by(_faces.c.track_id)
            .order_by(_faces.c.track_id)
        )
        with self.engine.connect() as connection:
            sums = pd.read_sql(query, connection)
        return track_table(sums.astype({name: float for name in (*CLASSES, "attention")}))

    def write_json(self, session_id: int, out: TextIO, chunk_rows: int = CHUNK_ROWS) -> None:
        """Write ``export(session_id)`` as JSON to ``out``, the faces a chunk at a time."""
        head = json.dumps({**self.get(session_id, faces=False).to_dict(), "faces": None})
        out.write(head[: -len("null}")] + "[")
        first = True
        for chunk in self.faces_chunks(session_id, chunk_rows):
            records = chunk.to_json(orient="records")[1:-1]
            if records:
                out.write(records if first else "," + records)
                first = False
        out.write("]}")

    def write_faces_csv(self, session_id: int, out: TextIO, chunk_rows: int = CHUNK_ROWS) -> None:
        """Write a session's per-face rows as CSV to ``out``, a chunk at a time."""
        out.write(",".join(FACE_COLUMNS) + "\n")
        for chunk in self.faces_chunks(session_id, chunk_rows):
            chunk.to_csv(out, header=False, index=False)

    def compare(self, session_ids: list[int], column: str = "valence") -> pd.DataFrame:
        """Long table (``session``, ``time_s``, ``column``) of several sessions, for one chart.

        Time is seconds from each session's start, so runs on different days line up.
        """
        if column not in TIMELINE_COLUMNS or column in ("time_s", "dominant"):
            raise ValueError(f"cannot compare on {column!r}")
        parts = []
        for session_id in session_ids:
            session = self.get(session_id, faces=False)
            label = f"{session.name} (#{session.id})"
            parts.append(session.timeline[["time_s", column]].assign(session=label))
        if not parts:
            return pd.DataFrame(columns=["session", "time_s", column])
        return pd.concat(parts, ignore_index=True)[["session", "time_s", column]]

    def _write(self, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in one transaction, again if the database was locked or unreachable;
        a last failure is a ``SessionStoreError`` (masked: a driver may quote the URL)."""
        attempt = 1
        while True:
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except sa.exc.OperationalError as error:
                if attempt >= self.attempts:
                    message = f"the session database refused the write: {error.orig}"
                    raise SessionStoreError(mask_credentials(message)) from None
            time.sleep(0.2 * attempt)
            attempt += 1

    @staticmethod
    def _face_rows(session_id: int, faces: pd.DataFrame | None) -> list[dict[str, Any]]:
        if faces is None or faces.empty:
            return []
        faces = faces if "frame" in faces else faces.assign(frame=-1)
        faces = faces.assign(**{name: np.nan for name in POSE_COLUMNS if name not in faces})
        missing = set(FACE_COLUMNS) - set(faces.columns)
        if missing:
            raise SessionStoreError(f"faces table lacks column(s) {sorted(missing)}")
        return _rows(faces[list(FACE_COLUMNS)], session_id)

    @staticmethod
    def _timeline_rows(session_id: int, timeline: pd.DataFrame | None) -> list[dict[str, Any]]:
        if timeline is None or timeline.empty:
            return []
        if "attention" not in timeline:  # from a faces table without head poses
            timeline = timeline.assign(attention=np.nan)
        missing = set(TIMELINE_COLUMNS) - set(timeline.columns)
        if missing:
            raise SessionStoreError(f"timeline lacks column(s) {sorted(missing)}")
        return _rows(timeline[list(TIMELINE_COLUMNS)], session_id)

    def _require(self, session_id: int) -> None:
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(_sessions.c.id).where(_sessions.c.id == session_id)
            ).first()
        if found is None:
            raise SessionNotFoundError(f"no session with id {session_id}")


def _add_liveness(connection: sa.Connection) -> None:
    """Version 2: a session's ``status`` and its writer's ``heartbeat_at``."""
    moment = sa.DateTime(timezone=True).compile(dialect=connection.dialect)
    add = "ALTER TABLE sessions ADD COLUMN"
    connection.execute(sa.text(f"{add} status VARCHAR(16) NOT NULL DEFAULT '{FINISHED}'"))
    connection.execute(sa.text(f"{add} heartbeat_at {moment}"))
    # Sessions left open by an older version never beat: the next close_abandoned closes them.
    connection.execute(
        sa.update(_sessions).where(_sessions.c.ended_at.is_(None)).values(status=RECORDING)
    )


def _index_faces_by_time(connection: sa.Connection) -> None:
    """Version 3: faces indexed by (session, time, track), which also serves what the index on
    the session alone did: exports read a session's rows in order without sorting them."""
    connection.execute(sa.text("DROP INDEX IF EXISTS ix_faces_session_id"))
    _faces_index.create(connection)


def _add_events(connection: sa.Connection) -> None:
    """Version 4: head pose and attention per face, attention per second, and the segments
    and alerts tables. Rows stored before have no pose: their attention is unknown (NULL)."""
    number = sa.Float().compile(dialect=connection.dialect)
    for table, column in (
        *(("faces", name) for name in POSE_COLUMNS),
        ("timeline", "attention"),
    ):
        connection.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {number}"))
    _segments.create(connection)
    _alerts.create(connection)


def _add_cameras(connection: sa.Connection) -> None:
    """Version 5: events with several cameras: the cameras, each one's timeline and gaps."""
    for table in (_cameras, _camera_timeline, _gaps):
        table.create(connection)


#: Version N is reached from version N - 1 by ``MIGRATIONS[N]``; version 1 had no version table.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {
    2: _add_liveness,
    3: _index_faces_by_time,
    4: _add_events,
    5: _add_cameras,
}
SCHEMA_VERSION = max(MIGRATIONS)


def _create_or_upgrade(engine: sa.Engine) -> None:
    """Create the tables of a new database, or bring an older one up to ``SCHEMA_VERSION``."""
    existing = set(sa.inspect(engine).get_table_names())
    _metadata.create_all(engine, tables=[_schema])
    with engine.begin() as connection:
        # A write first, so that this transaction holds the database while it looks and
        # changes: two processes opening an old database upgrade it once.
        if connection.execute(sa.update(_schema).values(version=_schema.c.version)).rowcount:
            version = connection.execute(sa.select(_schema.c.version)).scalar_one()
        else:  # no version yet: a new database, or one from before versions (version 1)
            version = 1 if "sessions" in existing else SCHEMA_VERSION
            connection.execute(sa.insert(_schema).values(version=version))
        if version > SCHEMA_VERSION:
            raise SessionStoreError(
                f"the database's schema is version {version}; this fer_core knows up to "
                f"{SCHEMA_VERSION}: upgrade fer_core"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](connection)
        connection.execute(sa.update(_schema).values(version=SCHEMA_VERSION))
    _metadata.create_all(engine)


def _engine(url: str, busy_timeout_s: float) -> sa.Engine:
    """An engine; a SQLite file in WAL mode, whose writers wait ``busy_timeout_s`` for another."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})

    @sa.event.listens_for(engine, "connect")
    def _wal(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # an in-memory database stays in memory
        cursor.close()

    return engine


def _insert_timeline(
    connection: sa.Connection, session_id: int, rows: list[dict[str, Any]]
) -> None:
    """Insert per-second rows, replacing the buckets already stored (they may have grown)."""
    if not rows:
        return
    times = [row["time_s"] for row in rows]
    connection.execute(
        sa.delete(_timeline).where(
            _timeline.c.session_id == session_id, _timeline.c.time_s.in_(times)
        )
    )
    connection.execute(sa.insert(_timeline), rows)


def _check_no_overlap(segments: Sequence[Segment]) -> None:
    """Segments in time order may not overlap; an open one ends where the next starts."""
    ordered = sorted(segments, key=lambda segment: segment.start_s)
    for before, after in itertools.pairwise(ordered):
        if before.end_s is not None and before.end_s > after.start_s:
            raise ValueError(
                f"segment {before.title!r} ({before.start_s:.1f}-{before.end_s:.1f} s) overlaps "
                f"{after.title!r} (from {after.start_s:.1f} s)"
            )
        if before.start_s == after.start_s:
            raise ValueError(f"segments {before.title!r} and {after.title!r} start together")


def _insert_segments(
    connection: sa.Connection, session_id: int, segments: Sequence[Segment]
) -> None:
    if segments:
        rows = [{"session_id": session_id, **asdict(segment)} for segment in segments]
        connection.execute(sa.insert(_segments), rows)


def _read_segments(connection: sa.Connection, session_id: int) -> list[Segment]:
    rows = connection.execute(
        sa.select(_segments.c.start_s, _segments.c.end_s, _segments.c.title)
        .where(_segments.c.session_id == session_id)
        .order_by(_segments.c.start_s)
    )
    return [Segment(*row) for row in rows]


def _insert_alerts(connection: sa.Connection, session_id: int, alerts: Sequence[Alert]) -> None:
    if alerts:
        rows = [{"session_id": session_id, **asdict(alert)} for alert in alerts]
        for row in rows:
            row["message"] = mask_credentials(row["message"])[:500]
        connection.execute(sa.insert(_alerts), rows)


def _read_alerts(connection: sa.Connection, session_id: int) -> list[Alert]:
    columns = ("time_s", "rule", "metric", "before", "after", "message")
    rows = connection.execute(
        sa.select(*(_alerts.c[name] for name in columns))
        .where(_alerts.c.session_id == session_id)
        .order_by(_alerts.c.time_s, _alerts.c.id)
    )
    return [Alert(*row) for row in rows]


def _typed_timeline(timeline: pd.DataFrame) -> pd.DataFrame:
    """A timeline as read: figures as floats (NULL as NaN), ``dominant`` as objects."""
    floats = {name: float for name in (*CLASSES, "valence", "attention")}
    return timeline.astype(floats).astype({"dominant": object})


def _read_cameras(connection: sa.Connection, session_id: int) -> list[SessionCamera]:
    columns = ("camera", "name", "kind", "added_s", "removed_s", "summary")
    rows = connection.execute(
        sa.select(*(_cameras.c[name] for name in columns))
        .where(_cameras.c.session_id == session_id)
        .order_by(_cameras.c.camera)
    )
    return [SessionCamera(*row) for row in rows]


def _read_camera_timeline(connection: sa.Connection, session_id: int) -> pd.DataFrame:
    columns = ("camera", *TIMELINE_COLUMNS)
    table = pd.read_sql(
        sa.select(*(_camera_timeline.c[name] for name in columns))
        .where(_camera_timeline.c.session_id == session_id)
        .order_by(_camera_timeline.c.camera, _camera_timeline.c.time_s),
        connection,
    )
    return _typed_timeline(table)


def _read_gaps(connection: sa.Connection, session_id: int) -> list[CameraGap]:
    rows = connection.execute(
        sa.select(_gaps.c.camera, _gaps.c.start_s, _gaps.c.end_s)
        .where(_gaps.c.session_id == session_id)
        .order_by(_gaps.c.camera, _gaps.c.start_s)
    )
    return [CameraGap(*row) for row in rows]


def _faces_query(session_id: int) -> sa.Select:
    """A session's per-face rows in time order, as the index keeps them."""
    return (
        sa.select(*(_faces.c[name] for name in FACE_COLUMNS))
        .where(_faces.c.session_id == session_id)
        .order_by(_faces.c.time_s, _faces.c.track_id)
    )


def _rows(table: pd.DataFrame, session_id: int) -> list[dict[str, Any]]:
    """DataFrame rows as plain Python values, NaN as NULL."""
    plain = table.astype(object).where(table.notna(), None)
    records = plain.to_dict(orient="records")
    for record in records:
        record["session_id"] = session_id
        for key, value in record.items():
            if isinstance(value, np.generic):
                record[key] = value.item()
    return records


def _listing(row: Any) -> dict[str, Any]:
    summary = row["summary"] or {}
    started, ended = _from_db(row["started_at"]), _from_db(row["ended_at"])
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "status": row["status"],
        "started_at": started,
        "ended_at": ended,
        "duration_s": None if ended is None else (ended - started).total_seconds(),
        "seconds": row["seconds"],
        "faces_seen": summary.get("faces_seen"),
        "dominant": summary.get("dominant"),
        "mean_valence": summary.get("mean_valence"),
    }
