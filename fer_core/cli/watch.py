"""Watch an event with room cameras, headless, and save it as one session.

fer-core watch URL [URL ...] --event NAME [--duration S] [--db PATH_OR_URL]
       [--status-every S] [--open-timeout S] [--detector NAME] [--model M]
URL is a camera: rtsp://, rtsps://, http(s):// (MJPEG, HLS), udp://, or a device such as
/dev/video0. Each camera is analyzed in a process of its own; the event's timeline combines
them (faces summed: someone seen by two cameras counts twice). A status line comes every
--status-every seconds; passwords in URLs are masked in everything shown and stored.
The event stops at --duration, Ctrl-C or SIGTERM, and is saved and finished (exit 0).
A camera that drops later is reconnected and its gap stored. A camera that sends no frame
at the start is named with the reason: if others answer, the event goes on with those (the
failed camera stays in the session, without data); if none answers, it exits 1 and keeps no
session. Exit code 1 also if the session could not be saved, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from fer_core.cli import quiet
from fer_core.cli.options import add_db_option, add_model_option, command_parser, exits_on_error

if TYPE_CHECKING:
    from fer_core.cameras import Event

STATUS_EVERY_S = 10.0


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.cameras.source import OPEN_TIMEOUT_S
    from fer_core.detection import DETECTORS

    parser = command_parser(prog, __doc__)
    parser.add_argument("urls", nargs="+", metavar="URL", help="camera URLs or devices")
    parser.add_argument("--event", required=True, metavar="NAME", help="the session's name")
    parser.add_argument(
        "--duration", type=_seconds, metavar="S", help="stop after S seconds (default: never)"
    )
    add_db_option(parser)
    parser.add_argument(
        "--status-every",
        type=_seconds,
        default=STATUS_EVERY_S,
        metavar="S",
        help="seconds between status lines (default: %(default)g)",
    )
    parser.add_argument(
        "--open-timeout",
        type=_seconds,
        default=OPEN_TIMEOUT_S,
        metavar="S",
        help="how long a camera has to answer (default: %(default)g)",
    )
    parser.add_argument("--detector", choices=sorted(DETECTORS), help="face detector")
    add_model_option(parser)
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.cameras import CameraError, Event
    from fer_core.cameras.source import READ_TIMEOUT_S
    from fer_core.errors import FerCoreError
    from fer_core.sessions import SessionStore

    with exits_on_error(parser, FerCoreError, code=1):
        store = SessionStore(args.db)
    options = {"detector": args.detector, "classifier": args.model}
    event = Event(
        store,
        args.event,
        {name: value for name, value in options.items() if value is not None},
        duration_s=args.duration,
        camera_options={"open_timeout_s": args.open_timeout},
    )
    try:
        for url in args.urls:
            event.add_camera(url)
    except CameraError as error:
        parser.error(str(error))
    stop = _stop_on_signals()
    session_id = event.start()
    # FFmpeg opens in two steps, each with the open timeout, and the first frame may take the
    # read timeout: a camera that never answers has failed well before this.
    failed = event.wait_connected(2 * args.open_timeout + READ_TIMEOUT_S + 1)
    for message in failed.values():
        print(f"warning: {message}", file=sys.stderr)
    if len(failed) == len(args.urls):
        event.stop()
        store.delete(session_id)
        print("error: no camera could be reached; nothing was recorded", file=sys.stderr)
        return 1
    print(f"event {event.name!r}: session #{session_id} in {store.url}", flush=True)
    next_status = time.monotonic()
    while not event.wait(0.25) and not stop.is_set():
        if time.monotonic() >= next_status:
            print(status_line(event), flush=True)
            next_status += args.status_every
    saved = event.stop()
    print(status_line(event), flush=True)
    if not saved:
        print(f"error: the session could not be saved: {event.error}", file=sys.stderr)
        return 1
    summary = store.get(session_id, faces=False).summary or {}
    print(
        f"saved session #{session_id} {event.name!r}: {event.elapsed_s:.0f} s, "
        f"{summary.get('faces_seen', 0)} faces seen over {len(args.urls)} camera(s)",
        flush=True,
    )
    return 0


def status_line(event: Event) -> str:
    """One line: the event's time and faces in view, then each camera's state."""
    cameras = event.cameras
    live = sum(camera.status == "connected" for camera in cameras)
    faces = sum(camera.faces_in_view for camera in cameras)
    minutes, seconds = divmod(int(event.elapsed_s), 60)
    parts = [f"[{minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}]"]
    parts.append(f"{live}/{len(cameras)} cameras, {faces} faces")
    for camera in cameras:
        state = camera.status
        if camera.status == "connected":
            state += f" {camera.fps:.0f} fps, {camera.faces_in_view} faces"
            if camera.analysis != "running":
                state += f", analysis {camera.analysis}"
            elif camera.latency is not None:
                state += f", {camera.latency.mean_s:.2f} s behind"
            if camera.restarts:
                state += f", analysis restarted {camera.restarts}x"
        parts.append(f"#{camera.id} {camera.name}: {state}")
    return " | ".join(parts)


def _stop_on_signals() -> threading.Event:
    """Set on Ctrl-C or SIGTERM, so the event stops and is saved rather than cut short."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop
