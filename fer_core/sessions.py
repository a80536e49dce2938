"""Saved sessions: every live run and analyzed video, kept in a SQL database.

A session is its metadata (name, kind, start, end, settings, summary), its per-second
timeline and, optionally, its per-face rows. Only these numbers are stored, never frames or
face crops. SQLite is the default (one file, nothing to run); any database SQLAlchemy speaks
to works through a URL such as ``postgresql+psycopg://user@host/db``.

Live runs are written as they go (``create``, then ``append_timeline`` / ``append_faces``,
then ``finish``), so a closed browser tab loses at most the last unsaved seconds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from fer_core.analytics import FACE_COLUMNS, TIMELINE_COLUMNS
from fer_core.errors import FerCoreError
from fer_core.labels import CLASSES
from fer_core.redaction import mask_credentials
from fer_core.serialization import jsonable

DEFAULT_DB = Path.home() / ".local" / "share" / "fer_core" / "sessions.db"
KINDS = ("live", "video")

_metadata = sa.MetaData()
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
)
_timeline = sa.Table(
    "timeline",
    _metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("time_s", sa.Float, primary_key=True),
    sa.Column("n_frames", sa.Integer, nullable=False),
    sa.Column("n_faces", sa.Integer, nullable=False),
    sa.Column("n_tracks", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Float) for name in CLASSES),
    sa.Column("dominant", sa.String(16)),
    sa.Column("valence", sa.Float),
)
_faces = sa.Table(
    "faces",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False, index=True),
    sa.Column("time_s", sa.Float, nullable=False),
    sa.Column("frame", sa.Integer, nullable=False),
    sa.Column("track_id", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in ("x", "y", "w", "h")),
    sa.Column("label", sa.String(16)),
    sa.Column("confidence", sa.Float),
    *(sa.Column(name, sa.Float) for name in CLASSES),
)


class SessionNotFoundError(FerCoreError, KeyError):
    """No session has this id (it may have been deleted)."""


class SessionStoreError(FerCoreError):
    """The database cannot be opened or the data does not fit the schema."""


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
    faces: pd.DataFrame = field(repr=False)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready export: metadata, summary, timeline and faces as lists of records."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "settings": self.settings,
            "summary": self.summary,
            "timeline": _records(self.timeline),
            "faces": _records(self.faces),
        }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    # NaN is not JSON; missing emotion figures (seconds with nobody in view) become null.
    return json.loads(table.to_json(orient="records"))


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

    def __init__(self, location: str | os.PathLike[str] | None = None) -> None:
        url = ""
        try:
            url = database_url(location)
            self.engine = sa.create_engine(url)
            _metadata.create_all(self.engine)
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
        """Open a new session and return its id; data is appended to it afterwards."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not name.strip():
            raise ValueError("a session needs a name")
        row = {
            "name": name.strip(),
            "kind": kind,
            "started_at": _utc(started_at),
            "settings": jsonable(settings or {}),
        }
        with self.engine.begin() as connection:
            result = connection.execute(sa.insert(_sessions).values(**row))
            return int(result.inserted_primary_key[0])

    def append_timeline(self, session_id: int, timeline: pd.DataFrame) -> None:
        """Add per-second rows; a bucket already stored is replaced (it may have grown)."""
        self._require(session_id)
        if timeline.empty:
            return
        missing = set(TIMELINE_COLUMNS) - set(timeline.columns)
        if missing:
            raise SessionStoreError(f"timeline lacks column(s) {sorted(missing)}")
        rows = _rows(timeline[list(TIMELINE_COLUMNS)], session_id)
        times = [row["time_s"] for row in rows]
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(_timeline).where(
                    _timeline.c.session_id == session_id, _timeline.c.time_s.in_(times)
                )
            )
            connection.execute(sa.insert(_timeline), rows)

    def append_faces(self, session_id: int, faces: pd.DataFrame) -> None:
        """Add per-face rows (``FACE_COLUMNS``; ``frame`` may be absent)."""
        self._require(session_id)
        if faces.empty:
            return
        faces = faces if "frame" in faces else faces.assign(frame=-1)
        missing = set(FACE_COLUMNS) - set(faces.columns)
        if missing:
            raise SessionStoreError(f"faces table lacks column(s) {sorted(missing)}")
        with self.engine.begin() as connection:
            connection.execute(sa.insert(_faces), _rows(faces[list(FACE_COLUMNS)], session_id))

    def finish(
        self, session_id: int, summary: dict[str, Any] | None, ended_at: datetime | None = None
    ) -> None:
        """Close a session with its summary."""
        self._require(session_id)
        values = {"ended_at": _utc(ended_at), "summary": jsonable(summary)}
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(_sessions).where(_sessions.c.id == session_id).values(**values)
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
    ) -> int:
        """Store a finished session in one go (an analyzed video, a batch result)."""
        session_id = self.create(name, kind, settings, started_at)
        try:
            self.append_timeline(session_id, timeline)
            if faces is not None:
                self.append_faces(session_id, faces)
            self.finish(session_id, summary, ended_at)
        except Exception:
            self.delete(session_id)  # no half-saved session left behind
            raise
        return session_id

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
        columns = ["id", "name", "kind", "started_at", "ended_at", "duration_s", "seconds"]
        columns += ["faces_seen", "dominant", "mean_valence"]
        table = pd.DataFrame([_listing(row) for row in rows], columns=columns)
        return table.astype({"id": int, "seconds": int})

    def get(self, session_id: int) -> Session:
        """The whole session: metadata, summary, timeline and faces."""
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
            faces = pd.read_sql(
                sa.select(*(_faces.c[name] for name in FACE_COLUMNS))
                .where(_faces.c.session_id == session_id)
                .order_by(_faces.c.time_s, _faces.c.track_id),
                connection,
            )
        timeline = timeline.astype({name: float for name in (*CLASSES, "valence")})
        return Session(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            started_at=_from_db(row["started_at"]),
            ended_at=_from_db(row["ended_at"]),
            settings=row["settings"] or {},
            summary=row["summary"],
            timeline=timeline.astype({"dominant": object}),
            faces=faces,
        )

    def rename(self, session_id: int, name: str) -> None:
        if not name.strip():
            raise ValueError("a session needs a name")
        self._require(session_id)
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(_sessions).where(_sessions.c.id == session_id).values(name=name.strip())
            )

    def delete(self, session_id: int) -> None:
        """Remove a session and everything stored for it."""
        self._require(session_id)
        with self.engine.begin() as connection:
            connection.execute(sa.delete(_faces).where(_faces.c.session_id == session_id))
            connection.execute(sa.delete(_timeline).where(_timeline.c.session_id == session_id))
            connection.execute(sa.delete(_sessions).where(_sessions.c.id == session_id))

    def export(self, session_id: int) -> dict[str, Any]:
        """A session as a JSON-ready dict."""
        return self.get(session_id).to_dict()

    def compare(self, session_ids: list[int], column: str = "valence") -> pd.DataFrame:
        """Long table (``session``, ``time_s``, ``column``) of several sessions, for one chart.

        Time is seconds from each session's start, so runs on different days line up.
        """
        if column not in TIMELINE_COLUMNS or column in ("time_s", "dominant"):
            raise ValueError(f"cannot compare on {column!r}")
        parts = []
        for session_id in session_ids:
            session = self.get(session_id)
            label = f"{session.name} (#{session.id})"
            parts.append(session.timeline[["time_s", column]].assign(session=label))
        if not parts:
            return pd.DataFrame(columns=["session", "time_s", column])
        return pd.concat(parts, ignore_index=True)[["session", "time_s", column]]

    def _require(self, session_id: int) -> None:
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(_sessions.c.id).where(_sessions.c.id == session_id)
            ).first()
        if found is None:
            raise SessionNotFoundError(f"no session with id {session_id}")


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
        "started_at": started,
        "ended_at": ended,
        "duration_s": None if ended is None else (ended - started).total_seconds(),
        "seconds": row["seconds"],
        "faces_seen": summary.get("faces_seen"),
        "dominant": summary.get("dominant"),
        "mean_valence": summary.get("mean_valence"),
    }
