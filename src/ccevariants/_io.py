"""Small I/O helpers shared by all stages.

All outputs are written atomically: to a temporary file in the destination directory, renamed into
place only when the writer finished without error, so an interrupted or failed job never leaves a
truncated file that looks complete.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success, delete on error.

    ``suffix`` defaults to the full suffix of ``path`` (e.g. ``.vcf.gz``) so that tools which infer
    the format from the file name (htslib) behave the same on the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
    except BaseException:
        for leftover in tmp_path.parent.glob(tmp_path.name + "*"):
            leftover.unlink(missing_ok=True)
        raise
    if tmp_path.exists():
        # mkstemp creates 0600; give the result the permissions a plain open() would (0666 & ~umask).
        os.chmod(tmp_path, 0o666 & ~_umask())
    os.replace(tmp_path, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """Open a file for writing that appears at ``path`` only when the block completes."""
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def write_json(path: str | os.PathLike, document: Any) -> None:
    """Write JSON deterministically (sorted keys, fixed indentation, trailing newline), atomically."""
    with atomic_write(path) as handle:
        json.dump(document, handle, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    from .errors import InputError

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise InputError("expected an existing JSON file; found none", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"expected valid JSON; found {exc.msg}", path=path, line=exc.lineno) from None


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a plain or gzip/bgzip-compressed text file for reading."""
    path = Path(path)
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(document: Any) -> str:
    """Content hash of a JSON-serialisable document (canonical form: sorted keys, no whitespace)."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Background:
    """Calls ``fn(item)`` for each :meth:`put` item on a thread, in order, so that a slow sink
    (a pipe another process reads, Parquet encoding — both release the GIL) overlaps with the
    caller's next piece of work. At most ``depth`` items wait. The first exception ``fn`` raises
    is re-raised by the next :meth:`put` or by :meth:`finish`; later items are then dropped.
    :meth:`finish` waits for every item; :meth:`close` (always call it) also swallows the error."""

    def __init__(self, fn, depth: int = 2) -> None:
        import queue
        import threading

        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self._fn(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self.error = exc

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put(item)

    def finish(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        try:
            self.finish()
        except BaseException:  # noqa: BLE001, S110 - the caller is already failing
            pass
