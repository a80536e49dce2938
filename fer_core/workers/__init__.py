"""Analysis in worker processes, so the process that asks for it never imports TensorFlow.

A web server that imported TensorFlow paid for it on every page refresh (Streamlit clears the
Keras session after each rerun), crashed with a bad import order (TensorFlow before aiortc),
and went down with any crash in the model. ``LiveWorker`` runs a live stream's
``FrameAnalyzer`` in its own process and ``analyze_video_in_worker`` runs ``analyze_video`` in
one; both build the analyzer there from plain keyword arguments. Importing this package stays
light: nothing here imports TensorFlow in the calling process.
"""

from __future__ import annotations

from fer_core.workers.live import LiveWorker
from fer_core.workers.process import WorkerError
from fer_core.workers.video import VideoResult, analyze_video_in_worker

__all__ = ["LiveWorker", "VideoResult", "WorkerError", "analyze_video_in_worker"]
