"""What every page shares: configuration, the session store and the analysis settings.

Only wiring lives here; analysis is in ``fer_core`` and runs in worker processes
(``fer_core.workers``), so this server process never imports TensorFlow or Keras.
Configuration comes from ``.streamlit/secrets.toml`` (or the environment):

- ``password`` / ``FER_CORE_PASSWORD``: if set, the dashboard asks for it first (``gate``);
- ``database_url`` / ``FER_CORE_DB``: where sessions are stored (default: a SQLite file);
- ``ice_servers`` / ``FER_CORE_ICE_SERVERS`` (JSON): STUN/TURN servers for WebRTC. Empty by
  default, which works on localhost and a LAN with no internet.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

import pandas as pd
import streamlit as st

import charts
from fer_core import analytics, defaults
from fer_core.cameras import Event
from fer_core.catalog import LIVE_MODEL, model_names
from fer_core.detection import DEFAULT_DETECTOR, DETECTORS
from fer_core.events import Alert
from fer_core.sessions import SessionStore


def secret(name: str, default: Any = None) -> Any:
    """A value from ``secrets.toml``, or ``default`` when there is no such file or key."""
    try:
        return st.secrets.get(name, default)
    except FileNotFoundError:  # no secrets.toml anywhere: nothing configured
        return default


def rtc_configuration() -> dict[str, Any]:
    """ICE servers from the secrets or ``FER_CORE_ICE_SERVERS``; none by default (LAN)."""
    configured = secret("ice_servers")
    if configured is None and os.environ.get("FER_CORE_ICE_SERVERS"):
        configured = json.loads(os.environ["FER_CORE_ICE_SERVERS"])
    return {"iceServers": list(configured or [])}


def store() -> SessionStore:
    """The configured session store."""
    return _store(secret("database_url") or os.environ.get("FER_CORE_DB"))


@st.cache_resource
def running_events() -> dict[int, Event]:
    """Events with room cameras started from this server, by session id: they run in this
    process whatever page, or none, shows them, until stopped or their end time."""
    return {}


@st.cache_resource
def _store(location: str | None) -> SessionStore:
    # One per location and server process: SQLAlchemy pools the connections.
    return SessionStore(location)


@dataclass(frozen=True)
class AnalysisSettings:
    """The choices that shape a FrameAnalyzer; stored with every session."""

    model: str
    detector: str
    smoothing_s: float
    min_face: int
    detect_every_s: float
    attention_cone_deg: float = defaults.ATTENTION_CONE_DEG
    stage_yaw_deg: float = 0.0
    stage_pitch_deg: float = 0.0

    def analyzer_options(self) -> dict[str, Any]:
        """``FrameAnalyzer``'s keyword arguments: a worker process builds the analyzer."""
        return {
            "classifier": self.model,
            "detector": self.detector,
            "smoothing_s": self.smoothing_s,
            "min_face": self.min_face,
            "detect_every_s": self.detect_every_s,
            "attention_cone_deg": self.attention_cone_deg,
            "stage_direction": (self.stage_yaw_deg, self.stage_pitch_deg),
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def analysis_settings(key: str, disabled: bool = False) -> AnalysisSettings:
    """Model, detector, smoothing, minimum face size and search interval, as sidebar widgets."""
    sidebar = st.sidebar
    model = sidebar.selectbox(
        "Model",
        model_names(first=LIVE_MODEL),
        key=f"{key}_model",
        disabled=disabled,
        help="fast keeps up with live video; accurate reads each face more carefully "
        "(see the Model page for each one's figures).",
    )
    detector = sidebar.selectbox(
        "Face detector",
        list(DETECTORS),
        index=list(DETECTORS).index(DEFAULT_DETECTOR),
        key=f"{key}_detector",
        disabled=disabled,
        help="Each finds faces at different sizes and speeds; see the README's detector table.",
    )
    smoothing = sidebar.slider(
        "Smoothing (s)",
        0.0,
        3.0,
        defaults.SMOOTHING_S,
        0.1,
        key=f"{key}_smoothing",
        disabled=disabled,
        help="Half-life of each face's emotion average; 0 shows raw per-frame output.",
    )
    min_face = sidebar.slider(
        "Minimum face size (px)",
        8,
        120,
        defaults.MIN_FACE_PX,
        2,
        key=f"{key}_min_face",
        disabled=disabled,
        help="Smaller faces are boxed but not classified: too few pixels to read.",
    )
    detect_every = sidebar.slider(
        "Full-frame face search every (s)",
        0.0,
        3.0,
        defaults.DETECT_EVERY_S,
        0.1,
        key=f"{key}_detect_every",
        disabled=disabled,
        help="In between, known faces are followed by optical flow, which costs milliseconds "
        "where a search of a room costs most of a second; a newcomer is picked up at the next "
        "full search. 0 searches every frame.",
    )
    with sidebar.expander("Attention"):
        cone = st.slider(
            "Attending within (degrees)",
            10,
            60,
            int(defaults.ATTENTION_CONE_DEG),
            5,
            key=f"{key}_cone",
            disabled=disabled,
            help="A face attends when its head points within this angle of the stage.",
        )
        stage_yaw = st.slider(
            "Stage direction, left/right (degrees)",
            -90,
            90,
            0,
            5,
            key=f"{key}_stage_yaw",
            disabled=disabled,
            help="Where the stage is as seen from the audience, relative to the camera: 0 when "
            "the camera is at the stage; negative when the stage is to the image's left.",
        )
        stage_pitch = st.slider(
            "Stage direction, down/up (degrees)",
            -45,
            45,
            0,
            5,
            key=f"{key}_stage_pitch",
            disabled=disabled,
            help="Negative when the stage is below the camera (a camera mounted high).",
        )
    return AnalysisSettings(
        model or "",
        detector,
        float(smoothing),
        int(min_face),
        float(detect_every),
        float(cone),
        float(stage_yaw),
        float(stage_pitch),
    )


def share_text(share: float | None) -> str | None:
    """``"85% of the room"``, or None when nobody is in view."""
    return None if share is None else f"{share:.0%} of the room"


def timeline_charts(
    timeline: pd.DataFrame,
    key: str,
    empty: str,
    segments: pd.DataFrame | None = None,
    alerts: Sequence[Alert] = (),
) -> None:
    """The emotion mix per second, valence and attention (where head poses were estimated)
    with 10 s rolling means, each with the ``segments`` shaded (a ``segment_table``) and the
    ``alerts`` marked; ``empty`` if no faces."""
    if not timeline["valence"].notna().any():
        st.info(empty)
        return
    area = charts.emotions_over_time(timeline)
    st.plotly_chart(charts.mark_events(area, segments, alerts), key=f"{key}_area")
    rolled = analytics.rolling(timeline.dropna(subset=["valence"]), window_s=10)
    valence = charts.valence_line(timeline, rolled)
    st.plotly_chart(charts.mark_events(valence, segments, alerts), key=f"{key}_valence")
    if timeline["attention"].notna().any():
        attention = charts.attention_line(timeline, rolled)
        st.plotly_chart(charts.mark_events(attention, segments, alerts), key=f"{key}_attention")


def streamed_download(write: Callable[[int, TextIO], None], session_id: int) -> Callable[[], bytes]:
    """A download's contents, for ``st.download_button`` to build only when clicked: ``write``
    streams the session to a temporary file a chunk of rows at a time, rather than building
    the whole text in memory first."""

    def build() -> bytes:
        with tempfile.TemporaryFile() as file:
            text = io.TextIOWrapper(file, encoding="utf-8", newline="")
            write(session_id, text)
            text.flush()
            text.detach()  # the file, not the wrapper, is closed
            file.seek(0)
            return file.read()

    return build
