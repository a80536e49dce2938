"""Score a saved model on a dataset split: metrics.json, a PNG and an HTML report.

fer-core evaluate --model runs/vgg-small --data DIR [--tta flip tencrop]

Beside the full-size figure it reports accuracy by face size: the faces shrunk to 12, 16, 24
and 32 px and scaled back up to 48, as a small face in a room camera reaches the classifier
(metrics.json's "by_face_size"; --face-sizes chooses the sizes, --no-face-sizes skips them),
and the same sizes as a room camera's video delivers them: through a 1080p H.264 stream at
ffmpeg's default quality ("by_face_size_h264"; --h264-crf sets the quality, --no-h264 skips).
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def face_size_table(report: dict) -> str:
    """``accuracy_by_face_size``'s figures as a small text table, one row per size."""
    title = "by face size (shrunk to N px and scaled back to 48)"
    if "h264_crf" in report:
        title += f", through 1080p H.264 at CRF {report['h264_crf']}"
    lines = [f"{title}:", "  face   accuracy  macro F1"]
    for size in report["sizes_px"]:
        key = str(size)
        lines.append(
            f"  {size:>2} px    {report['accuracy'][key]:.4f}    {report['macro_f1'][key]:.4f}"
        )
    return "\n".join(lines)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.codec import DEFAULT_CRF
    from fer_core.lowres import FACE_SIZES

    parser = command_parser(prog, __doc__)
    parser.add_argument(
        "--model", help="model name, folder or .keras file (default: shipped model)"
    )
    parser.add_argument("--data", required=True, help="dataset root (any supported layout)")
    parser.add_argument(
        "--split",
        default="test",
        help="which split to score (default: test; "
        "'val': the validation part of train/ the model was trained without)",
    )
    parser.add_argument(
        "--tta",
        nargs="*",
        default=[],
        choices=["flip", "tencrop"],
        help="also report these test-time augmentations beside the plain figure",
    )
    parser.add_argument(
        "--face-sizes",
        nargs="*",
        type=int,
        default=list(FACE_SIZES),
        metavar="PX",
        help="also score the faces shrunk to these sizes and scaled back to 48 px "
        f"(default: {' '.join(map(str, FACE_SIZES))}; no values: skip)",
    )
    parser.add_argument(
        "--no-face-sizes",
        dest="face_sizes",
        action="store_const",
        const=[],
        help="skip the accuracy by face size",
    )
    parser.add_argument(
        "--h264-crf",
        type=int,
        default=DEFAULT_CRF,
        metavar="CRF",
        help="also score the face sizes through a 1080p H.264 stream at this CRF (0-51, lower "
        "is better; default: %(default)s, ffmpeg's)",
    )
    parser.add_argument(
        "--no-h264",
        dest="h264_crf",
        action="store_const",
        const=None,
        help="skip the face sizes through H.264",
    )
    parser.add_argument("--out", help="report folder (default: the model's folder)")
    parser.add_argument("--cache-dir", help="where decoded datasets are cached")
    parser.add_argument(
        "--offline-html",
        action="store_true",
        help="embed plotly.js in the HTML report instead of loading it from a CDN",
    )
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.evaluation import evaluate_saved_model

    with exits_on_error(parser):
        metrics, paths = evaluate_saved_model(
            args.model,
            args.data,
            args.split,
            args.tta,
            args.out,
            args.cache_dir,
            args.offline_html,
            face_sizes=args.face_sizes,
            h264_crf=args.h264_crf,
        )
    default = f" (the model's {metrics['default_tta']} TTA)" if metrics["default_tta"] else ""
    print(
        f"accuracy {metrics['accuracy']:.4f}  macro F1 {metrics['macro_f1']:.4f}  "
        f"on {metrics['n_images']} images{default}, {metrics['faces_per_second']:.0f} faces/s"
    )
    for mode, scores in metrics["tta"].items():
        view = "single view" if mode == "none" else f"with {mode} TTA"
        print(f"  {view}: accuracy {scores['accuracy']:.4f}  macro F1 {scores['macro_f1']:.4f}")
    for key in ("by_face_size", "by_face_size_h264"):
        if key in metrics:
            print(face_size_table(metrics[key]))
    for path in paths.values():
        print(f"wrote {path}")
    return 0
