"""Analyze many videos unattended: per-face and per-second CSVs, a summary, and an index.

python scripts/analyze_video.py INPUT... --out DIR [--sample-fps N] [--detector NAME]
       [--model M] [--annotate] [--blur] [--workers N] [--engine local|ray] [--address A]
       [--chunk-s S] [--force] [--save-sessions [--db PATH_OR_URL]] [--no-progress]
INPUT is video files or folders of them (searched recursively). A re-run skips the videos
already done. Exit code: 0 if every video succeeded, 1 if any failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm import tqdm

from fer_core.batch import ENGINES, BatchError, Reporter, Settings, run_batch
from fer_core.detection import DETECTORS


class _Bars(Reporter):
    """An overall bar over the videos, and one bar per video being analyzed."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.overall: tqdm | None = None
        self.bars: dict[str, tqdm] = {}

    def begin(self, total: int) -> None:
        self.overall = tqdm(total=total, unit="video", desc="videos", disable=not self.enabled)

    def video(self, name: str, fraction: float) -> None:
        if name not in self.bars:
            self.bars[name] = tqdm(
                total=100, desc=name[:30], unit="%", leave=False, disable=not self.enabled
            )
        bar = self.bars[name]
        bar.update(round(100 * fraction) - bar.n)

    def finished(self, row: dict[str, Any]) -> None:
        bar = self.bars.pop(row["name"], None) if row["name"] else None
        if bar is not None:
            bar.close()
        if row["status"] == "failed":
            reason = (
                row["reason"]
                if row["input"] in row["reason"]
                else f"{row['input']}: {row['reason']}"
            )
            tqdm.write(f"failed: {reason}", file=sys.stderr)
        if self.overall is not None:
            self.overall.update(1)

    def close(self) -> None:
        for bar in [*self.bars.values(), self.overall]:
            if bar is not None:
                bar.close()


def _sample_fps(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (every frame) or positive")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files or folders")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (created if needed)"
    )
    parser.add_argument(
        "--sample-fps",
        type=_sample_fps,
        metavar="N",
        default=Settings.sample_fps,
        help="frames analyzed per second of video; 0 = every frame (default: %(default)s)",
    )
    parser.add_argument("--detector", default=Settings.detector, choices=sorted(DETECTORS))
    parser.add_argument(
        "--model", metavar="M", help="model name, folder or .keras file (default: fast)"
    )
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
    parser.add_argument(
        "--db", metavar="PATH_OR_URL", help="session database: SQLite path or SQLAlchemy URL"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.db and not args.save_sessions:
        parser.error("--db needs --save-sessions")

    bars = _Bars(enabled=not args.no_progress)
    try:
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
        )
    except BatchError as error:
        bars.close()
        parser.exit(2, f"error: {error}\n")
    bars.close()
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


if __name__ == "__main__":
    sys.exit(main())
