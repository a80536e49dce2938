"""Where the files that ship with the code live: in a clone, or inside an installed wheel.

A clone keeps ``models/``, ``dashboard/`` and ``.streamlit/`` at the repository's root, where
the model cards, docs and tests refer to them. A wheel cannot install folders beside the
package, so it carries the same folders inside it, as ``fer_core/_shipped/<name>`` (see
``[tool.setuptools]`` in pyproject.toml); either way they are found from this file, whatever
the working directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """The shipped folder ``name`` (``models``, ``dashboard``, ``.streamlit``): the installed
    wheel's copy when there is one, else the clone's."""
    installed = _PACKAGE / "_shipped" / name.lstrip(".")
    return installed if installed.is_dir() else _PACKAGE.parent / name
