"""Analyze videos unattended: per-face and per-second CSVs, summaries and an index.

fer-core analyze INPUT... --out DIR [--sample-fps N] [--detector NAME] [--model M]
       [--annotate] [--blur] [--workers N] [--engine local|ray] [--address A] [--chunk-s S]
       [--force] [--save-sessions [--db PATH_OR_URL]] [--agenda FILE] [--no-progress]
INPUT is video files or folders of them (searched recursively). A re-run skips the videos
already done. --agenda applies one agenda to every video: a CSV with the header
start,end,title (times in seconds or [H:]MM:SS from the video's start; end may be empty)
or a chapter list ("05:30 Keynote" a line); each video gets segments.csv. Exit code: 0 if
every video succeeded, 1 if any failed or the agenda is unusable, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing

from fer_core.cli import quiet
from fer_core.cli.options import (
    add_db_option,
    add_model_option,
    add_output_folder_option,
    command_parser,
    exits_on_error,
)


def _sample_fps(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (every frame) or positive")
    return value


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.batch import ENGINES, Settings
    from fer_core.detection import DETECTORS

    parser = command_parser(prog, __doc__)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files or folders")
    add_output_folder_option(parser)
    parser.add_argument(
        "--sample-fps",
        type=_sample_fps,
        metavar="N",
        default=Settings.sample_fps,
        help="frames analyzed per second of video; 0 = every frame (default: %(default)s)",
    )
    parser.add_argument("--detector", default=Settings.detector, choices=sorted(DETECTORS))
    add_model_option(parser)
    parser.add_argument("--annotate", action="store_true", help="also write annotated.mp4")
    parser.add_argument("--blur", action="store_true", help="blur faces in it (implies --annotate)")
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="local processes (default: 1)"
    )
    parser.add_argument("--engine", choices=ENGINES, default="local", help="default: local")
    parser.add_argument(
        "--address", metavar="A", help="Ray cluster address, e.g. auto (with --engine ray)"
    )
    parser.add_argument(
        "--chunk-s",
        type=float,
        metavar="S",
        help="split videos into chunks of this many seconds (tasks)",
    )
    parser.add_argument("--force", action="store_true", help="redo videos already done")
    parser.add_argument(
        "--save-sessions", action="store_true", help="also save each video as a dashboard session"
    )
    add_db_option(parser)
    parser.add_argument(
        "--agenda", metavar="FILE", help="segments for every video: CSV start,end,title or chapters"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.db and not args.save_sessions:
        parser.error("--db needs --save-sessions")
    from fer_core.batch import BatchError, Settings, run_batch
    from fer_core.cli.progress import ProgressBars
    from fer_core.events.agenda import AgendaError, read_agenda

    try:  # before any video: a bad agenda would spoil every one
        agenda = read_agenda(args.agenda) if args.agenda else None
    except AgendaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    bars = ProgressBars(enabled=not args.no_progress)
    with exits_on_error(parser, BatchError), closing(bars):
        settings = Settings(
            sample_fps=args.sample_fps or None,
            detector=args.detector,
            model=args.model,
            annotate=args.annotate or args.blur,
            blur=args.blur,
            chunk_s=args.chunk_s,
        )
        result = run_batch(
            args.inputs,
            args.out,
            settings,
            engine=args.engine,
            workers=args.workers,
            address=args.address,
            force=args.force,
            save_sessions=args.save_sessions,
            db=args.db,
            reporter=bars,
            agenda=agenda,
        )
    run = result.run
    speed = ""
    if run["analyzed_s"]:
        speed = (
            f"; analysis {run['analysis_speed_x_realtime']:.1f}x real time "
            f"({run['speed_x_realtime']:.1f}x counting start-up)"
        )
    print(
        f"{len(result.rows)} input(s): {run['ok']} analyzed, {run['skipped']} already done, "
        f"{run['failed']} failed{speed}\nindex: {result.index_csv}"
    )
    return 0 if result.ok else 1
