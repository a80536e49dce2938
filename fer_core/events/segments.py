"""Segments: named spans of a session (a talk, a lesson part, an advert)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A named span of a session, in seconds from its start (the timeline's ``time_s``).

    ``end_s`` None means open: the segment runs until the next one starts or the session
    ends (a segment marked live with "next segment" is open until the next click).
    """

    start_s: float
    end_s: float | None
    title: str

    def __post_init__(self) -> None:
        if not self.start_s >= 0:  # also refuses NaN
            raise ValueError(f"a segment cannot start at {self.start_s} s")
        if self.end_s is not None and not self.end_s > self.start_s:
            raise ValueError(
                f"segment {self.title!r} ends at {self.end_s} s, not after its start "
                f"{self.start_s} s"
            )
