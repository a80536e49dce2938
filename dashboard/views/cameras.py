"""Room cameras: an event watched by IP cameras and local devices that the server reads.

The event belongs to the server, not to this page: it keeps recording with no browser open,
until it is stopped here or reaches its end time (``common.running_events``).
"""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

import charts
import common
from fer_core import definitions
from fer_core.cameras import CameraError, CameraView, Event
from fer_core.errors import FerCoreError
from fer_core.events.segments import segment_table
from fer_core.redaction import mask_credentials

STATUS = {
    "connecting": ":material/hourglass_top: connecting",
    "connected": ":material/check_circle: connected",
    "reconnecting": ":material/sync_problem: reconnecting",
    "failed": ":material/error: failed",
    "stopped": ":material/stop_circle: stopped",
}
PER_ROW = 3  # camera previews side by side

st.title("Room cameras")
st.caption(
    "The server reads the cameras itself: IP cameras by URL (rtsp://, rtsps://, http(s):// for "
    "MJPEG or HLS, udp://) and devices on this machine (/dev/video0). An event keeps running "
    "when no browser is watching. Each camera is counted on its own: someone seen by two "
    "cameras counts twice."
)
settings = common.analysis_settings("cameras")
events = common.running_events()
for ended in [session_id for session_id, event in events.items() if not event.running]:
    events.pop(ended)


def start_form() -> None:
    """Name the event, list its cameras, and start it."""
    with st.form("start_event"):
        name = st.text_input("Event name", placeholder="e.g. Open day, main hall")
        addresses = st.text_area(
            "Cameras, one a line",
            placeholder="rtsp://user:password@192.168.1.20/stream1\n/dev/video0",
            help="Passwords in addresses are never shown or stored.",
        )
        minutes = st.number_input(
            "Stop after (minutes; 0 runs until stopped)", min_value=0, value=0, step=15
        )
        until = st.time_input(
            "Or stop at (this server's clock)", value=None, step=300, help="Empty: no end time."
        )
        if not st.form_submit_button("Start event", type="primary"):
            return
    lines = [line.strip() for line in addresses.splitlines() if line.strip()]
    if not lines:
        st.error("Give at least one camera.")
        return
    end_at = None
    if until is not None:
        end_at = datetime.combine(date.today(), until).astimezone()
        if end_at <= datetime.now().astimezone():
            st.error(f"{until:%H:%M} has passed today; give a later end time or a duration.")
            return
    try:
        event = Event(
            common.store(),
            name,
            settings.analyzer_options(),
            end_at=end_at,
            duration_s=minutes * 60 or None,
        )
        for line in lines:
            event.add_camera(line)
        session_id = event.start()
    except (CameraError, FerCoreError, ValueError) as error:
        st.error(mask_credentials(f"The event was not started: {error}"))
        return
    events[session_id] = event
    st.rerun()


if not events:
    st.info("No event is running. Start one with its cameras.")
    start_form()
    st.stop()

labels = {session_id: f"#{session_id} {event.name}" for session_id, event in events.items()}
shown = st.selectbox("Event", list(labels), format_func=labels.get)
event: Event = events[shown]

controls = st.columns([2, 2, 1], vertical_alignment="bottom")
with controls[0].form("add_camera", clear_on_submit=True, border=False):
    address = st.text_input("Add a camera", placeholder="rtsp://... or /dev/video1")
    if st.form_submit_button("Add") and address.strip():
        try:
            event.add_camera(address.strip())
        except (CameraError, RuntimeError) as error:
            st.error(mask_credentials(f"The camera was not added: {error}"))
with controls[1].form("event_segment", clear_on_submit=True, border=False):
    title = st.text_input("Segment name", placeholder="optional, e.g. Keynote")
    if st.form_submit_button("Next segment"):
        try:
            started = event.next_segment(title)
            st.toast(f"{started.title} started at {started.start_s:.0f} s.")
        except (RuntimeError, ValueError, FerCoreError) as error:
            st.error(mask_credentials(f"The segment was not marked: {error}"))
if controls[2].button("Stop event", type="primary"):
    with st.spinner("Saving the event..."):
        saved = event.stop()
    events.pop(shown, None)
    if saved:
        st.toast(f"Saved as session #{shown}; see the Sessions page.")
    else:
        st.warning(mask_credentials(f"Session #{shown} is still being saved: {event.error}"))
    st.rerun()


def camera_card(view: CameraView) -> None:
    """One camera: its annotated preview, state, speed, faces and delay."""
    if view.preview is not None:
        st.image(view.preview, channels="BGR", width="stretch")
    st.markdown(f"**#{view.id}** `{view.name}`  \n{STATUS.get(view.status, view.status)}")
    latency = "-" if view.latency is None else f"{view.latency.mean_s * 1000:.0f} ms"
    restarted = f", analysis restarted {view.restarts}x" if view.restarts else ""
    st.caption(f"{view.fps:.1f} frames/s, {view.faces_in_view} faces, delay {latency}{restarted}")
    if view.error:
        st.error(view.error)  # masked by the camera
    if view.removed_s is None and st.button("Remove", key=f"remove_{view.id}"):
        event.remove_camera(view.id)


@st.fragment(run_every=1.0)
def event_view() -> None:
    if not event.running:
        st.info("The event has ended; it is saved on the Sessions page.")
        return
    snapshot = event.snapshot()
    connected = sum(view.status == "connected" for view in snapshot.cameras)
    figures = st.columns(4)
    figures[0].metric("Cameras connected", f"{connected} / {len(snapshot.cameras)}")
    figures[1].metric(
        "Faces in view",
        snapshot.faces_in_view,
        help=definitions.FACES_IN_VIEW + " Summed over the cameras.",
    )
    figures[2].metric(
        "Faces classified", snapshot.faces_classified, help=definitions.FACES_CLASSIFIED
    )
    attending = "-" if snapshot.attention is None else f"{snapshot.attention:.0%}"
    figures[3].metric("Attention", attending, help=definitions.ATTENTION)
    if event.error is not None:
        st.warning(mask_credentials(f"Not saved yet, trying again: {event.error}"))
    for alert in snapshot.alerts[-3:]:
        st.warning(f"At {alert.time_s:.0f} s: {alert.message}", icon=":material/trending_down:")
    views = [view for view in snapshot.cameras if view.removed_s is None]
    for start in range(0, len(views), PER_ROW):
        for column, view in zip(st.columns(PER_ROW), views[start : start + PER_ROW], strict=False):
            with column:
                camera_card(view)
    segments = segment_table(
        snapshot.timeline, common.store().segments(shown), end_s=snapshot.elapsed_s + 1
    )
    common.timeline_charts(
        snapshot.timeline,
        "event",
        "Charts appear once a camera has seen a face.",
        segments,
        snapshot.alerts,
    )
    names = {view.id: view.name for view in snapshot.cameras}
    gaps = [(g.camera, g.start_s, g.end_s) for view in snapshot.cameras for g in view.gaps]
    st.plotly_chart(
        charts.faces_by_camera(snapshot.camera_timelines, names, gaps), key="event_cameras"
    )


event_view()
with st.expander("Start another event"):
    start_form()
