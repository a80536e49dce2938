"""Live: the webcam streams to the server, comes back annotated, and the mood is charted."""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

import charts
import common
from fer_core import definitions
from fer_core.errors import FerCoreError
from fer_core.events.segments import segment_table
from fer_core.live import SessionRecorder
from fer_core.redaction import mask_credentials
from fer_core.workers import LiveWorker

st.title("Live audience")
st.page_link(
    "views/cameras.py",
    label="Cameras in the room (IP cameras, several at once, read by the server): Room cameras",
    icon=":material/photo_camera:",
)
state = st.session_state
streaming = bool(state.get("live_streaming"))
settings = common.analysis_settings("live", disabled=streaming)
blur = st.sidebar.toggle("Blur faces in the video", key="live_blur")
if streaming:
    st.sidebar.caption("Stop the stream to change the model, detector or smoothing.")

# One monitor per browser session (kept in session_state, never a module global); rebuilt
# only between streams, because the callback thread holds the running one. Its worker process
# (the model) runs from START to STOP.
if not streaming and state.get("live_settings") != settings:
    if "live_monitor" in state:
        state["live_monitor"].close()
    # A worker that dies mid-stream (memory, a native crash) is restarted by the stream itself.
    state["live_monitor"] = LiveWorker(settings.analyzer_options(), restart_dead=True)
    state["live_settings"] = settings
monitor: LiveWorker = state["live_monitor"]
monitor.blur = blur
# Saves each stream from its own thread, so a stream is saved and closed however it ends.
if "live_recorder" not in state:
    state["live_recorder"] = SessionRecorder(common.store())
recorder: SessionRecorder = state["live_recorder"]


def end_stream() -> None:
    """STOP, a closed tab or a lost connection (streamlit-webrtc's thread): save and close."""
    monitor.close()
    recorder.stop()


video, figures = st.columns([3, 2])
with video:
    context = webrtc_streamer(
        key="live",
        mode=WebRtcMode.SENDRECV,
        video_frame_callback=monitor.callback,
        on_video_ended=end_stream,
        media_stream_constraints={"video": True, "audio": False},
        rtc_configuration=common.rtc_configuration(),
        async_processing=True,
    )
    st.caption(
        "Faces are analyzed on this server; only per-second figures and per-face numbers "
        "are saved, never video."
    )


# Start and stop come as full reruns (the component's value changes): the session is opened
# here; the recorder saves it as it goes and closes it when the stream ends.
playing = context.state.playing
if playing and "live_session_id" not in state:
    monitor.start()
    started = datetime.now().astimezone()
    try:
        state["live_session_id"] = recorder.start(
            monitor, f"Live {started:%Y-%m-%d %H:%M}", settings.as_dict() | {"blur": blur}
        )
    except FerCoreError as error:
        state["live_session_id"] = None
        st.error(mask_credentials(f"This stream is not being saved: {error}"))
elif not playing and "live_session_id" in state:
    monitor.close()
    session_id = state.pop("live_session_id")
    saved = recorder.stop()  # at once if the stream's end already closed the session
    if session_id is not None and saved:
        st.toast(f"Saved as session #{session_id}; see the Sessions page.")
    elif session_id is not None:  # it goes on trying; the next stream gets a record of its own
        state.pop("live_settings", None)
        st.warning(
            mask_credentials(
                f"Session #{session_id} is not fully saved yet ({recorder.error}); "
                "it is still being tried."
            )
        )
state["live_streaming"] = playing

# Below the video, once this run has opened or closed the session.
with video, st.form("next_segment", clear_on_submit=True, border=False):
    title, mark = st.columns([3, 1], vertical_alignment="bottom")
    name = title.text_input(
        "Segment name",
        key="segment_name",
        placeholder="optional, e.g. Keynote",
        help="Divide the session into talks, lesson parts or adverts: each gets its own "
        "figures on the Sessions page and in the report. An agenda file can be imported "
        "there too.",
    )
    if mark.form_submit_button("Next segment", disabled=state.get("live_session_id") is None):
        try:
            started = recorder.next_segment(name)
            st.toast(f"{started.title} started at {started.start_s:.0f} s.")
        except (RuntimeError, ValueError, FerCoreError) as error:
            st.error(mask_credentials(f"The segment was not marked: {error}"))


@st.fragment(run_every=1.0)
def live_figures() -> None:
    restart_in_s = monitor.restart_in_s
    if monitor.status == "failed" and restart_in_s is not None:
        stopped = mask_credentials(monitor.error)
        st.warning(f"The analysis stopped: {stopped}. Restarting it in {restart_in_s:.0f} s.")
    elif monitor.status == "failed":
        stopped = mask_credentials(monitor.error)
        st.error(f"The analysis stopped: {stopped}. Press STOP, then START to restart it.")
    elif monitor.restarts:
        st.caption(f"The analysis restarted {monitor.restarts}x after its worker died.")
    elif monitor.status == "starting":
        st.info("Loading the emotion model; the video shows unanalyzed until it is ready.")
    if monitor.skipped:
        st.warning(
            f"{monitor.skipped} frames could not be analyzed and were skipped; the latest: "
            f"{mask_credentials(monitor.frame_error)}."
        )
    snapshot = monitor.snapshot()
    frames, in_view, read, seen = st.columns(4)
    frames.metric("Frames analyzed", snapshot.frames, help=f"{snapshot.fps:.1f} frames/s")
    in_view.metric("Faces in view", snapshot.faces_in_view, help=definitions.FACES_IN_VIEW)
    read.metric(
        "Faces classified",
        snapshot.faces_classified,
        help=definitions.FACES_CLASSIFIED,
        delta=common.share_text(snapshot.classified_share),
        delta_color="off",
    )
    seen.metric("Faces seen", snapshot.faces_seen, help=definitions.FACES_SEEN)
    attending = "-" if snapshot.attention is None else f"{snapshot.attention:.0%}"
    st.metric("Attention", attending, help=definitions.ATTENTION)
    alerts = recorder.alerts
    for alert in alerts[-3:]:  # the newest; every one is kept with the session
        st.warning(f"At {alert.time_s:.0f} s: {alert.message}", icon=":material/trending_down:")
    st.plotly_chart(charts.distribution_bar(snapshot.current, "Right now"), key="live_now")
    session_id = state.get("live_session_id")
    segments = None
    if session_id is not None:
        marked = common.store().segments(session_id)
        segments = segment_table(snapshot.timeline, marked, end_s=snapshot.elapsed_s + 1)
    common.timeline_charts(
        snapshot.timeline,
        "live",
        "Charts appear once a face has been seen. Press START to begin.",
        segments,
        alerts,
    )
    if recorder.error is not None:  # e.g. a database locked by another writer
        st.warning(mask_credentials(f"Not saved yet, trying again: {recorder.error}"))


with figures:
    live_figures()
