"""The emotion vocabulary shared by data loading, training and inference."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fer_core.errors import UnknownEmotionError

if TYPE_CHECKING:
    from sklearn.preprocessing import LabelEncoder

#: Canonical class order: the column order of every probability array.
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

#: Spellings found in public copies of FER-style datasets, mapped to canonical names.
_ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "calm": "neutral",
}


def canonical_emotion(name: str, where: object = None) -> str:
    """Return the canonical emotion for a folder or label name, or raise naming ``where``."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CLASSES:
        location = f" at {where}" if where is not None else ""
        raise UnknownEmotionError(
            f"unknown emotion {name!r}{location}; expected one of {', '.join(CLASSES)}"
        )
    return key


def label_encoder(classes: tuple[str, ...] = CLASSES) -> LabelEncoder:
    """A fitted ``LabelEncoder``; the canonical order is alphabetical, so codes follow it."""
    from sklearn.preprocessing import LabelEncoder  # here: ``import fer_core`` stays light

    return LabelEncoder().fit(list(classes))
