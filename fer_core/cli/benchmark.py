"""Benchmark the pipeline against a naive reference, and at audience scale.

fer-core benchmark [VIDEO] [--faces N] [--width W --height H] [--seconds S]
           [--detector NAME] [--classify-every S] [--detect-every S] [--detect-width W]
    Speed on one-face (or few-face) footage against Haar plus one model call per face.
    With no VIDEO, footage is generated (moving astronaut faces).
fer-core benchmark --crowd DIR [--reference FILE] [--crops-out DIR] [--detector NAME]
           [--crowd-scale F]
    Faces found in group photos: one analyze call per photo against reference boxes
    (DIR/reference_faces.json by default); unmatched boxes are saved as crops.
fer-core benchmark --live-crowd [VIDEO] [--seconds S] [--faces N]
    The live path on a 1080p crowd (generated: a camera panning slowly across N faces):
    frames/s of FrameAnalyzer.analyze and LiveMonitor.process, faces per frame, and the
    share of a full search's faces the output covers.
fer-core benchmark --crowd-video [VIDEO] [--seconds S] [--faces N] [--sample-fps F]
    Batch analysis of a 1080p crowd video as the batch tool runs it (generated: the same pan
    across N faces, H.264): speed against real time, faces per sample, seconds per stage.
fer-core benchmark --people [--seconds S] [--chunks K]
    People counted on generated footage with a known number of people (one person walking
    and turning away; a fixed camera on a seated hall; people arriving, leaving and
    crossing): faces_seen at every frame, at 3 samples a second, and over K chunks.
Run on an idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error

if TYPE_CHECKING:
    from fer_core.analyzer import FrameAnalyzer


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.detectors import DEFAULT_DETECTOR, DETECTORS

    parser = command_parser(prog, __doc__)
    parser.add_argument("video", nargs="?", help="video file (default: generated footage)")
    parser.add_argument("--faces", type=int, default=1, help="faces in generated footage")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--model", help="model name, folder or .keras file (default: fast)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=sorted(DETECTORS))
    parser.add_argument(
        "--classify-every", type=float, help="re-read each face at most every S seconds"
    )
    parser.add_argument("--detect-every", type=float, help="full-search interval (s)")
    parser.add_argument("--detect-width", type=int, help="search a copy this wide")
    parser.add_argument("--crowd", metavar="DIR", help="group photos with reference boxes")
    parser.add_argument("--reference", help="reference boxes (default: DIR/reference_faces.json)")
    parser.add_argument("--crops-out", help="save boxes that match no reference face here")
    parser.add_argument(
        "--crowd-scale", type=float, default=1.0, help="resize the photos first (0.5: tinier faces)"
    )
    parser.add_argument("--live-crowd", action="store_true", help="the live path on a crowd")
    parser.add_argument("--crowd-video", action="store_true", help="batch analysis of a crowd")
    parser.add_argument(
        "--sample-fps", type=float, default=3.0, help="--crowd-video samples a second"
    )
    parser.add_argument("--people", action="store_true", help="people counts, known footage")
    parser.add_argument("--chunks", type=int, default=4, help="chunks of the chunked --people run")
    parser.add_argument("--max-frames", type=int, default=600, help="frames decoded into RAM")
    parser.add_argument("--no-reference", action="store_true", help="skip the naive reference")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    import av

    from fer_core.analyzer import FrameAnalyzer
    from fer_core.benchmarking import (
        agreement,
        classification_speed,
        decode_frames,
        pipeline_speed,
        reference_speed,
    )
    from fer_core.synthetic import write_demo_video

    settings = {
        name: value
        for name, value in (
            ("detector", args.detector),
            ("classify_every_s", args.classify_every),
            ("detect_every_s", args.detect_every),
            ("detect_width", args.detect_width),
        )
        if value is not None
    }
    with exits_on_error(parser):
        if args.crowd:
            return crowd(FrameAnalyzer(args.model, **settings), args)
        if args.live_crowd:
            return live_crowd(FrameAnalyzer(args.model, **settings), args)
        if args.crowd_video:
            batch = FrameAnalyzer(args.model, **(settings | {"background_search": False}))
            return crowd_video(batch, args)
        if args.people:
            return people(args)

    with tempfile.TemporaryDirectory() as scratch:
        video = (
            Path(args.video)
            if args.video
            else write_demo_video(
                Path(scratch) / "bench.mp4", args.seconds, 30, args.faces, args.width, args.height
            )
        )
        with av.open(str(video)) as container:
            fps = float(container.streams.video[0].average_rate or 30)
        frames, decode_s = decode_frames(video, limit=args.max_frames)
    height, width = frames[0].shape[:2]
    print(f"{video.name}: {len(frames)} frames, {width}x{height}, {fps:.0f} fps")
    print(f"decode: {len(frames) / decode_s:.0f} frames/s")

    analyzer = FrameAnalyzer(args.model, **settings)
    ours = pipeline_speed(analyzer, frames, fps)
    stages = ", ".join(
        f"{k} {1000 * v / ours.frames:.1f} ms" for k, v in sorted(ours.stage_seconds.items())
    )
    print(
        f"fer_core: {ours.fps:.1f} frames/s, {ours.faces / ours.frames:.2f} faces/frame ({stages})"
    )
    if analyzer.detect_every_s or analyzer.classify_every_s:
        exact = FrameAnalyzer(
            analyzer.classifier,
            detector=analyzer.detector,
            detect_width=analyzer.detect_width,
            detect_every_s=0,
            classify_every_s=0,
            background_search=False,
        )
        baseline = pipeline_speed(exact, frames, fps)
        same = agreement(baseline.results, ours.results)
        print(
            f"same pipeline, every frame searched and classified: {baseline.fps:.1f} frames/s; "
            f"the faster settings keep {same.found:.1%} of its faces (box IoU "
            f"{same.mean_iou:.2f}) with the same label for {same.same_label:.1%}"
        )
    if not args.no_reference:
        ref = reference_speed(analyzer.classifier, frames)
        ref_stages = ", ".join(
            f"{k} {1000 * v / ref.frames:.1f} ms" for k, v in ref.stage_seconds.items()
        )
        print(
            f"reference (Haar + predict per face): {ref.fps:.1f} frames/s, "
            f"{ref.faces / ref.frames:.2f} faces/frame ({ref_stages})"
        )
        print(f"speed-up: {ours.fps / ref.fps:.1f}x")
    for batch in (1, 8, 64):
        rate = classification_speed(analyzer.classifier, batch)
        print(f"classify batch {batch:2d}: {rate:.0f} faces/s")
    small = classification_speed(analyzer.classifier, 64, face_px=16)
    print(f"classify batch 64, faces 16 px wide: {small:.0f} faces/s")
    return 0


def crowd(analyzer: FrameAnalyzer, args: argparse.Namespace) -> int:
    """Faces found per photo and in all, against the reference boxes."""
    from fer_core.benchmarking import crowd_recall

    scores = crowd_recall(analyzer, args.crowd, args.reference, args.crops_out, args.crowd_scale)
    print(
        f"{'photo':<28} {'size':>10} {'reference':>9} {'found':>6} {'matched':>7} "
        f"{'recall':>7} {'unmatched':>9} {'time':>7}"
    )
    for s in scores:
        m = s.match
        print(
            f"{s.name:<28} {s.width:>4}x{s.height:<5} {m.n_reference:>9} {m.n_found:>6} "
            f"{m.matched:>7} {m.recall:>7.1%} {len(m.unmatched_found):>9} {s.seconds:>6.2f}s"
        )
    reference = sum(s.match.n_reference for s in scores)
    found = sum(s.match.n_found for s in scores)
    matched = sum(s.match.matched for s in scores)
    unmatched = sum(len(s.match.unmatched_found) for s in scores)
    seconds = sum(s.seconds for s in scores)
    print(
        f"all {len(scores)} photos: {matched}/{reference} reference faces found "
        f"({matched / max(reference, 1):.1%}), {unmatched}/{found} boxes unmatched "
        f"({unmatched / max(found, 1):.1%}), {seconds / len(scores):.2f} s per photo"
    )
    if args.crops_out:
        print(f"unmatched boxes saved in {args.crops_out}")
    return 0


def live_crowd(analyzer: FrameAnalyzer, args: argparse.Namespace) -> int:
    """The live path on a crowd: frames/s, faces per frame and coverage."""
    import av

    from fer_core.benchmarking import decode_frames, live_crowd_speed
    from fer_core.synthetic import panning_crowd

    if args.video:
        frames, _ = decode_frames(args.video, limit=args.max_frames)
        with av.open(args.video) as container:
            fps = float(container.streams.video[0].average_rate or 30)
        timed = [(i / fps, frame) for i, frame in enumerate(frames)]
    else:
        seconds = min(args.seconds, args.max_frames / 30)
        timed = [(t, f) for t, f, _ in panning_crowd(seconds, 30, 1920, 1080, _crowd_size(args))]
    height, width = timed[0][1].shape[:2]
    speed = live_crowd_speed(analyzer, timed)
    print(f"{len(timed)} frames, {width}x{height}, {timed[-1][0]:.1f} s of footage")
    print(
        f"FrameAnalyzer.analyze: {speed.analyze_fps:.1f} frames/s, "
        f"{speed.faces / speed.frames:.0f} faces/frame, {speed.searches} full searches"
    )
    print(f"LiveMonitor.process (annotated, blur off): {speed.process_fps:.1f} frames/s")
    print(f"coverage: {speed.coverage:.1%} of the faces a full search finds")
    return 0


def crowd_video(analyzer: FrameAnalyzer, args: argparse.Namespace) -> int:
    """Batch analysis of a crowd video: speed against real time and where the time goes."""
    from fer_core.benchmarking import crowd_video_speed
    from fer_core.synthetic import write_crowd_video

    with tempfile.TemporaryDirectory() as scratch:
        video = args.video or write_crowd_video(
            Path(scratch) / "crowd.mp4", args.seconds, n_faces=_crowd_size(args)
        )
        speed = crowd_video_speed(analyzer, video, args.sample_fps)
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(speed.stage_seconds.items()))
    print(
        f"{speed.video_s:.1f} s of video at {args.sample_fps:g} samples/s: {speed.samples} "
        f"samples, {speed.faces / max(speed.samples, 1):.0f} faces each"
    )
    print(
        f"analysis {speed.processing_s:.1f} s, {speed.speed_x_realtime:.2f}x real time ({stages})"
    )
    return 0


def _crowd_size(args: argparse.Namespace) -> int:
    """Faces in a generated crowd: ``--faces``, or 200 when left at its one-face default."""
    return args.faces if args.faces > 1 else 200


def people(args: argparse.Namespace) -> int:
    """People counted against the truth on generated footage."""
    from fer_core.benchmarking import count_people

    with tempfile.TemporaryDirectory() as scratch:
        counts = count_people(scratch, seconds=args.seconds, chunks=args.chunks)
    print(f"{'footage':20} {'people':>6} {'samples/s':>9} {'chunks':>6} {'seen':>5} {'error':>7}")
    for count in counts:
        rate = "every" if count.sample_fps is None else f"{count.sample_fps:g}"
        print(
            f"{count.scenario:20} {count.people:6d} {rate:>9} {count.chunks:6d} "
            f"{count.faces_seen:5d} {count.error:+7.1%}"
        )
    return 0
