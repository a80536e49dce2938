"""Benchmark the face pipeline against a naive reference, side by side in one process.

python scripts/benchmark.py [VIDEO] [--faces N] [--width W --height H] [--seconds S]
           [--detector NAME] [--classify-every S] [--detect-every S] [--detect-width W]
With no VIDEO, footage is generated (moving astronaut faces). Run on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av

from fer_core.analyzer import FrameAnalyzer
from fer_core.benchmarking import (
    agreement,
    classification_speed,
    decode_frames,
    pipeline_speed,
    reference_speed,
)
from fer_core.detection import DETECTORS
from fer_core.synthetic import write_demo_video


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("video", nargs="?", help="video file (default: generated footage)")
    parser.add_argument("--faces", type=int, default=1, help="faces in generated footage")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--model", help="model name, folder or .keras file (default: fast)")
    parser.add_argument("--detector", default="haar", choices=sorted(DETECTORS))
    parser.add_argument("--classify-every", type=float, default=0.0)
    parser.add_argument(
        "--detect-every", type=float, default=0.0, help="full-frame detection interval (s)"
    )
    parser.add_argument("--detect-width", type=int, default=640)
    parser.add_argument("--max-frames", type=int, default=600, help="frames decoded into RAM")
    parser.add_argument("--no-reference", action="store_true", help="skip the naive reference")
    args = parser.parse_args(argv)

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

    analyzer = FrameAnalyzer(
        args.model,
        detector=args.detector,
        classify_every_s=args.classify_every,
        detect_every_s=args.detect_every,
        detect_width=args.detect_width,
    )
    ours = pipeline_speed(analyzer, frames, fps)
    stages = ", ".join(
        f"{k} {1000 * v / ours.frames:.1f} ms" for k, v in sorted(ours.stage_seconds.items())
    )
    print(
        f"fer_core: {ours.fps:.1f} frames/s, {ours.faces / ours.frames:.2f} faces/frame ({stages})"
    )
    if args.detect_every or args.classify_every:
        exact = FrameAnalyzer(
            analyzer.classifier, detector=args.detector, detect_width=args.detect_width
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
