"""Find the faces in images and print each one's emotion, with a shipped model.

fer-core predict [IMAGE ...] [--model NAME] [--crops]
With no IMAGE it runs on scikit-image's astronaut photo, so it works with no data at hand.
Exit code: 0 done, 1 an image could not be read, 2 a usage error (or no such model).
"""

from __future__ import annotations

import argparse

import numpy as np

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.catalog import DEFAULT_MODEL

    parser = command_parser(prog, __doc__)
    parser.add_argument("images", nargs="*", help="image files (default: a sample photo)")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model name, folder or .keras file (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--crops", action="store_true", help="images are face crops: skip detection"
    )
    quiet.add_option(parser)
    return parser


def _read(path: str) -> np.ndarray:
    import cv2

    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"error: cannot read image {path} (missing, corrupt or not an image)")
    return image


def _demo_image() -> tuple[str, np.ndarray]:
    import cv2
    from skimage.data import astronaut

    return "astronaut (scikit-image sample)", cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.analyzer import FrameAnalyzer

    with exits_on_error(parser):
        analyzer = FrameAnalyzer(args.model, smoothing_s=0, detect_width=None)
    classes = analyzer.classes
    inputs = [(path, _read(path)) for path in args.images] or [_demo_image()]
    for name, image in inputs:
        if args.crops:
            probs = analyzer.classifier.predict_proba([image])
            boxes = [(0, 0, image.shape[1], image.shape[0])]
        else:
            analyzer.reset()  # each photo is its own scene
            faces = [f for f in analyzer.analyze(image) if f.classified]
            probs, boxes = [f.probs for f in faces], [f.box for f in faces]
        if not len(boxes):
            print(f"{name}: no face found")
            continue
        for (x, y, w, h), row in zip(boxes, probs, strict=True):
            top = np.argsort(row)[::-1][:3]
            ranked = ", ".join(f"{classes[i]} {row[i]:.0%}" for i in top)
            print(f"{name}: face at x={x} y={y} w={w} h={h}: {ranked}")
    return 0
