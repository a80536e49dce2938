"""Sessions: every live run and analyzed video, to open, rename, delete, export and compare.

A session opens with its summary and per-second timeline only: a long one has hundreds of
thousands of per-face rows, which are read only when an export is downloaded.
"""

from __future__ import annotations

import contextlib
from functools import partial

import streamlit as st

import charts
import common
from fer_core import definitions
from fer_core.errors import FerCoreError
from fer_core.sessions import SessionNotFoundError

COMPARABLE = ["valence", "happy", "neutral", "sad", "surprise", "angry", "fear", "disgust"]
COMPARABLE += ["n_faces"]


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
    common.timeline_charts(timeline, "session", "This session has no faces recorded.")
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
