"""Train an emotion CNN: python scripts/train.py --data DIR [--arch vgg] [--out DIR] [--resume]."""

from __future__ import annotations

import argparse
import sys

from fer_core.errors import FerCoreError
from fer_core.models import RECIPES
from fer_core.training import TrainConfig, configure_logging, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
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
    parser.add_argument("--init-from", help="start from these weights (.keras or .weights.h5)")
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
        "--mixup",
        type=float,
        default=0.0,
        metavar="ALPHA",
        help="blend each face with another (mixup, Beta(ALPHA, ALPHA)); 0.2 is typical",
    )
    parser.add_argument("--cache-dir", help="where decoded datasets are cached")
    args = parser.parse_args(argv)

    configure_logging()
    try:
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
                learning_rate=args.learning_rate,
                weight_decay=args.weight_decay,
                warmup_epochs=args.warmup_epochs,
                mixed_precision=args.bfloat16,
                class_weight=args.class_weight,
                time_budget_s=args.time_budget * 60 if args.time_budget else None,
                teachers=args.teacher,
                teacher_weight=args.teacher_weight,
                mixup=args.mixup,
                resume=args.resume,
                cache_dir=args.cache_dir,
            )
        )
    except FerCoreError as error:
        parser.exit(2, f"error: {error}\n")
    print(f"saved {result.model_path} (best validation accuracy {result.best_val_accuracy:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
