"""Train an emotion CNN from a dataset of face images.

fer-core train --data DIR [--arch vgg] [--out DIR] [--resume]

Fine-tuning a shipped network for small faces (room cameras): start from one member of an
ensemble, degrade half of the training faces to 12-32 px, and anneal at a low rate, e.g.

  fer-core train --data /path/to/fer2013 --arch vgg-m \\
      --init-from fast --init-member 0 --lowres 0.5 \\
      --epochs 15 --learning-rate 2e-4 --warmup-epochs 0 --out runs/fast-0-lowres

--arch must be the member's own (models/<name>/config.json lists each member's arch), and
--val-fraction / --split-seed its validation split (the defaults are the shipped models').
Fine-tune each member likewise, then join them (fer-core make-ensemble) and compare the
ensemble's accuracy by face size (fer-core evaluate) with the shipped one's.
"""

from __future__ import annotations

import argparse

from fer_core.cli import quiet
from fer_core.cli.options import command_parser, exits_on_error


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    from fer_core.lowres import TRAINING_SIZES
    from fer_core.models import RECIPES

    parser = command_parser(prog, __doc__)
    parser.add_argument("--data", required=True, help="dataset root (any supported layout)")
    parser.add_argument("--arch", default="vgg", choices=sorted(RECIPES))
    parser.add_argument("--epochs", type=int, help="default: the architecture's recipe")
    parser.add_argument("--batch-size", type=int, help="default: the architecture's recipe")
    parser.add_argument("--out", help="run folder (default: runs/<arch>)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1337, help="weights, shuffling, augmentation")
    parser.add_argument(
        "--split-seed", type=int, default=1337, help="the validation split (keep it fixed)"
    )
    parser.add_argument(
        "--patience",
        type=int,
        help="early-stopping patience; 0 disables (default: off for cosine schedules, else 20)",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        help="start from this trained network: a model name, folder, .keras or .weights.h5 file",
    )
    parser.add_argument(
        "--init-member",
        type=int,
        metavar="N",
        help="when --init-from is an ensemble, start from its network N (0, 1, ...)",
    )
    parser.add_argument("--learning-rate", type=float, help="peak learning rate (default: recipe)")
    parser.add_argument(
        "--weight-decay", type=float, help="AdamW decoupled weight decay (default: recipe)"
    )
    parser.add_argument("--warmup-epochs", type=int, help="warm-up epochs (default: recipe)")
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="MINUTES",
        help="plan the number of epochs (at most --epochs) and the cosine schedule to finish "
        "within this many minutes, measured from the start",
    )
    parser.add_argument(
        "--bfloat16",
        action=argparse.BooleanOptionalAction,
        help="compute in bfloat16, weights in float32 (default: the recipe's; about 1.5x "
        "faster on CPUs with AVX-512 BF16 and on accelerators)",
    )
    parser.add_argument("--class-weight", action="store_true", help="balance class weights")
    parser.add_argument(
        "--teacher",
        nargs="+",
        default=[],
        help="distil from these models' mean probabilities (names, folders or .keras files)",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=0.5,
        help="share of the teacher's probabilities in each target (default: 0.5)",
    )
    parser.add_argument(
        "--teacher-views",
        type=int,
        default=0,
        metavar="K",
        help="with --lowres: the teachers label K degraded copies of each face, and the student "
        "learns each degraded face from what the teacher reads in that same face (default: 0, "
        "the teachers label the raw faces once)",
    )
    parser.add_argument(
        "--mixup",
        type=float,
        default=0.0,
        metavar="ALPHA",
        help="blend each face with another (mixup, Beta(ALPHA, ALPHA)); 0.2 is typical",
    )
    parser.add_argument(
        "--lowres",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="degrade this share of the training faces (0-1) to a small face (--lowres-sizes) "
        "and back, as small faces in a room camera are; 0.5 is typical (default: 0, off)",
    )
    parser.add_argument(
        "--lowres-sizes",
        type=int,
        nargs="+",
        default=list(TRAINING_SIZES),
        metavar="PX",
        help="the face sizes a degraded face is drawn from, uniformly (repeat one to weight it; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--compress",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="JPEG-compress this share of the training faces (0-1) at a random quality, after "
        "--lowres, as a camera's codec does; 0.3 is typical (default: 0, off)",
    )
    parser.add_argument(
        "--val-face-size",
        type=int,
        metavar="PX",
        help="validate on faces shown at this size, to keep the epoch best on small faces "
        "(a small-face network's; default: the faces as they are)",
    )
    parser.add_argument("--cache-dir", help="where decoded datasets are cached")
    quiet.add_option(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from fer_core.training import TrainConfig, configure_logging, train

    configure_logging()
    with exits_on_error(parser):
        result = train(
            TrainConfig(
                data=args.data,
                out=args.out or f"runs/{args.arch}",
                arch=args.arch,
                epochs=args.epochs,
                batch_size=args.batch_size,
                val_fraction=args.val_fraction,
                seed=args.seed,
                split_seed=args.split_seed,
                patience=args.patience,
                init_from=args.init_from,
                init_member=args.init_member,
                learning_rate=args.learning_rate,
                weight_decay=args.weight_decay,
                warmup_epochs=args.warmup_epochs,
                mixed_precision=args.bfloat16,
                class_weight=args.class_weight,
                time_budget_s=args.time_budget * 60 if args.time_budget else None,
                teachers=args.teacher,
                teacher_weight=args.teacher_weight,
                teacher_views=args.teacher_views,
                mixup=args.mixup,
                lowres=args.lowres,
                lowres_sizes=tuple(args.lowres_sizes),
                compression=args.compress,
                val_face_size=args.val_face_size,
                resume=args.resume,
                cache_dir=args.cache_dir,
            )
        )
    print(f"saved {result.model_path} (best validation accuracy {result.best_val_accuracy:.4f})")
    return 0
