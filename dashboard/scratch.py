"""Private temporary folders that live as long as the browser session holding them."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path


class ScratchFolder:
    """A private folder for one result's files (an annotated video), so they wait on disk
    rather than in the server's memory. ``remove`` removes it (a newer result replaces this
    one); failing that, it goes when this object is collected (with its ``session_state``, once
    the browser session ends) or when the server exits.
    """

    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._remove = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def remove(self) -> None:
        """Remove the folder now."""
        self._remove()
