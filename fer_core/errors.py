"""Exception types: one per kind of failure, each message names the path and the fix."""

from __future__ import annotations


class FerCoreError(Exception):
    """Base class for every error raised by fer_core."""


class DatasetError(FerCoreError, ValueError):
    """A dataset folder or file cannot be used as it is."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset root, or a split inside it, does not exist."""


class UnknownLayoutError(DatasetError):
    """The root exists but matches none of the supported dataset layouts."""


class EmptySplitError(DatasetError):
    """A split holds no readable images."""


class UnknownEmotionError(DatasetError):
    """A class folder or label is not one of the canonical emotions."""


class ClassMismatchError(DatasetError):
    """The training and test splits do not hold the same classes."""


class ModelNotFoundError(FerCoreError, FileNotFoundError):
    """A model name or path does not point to a saved model."""


class InvalidInputError(FerCoreError, ValueError):
    """Images passed to preprocessing or inference have an unusable shape or type."""
