"""What a camera hands over: its newest frame, and the gaps when it sent none.

A camera decodes at its own pace and analysis takes frames at another. Only the newest
decoded frame waits (``NewestFrame``); a newer one replaces it and the replaced one is counted
as dropped, so a slow consumer always gets a fresh frame and no backlog builds. A frame is
turned into a BGR array only when taken: frames that are dropped are never converted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import av
import numpy as np


@dataclass(frozen=True)
class Frame:
    """One decoded frame, as BGR, with when it arrived and when it was taken.

    ``captured_at`` is the wall-clock time (``time.time()``) it was decoded here: cameras'
    own clocks are often wrong, and a timeline needs one clock for every camera.
    """

    image: np.ndarray
    captured_at: float
    index: int  # its number among the frames decoded since ``start``; a jump means drops
    taken_at: float

    @property
    def delay_s(self) -> float:
        """How long it waited between arriving and being taken."""
        return self.taken_at - self.captured_at

    def age_s(self) -> float:
        """Seconds since it arrived, say once it is analyzed: the delay a viewer sees."""
        return time.time() - self.captured_at


@dataclass(frozen=True)
class Gap:
    """Wall-clock times between which a camera sent no frame: no data, not "no faces".

    ``start`` is the last frame's time before the drop, ``end`` the first frame's after it,
    None while the camera is still away.
    """

    start: float
    end: float | None = None

    @property
    def duration_s(self) -> float:
        """Its length so far."""
        return (self.end if self.end is not None else time.time()) - self.start


class NewestFrame:
    """A one-frame slot between a camera's thread (``put``) and its consumer (``take``)."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._pending: tuple[av.VideoFrame, float, int] | None = None
        self._open = True
        self.dropped = 0  # frames replaced before anyone took them

    def put(self, frame: av.VideoFrame, captured_at: float, index: int) -> None:
        """Make ``frame`` the newest; the one waiting, if any, is dropped."""
        with self._ready:
            if self._pending is not None:
                self.dropped += 1
            self._pending = (frame, captured_at, index)
            self._ready.notify_all()

    def take(self, wait_s: float = 0.0) -> Frame | None:
        """The newest frame not taken yet, waiting up to ``wait_s`` for one; None if none
        came, or at once if the slot is closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._pending is not None or not self._open, wait_s)
            pending, self._pending = self._pending, None
        if pending is None:
            return None
        frame, captured_at, index = pending
        image = frame.to_ndarray(format="bgr24")
        return Frame(image, captured_at, index, taken_at=time.time())

    def close(self) -> None:
        """No more frames will come: wake every waiting ``take``."""
        with self._ready:
            self._open = False
            self._ready.notify_all()

    def reopen(self) -> None:
        """Start afresh for a new run of the camera."""
        with self._ready:
            self._pending, self._open, self.dropped = None, True, 0
