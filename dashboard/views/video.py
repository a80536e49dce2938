"""Analyze a video: upload a recording, get its timeline, per-face table and downloads."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import streamlit as st
from scratch import ScratchFolder
from sqlalchemy.exc import SQLAlchemyError

import charts
import common
from fer_core import analytics, definitions
from fer_core.errors import FerCoreError
from fer_core.events import Segment
from fer_core.events.agenda import agenda_from_bytes
from fer_core.events.alerts import detect_alerts
from fer_core.events.segments import segment_table
from fer_core.redaction import mask_credentials
from fer_core.workers import analyze_video_in_worker

VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "webm"]
SAMPLE_RATES = {"every frame": None, "10 per second": 10.0, "5 per second": 5.0}
SAMPLE_RATES |= {"2 per second": 2.0, "1 per second": 1.0}

st.title("Analyze a recorded video")
settings = common.analysis_settings("video")

upload = st.file_uploader(
    "A recording of the audience",
    type=VIDEO_TYPES,
    help="The size limit is server.maxUploadSize in .streamlit/config.toml.",
)
rate_name = st.select_slider("Frames to analyze", list(SAMPLE_RATES), value="5 per second")
agenda_upload = st.file_uploader(
    "Agenda (optional)",
    type=["csv", "txt"],
    help="CSV start,end,title or a chapter list ('00:00 Intro' a line), in seconds or "
    "[H:]MM:SS from the video's start: each segment gets its own figures.",
)
annotate = st.checkbox("Also make an annotated video")
blur = st.checkbox("Blur faces in the annotated video", disabled=not annotate)


def analyze(upload, sample_fps: float | None, segments: list[Segment]) -> dict:
    """Analyze the upload in a worker process (the model never loads in this server). The
    upload is deleted once analyzed; the annotated video stays on disk with the result."""
    bar = st.progress(0.0, text=f"Analyzing {upload.name}...")
    started = datetime.now().astimezone()
    folder = ScratchFolder("fer-result-")
    source = folder.path / f"upload{Path(upload.name).suffix.lower()}"
    target = folder.path / "annotated.mp4" if annotate else None
    try:
        source.write_bytes(upload.getbuffer())
        result = analyze_video_in_worker(
            source,
            settings.analyzer_options(),
            progress=lambda done: bar.progress(min(done, 1.0), text=f"{done:.0%} analyzed"),
            sample_fps=sample_fps,
            annotated_path=target,
            blur=blur,
        )
    except BaseException:
        folder.remove()
        raise
    finally:
        source.unlink(missing_ok=True)
        bar.empty()
    return {
        "name": upload.name,
        "faces": result.faces,
        "timeline": result.timeline,
        "summary": result.summary,
        "folder": folder,
        "annotated": target,
        "settings": settings.as_dict() | {"sample_fps": sample_fps, "blur": blur},
        "started_at": started,
        "ended_at": datetime.now().astimezone(),
        "segments": segments,
        "alerts": detect_alerts(result.timeline),
        "session_id": None,
        "save_error": None,
    }


def save(result: dict) -> None:
    """Store the result as a session; on failure keep it, and why, to show and retry."""
    try:
        result["session_id"] = common.store().save(
            result["name"],
            "video",
            result["timeline"],
            result["faces"],
            result["summary"],
            result["settings"] | {"file": result["name"]},
            started_at=result["started_at"],
            ended_at=result["ended_at"],
            segments=result["segments"],
            alerts=result["alerts"],
        )
        result["save_error"] = None
    except (FerCoreError, SQLAlchemyError, OSError) as error:  # a locked or unreachable database
        result["save_error"] = mask_credentials(str(error))


if st.button("Analyze", type="primary", disabled=upload is None):
    earlier = st.session_state.pop("video_result", None)
    if earlier is not None:
        earlier["folder"].remove()  # now, not when the last reference goes
    try:
        agenda = []
        if agenda_upload is not None:  # a bad agenda stops before the long analysis
            agenda = agenda_from_bytes(agenda_upload.getvalue(), source=agenda_upload.name)
        analyzed = analyze(upload, SAMPLE_RATES[rate_name], agenda)
    except (FerCoreError, ValueError) as error:
        st.error(mask_credentials(f"Could not analyze {upload.name}: {error}"))
    else:
        save(analyzed)
        st.session_state["video_result"] = analyzed

result = st.session_state.get("video_result")
if result:
    summary, timeline, faces = result["summary"], result["timeline"], result["faces"]
    if result["session_id"] is not None:
        st.success(f"{result['name']}: saved as session #{result['session_id']}.")
    else:
        st.error(
            f"{result['name']} was analyzed, but could not be saved as a session: "
            f"{result['save_error']}. The results below are kept on this page; save again "
            "once the database is free, or download them."
        )
        if st.button("Save again"):
            save(result)
            st.rerun()
    duration, frames, in_view, read, seen, mood = st.columns(6)
    duration.metric("Duration", f"{summary['duration_s']:.1f} s")
    frames.metric("Frames analyzed", summary["frames_analyzed"])
    in_view.metric(
        "Faces in view", f"{summary.get('faces_in_view', 0):.1f}", help=definitions.FACES_IN_VIEW
    )
    read.metric(
        "Faces classified",
        f"{summary.get('faces_classified', 0):.1f}",
        help=definitions.FACES_CLASSIFIED,
        delta=common.share_text(summary.get("classified_share")),
        delta_color="off",
    )
    seen.metric("Faces seen", summary["faces_seen"], help=definitions.FACES_SEEN)
    mood.metric("Overall mood", summary["dominant"] or "no faces")
    if faces.empty:
        st.info("No faces were found in this video.")
    else:
        st.plotly_chart(
            charts.distribution_bar(summary["distribution"], "Overall"), key="video_overall"
        )
        segments = segment_table(timeline, result["segments"], summary["duration_s"])
        common.timeline_charts(timeline, "video", "", segments, result["alerts"])
        for alert in result["alerts"]:
            st.warning(f"At {alert.time_s:.0f} s: {alert.message}")
        if result["segments"]:
            st.subheader("Segments")
            st.dataframe(segments, hide_index=True)
        st.subheader("Faces (tracks)")
        st.dataframe(analytics.tracks(faces), hide_index=True)
    with st.expander("Summary"):
        st.json(summary)
    stem = Path(result["name"]).stem
    downloads = st.columns(4)
    downloads[0].download_button(
        "Per-face CSV", faces.to_csv(index=False), f"{stem}-faces.csv", "text/csv"
    )
    downloads[1].download_button(
        "Per-second CSV", timeline.to_csv(index=False), f"{stem}-timeline.csv", "text/csv"
    )
    downloads[2].download_button(
        "Summary JSON", json.dumps(summary, indent=2), f"{stem}-summary.json", "application/json"
    )
    annotated = result["annotated"]
    if annotated is not None:
        downloads[3].download_button(  # read from disk only when asked for
            "Annotated MP4", annotated.read_bytes, f"{stem}-annotated.mp4", "video/mp4"
        )
