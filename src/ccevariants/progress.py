"""Progress reporting: a live line on a terminal, silence in logs.

Long steps call :func:`progress` with a total; when stderr is not a TTY (Snakemake log files,
CI) nothing is printed except the final summary the caller logs itself.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class Progress:
    def __init__(self, label: str, total: int | None = None, stream=None, min_interval: float = 0.2):
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.count = 0
        self._last = 0.0
        self.min_interval = min_interval

    def update(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self.min_interval:
            return
        self._last = now
        if self.total:
            pct = 100.0 * self.count / self.total
            self.stream.write(f"\r{self.label}: {self.count:,}/{self.total:,} ({pct:5.1f}%)")
        else:
            self.stream.write(f"\r{self.label}: {self.count:,}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write(f"\r{self.label}: {self.count:,} done\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    with Progress(label, total) as bar:
        for item in items:
            yield item
            bar.update()
