"""The batch tool's progress bars: one over all the videos, and one per video being analyzed."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from fer_core.batch import Reporter


class ProgressBars(Reporter):
    """An overall bar over the videos, and one bar per video being analyzed."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.overall: tqdm | None = None
        self.bars: dict[str, tqdm] = {}

    def begin(self, total: int) -> None:
        self.overall = tqdm(total=total, unit="video", desc="videos", disable=not self.enabled)

    def video(self, name: str, fraction: float) -> None:
        if name not in self.bars:
            self.bars[name] = tqdm(
                total=100, desc=name[:30], unit="%", leave=False, disable=not self.enabled
            )
        bar = self.bars[name]
        bar.update(round(100 * fraction) - bar.n)

    def finished(self, row: dict[str, Any]) -> None:
        bar = self.bars.pop(row["name"], None) if row["name"] else None
        if bar is not None:
            bar.close()
        if row["status"] == "failed":
            reason = (
                row["reason"]
                if row["input"] in row["reason"]
                else f"{row['input']}: {row['reason']}"
            )
            tqdm.write(f"failed: {reason}", file=sys.stderr)
        if self.overall is not None:
            self.overall.update(1)

    def close(self) -> None:
        for bar in [*self.bars.values(), self.overall]:
            if bar is not None:
                bar.close()
