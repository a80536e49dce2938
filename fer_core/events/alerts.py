"""Alerts: moments on a session's timeline that an organizer should look at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alert:
    """One rule firing at ``time_s`` (seconds from the session's start): ``metric`` went from
    ``before`` to ``after``; ``message`` says so in words."""

    time_s: float
    rule: str
    metric: str
    before: float
    after: float
    message: str
