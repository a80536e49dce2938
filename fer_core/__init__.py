"""fer_core: facial-emotion recognition for audience mood analytics.

Heavy modules (TensorFlow / Keras) load on first use, so ``import fer_core.data`` or the
analytics stay light and a process can control what it imports first.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from fer_core.errors import FerCoreError
from fer_core.labels import CLASSES

if TYPE_CHECKING:
    from fer_core.analyzer import FrameAnalyzer
    from fer_core.classifier import EmotionClassifier
    from fer_core.data import FerDataset, load_dataset
    from fer_core.faces import Face
    from fer_core.preprocessing import preprocess

__all__ = [
    "CLASSES",
    "EmotionClassifier",
    "Face",
    "FerCoreError",
    "FerDataset",
    "FrameAnalyzer",
    "load_dataset",
    "preprocess",
]

_LAZY = {
    "Face": "fer_core.faces",
    "FrameAnalyzer": "fer_core.analyzer",
    "EmotionClassifier": "fer_core.classifier",
    "FerDataset": "fer_core.data",
    "load_dataset": "fer_core.data",
    "preprocess": "fer_core.preprocessing",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer_core' has no attribute {name!r}")
