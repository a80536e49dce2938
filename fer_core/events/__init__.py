"""The event workflow: a session divided into segments, alerts on its timeline, and the
post-event report. Pure functions over a session's timeline; no model, no UI."""

from fer_core.events.alerts import Alert
from fer_core.events.segments import Segment

__all__ = ["Alert", "Segment"]
