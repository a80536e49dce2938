"""Sessions: every live run and analyzed video, to open, rename, delete, export and compare.

A session opens with its summary and per-second timeline only: a long one has hundreds of
thousands of per-face rows, which are read only when an export is downloaded.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from functools import partial

import pandas as pd
import streamlit as st

import charts
import common
from fer_core import definitions
from fer_core.errors import FerCoreError
from fer_core.events.agenda import agenda_from_bytes
from fer_core.events.report import report_html, report_pdf
from fer_core.events.segments import (
    segment_table,
    segments_across,
    segments_from_table,
    timeline_end_s,
)
from fer_core.labels import CLASSES
from fer_core.sessions import Session, SessionNotFoundError

COMPARABLE = ["valence", "attention", "happy", "neutral", "sad", "surprise", "angry", "fear"]
COMPARABLE += ["disgust", "n_faces"]
SEGMENT_MEASURES = ["mean_valence", "attention", "faces_in_view", *CLASSES]
SEGMENT_FORMATS = {
    name: st.column_config.NumberColumn(format="%.2f")
    for name in ("faces_in_view", *CLASSES, "mean_valence", "attention")
} | {
    name: st.column_config.NumberColumn(format="%.0f")
    for name in ("start_s", "end_s", "duration_s", "peak_positive_s", "peak_negative_s")
}


def event_cameras(session: Session) -> None:
    """An event's cameras: each one's faces per second with its gaps (no data), and a table."""
    st.subheader("Cameras")
    st.caption("Each camera counts on its own: someone seen by two cameras counts twice.")
    names = {camera.camera: f"#{camera.camera} {camera.name}" for camera in session.cameras}
    per_camera = {
        camera: table.drop(columns="camera")
        for camera, table in session.camera_timeline.groupby("camera")
    }
    gaps = [(gap.camera, gap.start_s, gap.end_s) for gap in session.gaps]
    st.plotly_chart(charts.faces_by_camera(per_camera, names, gaps), key="session_cameras")
    away = {camera: 0.0 for camera in names}
    for gap in session.gaps:
        end = gap.end_s if gap.end_s is not None else timeline_end_s(session.timeline)
        away[gap.camera] += end - gap.start_s
    st.dataframe(
        pd.DataFrame(
            {
                "camera": list(names.values()),
                "joined (s)": [camera.added_s for camera in session.cameras],
                "left (s)": [camera.removed_s for camera in session.cameras],
                "no data (s)": [away[camera.camera] for camera in session.cameras],
                "faces seen": [
                    (camera.summary or {}).get("faces_seen") for camera in session.cameras
                ],
            }
        ),
        hide_index=True,
    )


def report_downloads(session_ids: list[int], stem: str, label: str) -> None:
    """The post-event report of ``session_ids`` as HTML and as PDF, each built when clicked."""
    formats = (
        ("HTML", report_html, "html", "text/html", "Self-contained, interactive; opens offline."),
        ("PDF", report_pdf, "pdf", "application/pdf", "A few pages with static charts, to send."),
    )
    for column, (name, build, suffix, mime, tip) in zip(st.columns(2), formats, strict=True):
        column.download_button(
            f"{label} ({name})",
            partial(build, store, session_ids),
            f"{stem}-report.{suffix}",
            mime,
            on_click="ignore",
            help=tip,
        )


def edit_segments(session: Session) -> None:
    """Add, edit or delete segments, or import an agenda, and store them."""
    with st.expander("Edit segments or import an agenda"):
        clock = session.kind == "live"
        agenda = st.file_uploader(
            "Agenda (CSV start,end,title, or a chapter list)",
            type=["csv", "txt"],
            key=f"agenda_{session.id}",
            help="Live sessions: clock times (09:30 or 09:30:15 on the session's day, or ISO "
            "date-times). Videos: seconds or [H:]MM:SS from the start. A chapter list is one "
            "'TIME TITLE' a line; each chapter ends where the next starts.",
        )
        if agenda is not None and st.button("Replace the segments with this agenda"):
            try:
                started_at = session.started_at if clock else None
                imported = agenda_from_bytes(agenda.getvalue(), started_at, agenda.name)
                store.set_segments(session.id, imported)
            except (FerCoreError, ValueError) as error:
                st.error(f"The agenda was not imported: {error}")
            else:
                st.rerun()
        table = pd.DataFrame(
            [asdict(segment) for segment in session.segments],
            columns=["start_s", "end_s", "title"],
        )
        edited = st.data_editor(
            table,
            num_rows="dynamic",
            hide_index=True,
            key=f"segments_{session.id}",
            column_config={
                "start_s": st.column_config.NumberColumn("start (s)", min_value=0, required=True),
                "end_s": st.column_config.NumberColumn(
                    "end (s)", min_value=0, help="Empty: until the next segment starts."
                ),
                "title": st.column_config.TextColumn("title", max_chars=200),
            },
        )
        if st.button("Save segments"):
            try:
                store.set_segments(session.id, segments_from_table(edited))
            except (FerCoreError, ValueError) as error:
                st.error(f"The segments were not saved: {error}")
            else:
                st.rerun()


st.title("Sessions")
store = common.store()
# Sessions whose server stopped mid-stream, and so never closed them; if the database is
# busy, a later visit closes them.
with contextlib.suppress(FerCoreError):
    store.close_abandoned()
listing = store.list()
if listing.empty:
    st.info("No sessions yet. A live run or an analyzed video is saved here automatically.")
    st.stop()

st.dataframe(
    listing,
    hide_index=True,
    column_config={
        "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
        "ended_at": st.column_config.DatetimeColumn("ended", format="YYYY-MM-DD HH:mm"),
        "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f"),
        "seconds": st.column_config.NumberColumn("seconds with data"),
        "mean_valence": st.column_config.NumberColumn("mean valence", format="%.2f"),
    },
)
labels = {row.id: f"#{row.id} {row.name} ({row.kind})" for row in listing.itertuples()}

opened, compared = st.tabs(["Open", "Compare"])
with opened:
    session_id = st.selectbox("Session", list(labels), format_func=labels.get)
    try:
        session = store.get(session_id, faces=False)
    except SessionNotFoundError:  # deleted in another tab
        st.warning("That session no longer exists.")
        st.stop()
    summary = session.summary or {}
    if session.status == "interrupted":
        st.warning(
            "This stream was interrupted: its server stopped before closing it. It holds "
            "what was saved until then (every few seconds)."
        )
    duration, seen, mood = st.columns(3)
    duration.metric(
        "Duration", "in progress" if session.duration_s is None else f"{session.duration_s:.0f} s"
    )
    seen.metric("Faces seen", summary.get("faces_seen", "-"), help=definitions.FACES_SEEN)
    mood.metric("Overall mood", summary.get("dominant") or "-")
    timeline = session.timeline
    segments = segment_table(timeline, session.segments, timeline_end_s(timeline, session.summary))
    common.timeline_charts(
        timeline, "session", "This session has no faces recorded.", segments, session.alerts
    )
    if session.alerts:
        st.subheader("Alerts")
        st.dataframe(
            pd.DataFrame(
                {
                    "at (s)": [a.time_s for a in session.alerts],
                    "alert": [a.message for a in session.alerts],
                }
            ),
            hide_index=True,
        )
    if session.kind == "event":
        event_cameras(session)
    st.subheader("Segments")
    if segments.empty:
        st.caption("No segments yet: mark them live, import an agenda or add them below.")
    else:
        st.dataframe(segments, hide_index=True, column_config=SEGMENT_FORMATS)
        measure = st.selectbox("Compare segments by", SEGMENT_MEASURES, key="segment_measure")
        st.plotly_chart(charts.segment_bars(segments, measure), key="session_segments")
    edit_segments(session)

    report_downloads([session.id], f"session-{session.id}", "Report")
    with st.expander("Settings and summary"):
        st.json({"settings": session.settings, "summary": session.summary})
    if st.toggle("Per-person table", key="session_tracks"):  # read from every face row
        st.dataframe(
            store.tracks(session.id),
            hide_index=True,
            column_config={
                "detections": st.column_config.NumberColumn(
                    "readings", help="Per-face rows stored: a live session keeps one a second."
                )
            },
        )

    exports = st.columns(3)
    exports[0].download_button(
        "Export JSON",
        common.streamed_download(store.write_json, session.id),
        f"session-{session.id}.json",
        "application/json",
        on_click="ignore",
    )
    exports[1].download_button(
        "Per-second CSV",
        partial(timeline.to_csv, index=False),
        f"session-{session.id}-timeline.csv",
        "text/csv",
        on_click="ignore",
    )
    exports[2].download_button(
        "Per-face CSV",
        common.streamed_download(store.write_faces_csv, session.id),
        f"session-{session.id}-faces.csv",
        "text/csv",
        on_click="ignore",
        help="A live session keeps each person's first reading in each second; a video, every "
        "analyzed frame's.",
    )

    with st.form("rename"):
        new_name = st.text_input("Name", value=session.name)
        if st.form_submit_button("Rename"):
            if new_name.strip():
                store.rename(session.id, new_name)
                st.rerun()
            st.error("A session needs a name.")
    confirm = st.checkbox(f"Yes, delete session #{session.id} for good")
    if st.button("Delete session", disabled=not confirm):
        store.delete(session.id)
        st.rerun()

with compared:
    chosen = st.multiselect(
        "Sessions to compare", list(labels), format_func=labels.get, max_selections=6
    )
    column = st.selectbox("Measure", COMPARABLE)
    if len(chosen) < 2:
        st.info("Pick two or more sessions.")
    else:
        st.plotly_chart(charts.compare_sessions(store.compare(chosen, column), column))
        tables = {}
        for chosen_id in chosen:
            other = store.get(chosen_id, faces=False)
            tables[labels[chosen_id]] = segment_table(
                other.timeline, other.segments, timeline_end_s(other.timeline, other.summary)
            )
        across = segments_across(tables)
        if across.empty:
            st.caption("None of these sessions has segments to compare.")
        else:
            measure = st.selectbox("Segments by", SEGMENT_MEASURES, key="compare_segment_measure")
            st.plotly_chart(charts.segment_bars(across, measure), key="compare_segments")
        names = "-".join(str(i) for i in chosen)
        report_downloads(chosen, f"sessions-{names}", "Report of these sessions")
