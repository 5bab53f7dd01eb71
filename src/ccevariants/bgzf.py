"""A BGZF writer that compresses on worker threads (zlib releases the GIL while deflating).

BGZF (SAM/BAM specification §4.1) is a series of gzip members of at most 64 KiB, each with a
``BC`` extra field that holds the member's size, followed by an empty end-of-file member; htslib,
tabix and every gzip reader read it. ``pysam.BGZFile`` and ``pysam.tabix_compress`` compress on
the calling thread; this writer hands each piece of text to a thread pool and writes the
compressed members in order, so compression overlaps with the producer's own work.

Members are deflated with ISA-L (the ``isal`` package, PSF-2.0; Intel's BSD-licensed igzip) at
level 1 by default: about ten times the speed of zlib's default level 6 for files about 15 % larger
— the right trade for the pipeline's intermediate VCFs, which are written once and read a few
times. Without ``isal``, zlib at the same level.

The compressed bytes are not always reproducible: ISA-L's fast levels do not clear their hash table,
so 3 of 7,480 members of a 487 MB annotate output came out differently in two identical runs (the
decompressed text was identical, and every member is valid). Compare or hash decompressed content.
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

#: Uncompressed bytes per BGZF member (htslib's BGZF_BLOCK_SIZE).
BLOCK = 0xFF00
#: The empty member that marks the end of a BGZF file.
EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_HEAD = struct.Struct("<4BI2BH2BHH")
_TAIL = struct.Struct("<II")


try:
    from isal import isal_zlib as _deflate
except ImportError:  # pragma: no cover - the dependency is declared; zlib still works
    _deflate = zlib

#: Default deflate level (ISA-L supports 0-3; zlib 0-9).
LEVEL = 1


def _member(data, level: int) -> bytes:
    """One BGZF member; ``data`` is at most :data:`BLOCK` bytes, so even incompressible data
    (deflate's stored blocks add 5 bytes per 64 KiB) fits the 16-bit member size."""
    body = _deflate.compress(data, level, wbits=-15)  # raw deflate; one call, GIL released
    head = _HEAD.pack(0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, 66, 67, 2, len(body) + 25)
    return head + body + _TAIL.pack(_deflate.crc32(data), len(data))  # (ISA-L's: ~4× zlib's)


def compress_piece(data, level: int = LEVEL) -> bytes:
    """BGZF members for ``data`` (no end-of-file member)."""
    return b"".join(_members(data, level))


def _members(data, level: int = LEVEL) -> list[bytes]:
    """BGZF members for ``data`` (bytes or a memoryview), one per :data:`BLOCK` bytes."""
    return [_member(data[i : i + BLOCK], level) for i in range(0, len(data), BLOCK)]


class BgzfWriter:
    """Write BGZF to ``path``; ``write`` takes bytes, ``close`` adds the end-of-file member.

    Pieces are buffered up to ``piece`` bytes (a multiple of :data:`BLOCK`) and compressed by
    ``threads`` worker threads; at most ``2 * threads`` pieces are in flight (bounded memory).
    Usable as a context manager; on an exception the file is closed without the EOF member.
    """

    def __init__(self, path, level: int = LEVEL, threads: int = 2, piece: int = 32 * BLOCK) -> None:
        self._fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.level = level
        self.piece = piece
        self._buf = bytearray()
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads)) if threads > 0 else None
        self._pending: deque = deque()
        self._limit = 2 * max(1, threads)
        #: compressed size of every member written so far (member k holds uncompressed bytes
        #: ``[k * BLOCK, (k + 1) * BLOCK)``: pieces are whole multiples of BLOCK)
        self.member_sizes: list[int] = []
        self.written = 0  # uncompressed bytes accepted so far

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        view = memoryview(data)
        whole = len(view) - len(view) % self.piece
        for i in range(0, whole, self.piece):  # slices of one buffer: no copies
            self._submit(view[i : i + self.piece])
        self._buf += view[whole:]

    def _submit(self, data) -> None:
        if self._pool is None:
            self._put(_members(data, self.level))
            return
        self._pending.append(self._pool.submit(_members, data, self.level))
        while len(self._pending) > self._limit:
            self._put(self._pending.popleft().result())

    def _put(self, members: list[bytes]) -> None:
        self.member_sizes.extend(len(m) for m in members)
        self._fh.write(b"".join(members))

    def close(self, complete: bool = True) -> None:
        try:
            if complete:
                if self._buf:
                    self._submit(bytes(self._buf))
                    self._buf.clear()
                while self._pending:
                    self._put(self._pending.popleft().result())
                self._fh.write(EOF)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._fh.close()

    def __enter__(self) -> BgzfWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(complete=exc_type is None)
