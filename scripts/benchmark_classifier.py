"""Measure EmotionClassifier.predict_proba throughput (faces/s) at several batch sizes.

python scripts/benchmark_classifier.py [--model NAME] [--batch-sizes 1 8 64 1000] [--tta flip]
Run it on an idle machine: a training run in the background halves the figures.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fer_core.classifier import EmotionClassifier


def faces_per_second(
    classifier: EmotionClassifier, batch: int, seconds: float = 3.0, tta: str | None = None
) -> float:
    faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    classifier.predict_proba(faces, tta=tta)  # warm-up: traces the compiled function
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        classifier.predict_proba(faces, tta=tta)
        done += batch
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model name, folder or .keras file")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64, 1000])
    parser.add_argument("--tta", choices=["flip", "tencrop"])
    args = parser.parse_args(argv)
    classifier = EmotionClassifier.load(args.model)
    for batch in args.batch_sizes:
        rate = faces_per_second(classifier, batch, tta=args.tta)
        print(f"batch {batch:5d}: {rate:8.0f} faces/s  ({1000 * batch / rate:7.2f} ms per call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
