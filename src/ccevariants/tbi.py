"""A tabix (``.tbi``) index built while a VCF is written, so no second pass reads the file back.

Format: the tabix file format (Li 2011, *Bioinformatics* 27:718; htslib's ``tbx.c``): per reference
sequence a binning index (UCSC/SAM scheme, 16 kb leaves, 5 levels) of chunks of virtual file
offsets, plus a linear index of the lowest offset per 16 kb window, BGZF-compressed. The interval
of a VCF record is ``[POS - 1, END)`` 0-based, END being ``INFO/END`` when present and not before
POS, else ``POS + len(REF) - 1`` — tabix's VCF rule. Chunks of consecutive records in one bin are
merged when they meet in the same BGZF block, as htslib does; the pseudo-bin 37450 carries the
first/last offsets and the record count. Readers (htslib, pysam, bcftools -r) need nothing more.
"""

from __future__ import annotations

import struct

import numpy as np

from .bgzf import BLOCK, EOF, compress_piece

MIN_SHIFT = 14
META_BIN = 37450


def reg2bin(beg: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Bin of each 0-based half-open interval (the SAM specification's ``reg2bin``)."""
    end = end - 1
    out = np.zeros(len(beg), np.int64)
    done = np.zeros(len(beg), bool)
    for shift, offset in ((14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)):
        hit = ~done & ((beg >> shift) == (end >> shift))
        out[hit] = offset + (beg[hit] >> shift)
        done |= hit
    return out


class TabixBuilder:
    """Collects ``(contig, 0-based start, end, uncompressed start/end offset)`` per record of a
    coordinate-sorted VCF being written through :class:`ccevariants.bgzf.BgzfWriter`."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._tid: dict[str, int] = {}
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, chrom: np.ndarray, beg: np.ndarray, end: np.ndarray, ustart: np.ndarray, uend: np.ndarray):
        """One batch of records in file order; ``chrom`` holds names (str objects)."""
        if not len(beg):
            return
        change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
        run_starts = np.r_[0, change]
        codes = []
        for name in chrom[run_starts].tolist():
            if name not in self._tid:
                self._tid[name] = len(self.names)
                self.names.append(name)
            codes.append(self._tid[name])
        tid = np.repeat(np.array(codes, np.int64), np.diff(np.r_[run_starts, len(chrom)]))
        self._parts.append(
            (tid, beg.astype(np.int64), np.maximum(end, beg + 1).astype(np.int64), ustart, uend)
        )

    def write(self, path, member_sizes: list[int]) -> None:
        """Write the index for a file whose members have ``member_sizes`` (compressed bytes) and
        each hold :data:`~ccevariants.bgzf.BLOCK` uncompressed bytes (the last may hold fewer)."""
        addr = np.zeros(len(member_sizes) + 2, np.int64)
        np.cumsum(np.asarray(member_sizes, np.int64), out=addr[1 : len(member_sizes) + 1])
        addr[-1] = addr[-2]  # an offset at the very end points past the last member

        def voff(u: np.ndarray) -> np.ndarray:
            k = u // BLOCK
            return (addr[np.minimum(k, len(addr) - 1)] << 16) | (u - k * BLOCK)

        if self._parts:
            tid, beg, end, us, ue = (np.concatenate(x) for x in zip(*self._parts, strict=True))
        else:
            tid = beg = end = us = ue = np.zeros(0, np.int64)
        vs, ve = voff(us), voff(ue)
        out = [b"TBI\1", struct.pack("<8i", len(self.names), 2, 1, 2, 0, ord("#"), 0, 0)]
        names = b"".join(n.encode() + b"\0" for n in self.names)
        out[1] = out[1][:-4] + struct.pack("<i", len(names))
        out.append(names)
        bounds = np.searchsorted(tid, np.arange(len(self.names) + 1))
        for t in range(len(self.names)):
            a, b = int(bounds[t]), int(bounds[t + 1])
            out.append(self._reference(beg[a:b], end[a:b], vs[a:b], ve[a:b]))
        data = b"".join(out)
        with open(path, "wb") as fh:
            fh.write(compress_piece(data) + EOF)

    @staticmethod
    def _reference(beg, end, vs, ve) -> bytes:
        bins = reg2bin(beg, end)
        # chunks: runs of consecutive records in one bin
        brk = np.flatnonzero(bins[1:] != bins[:-1]) + 1
        r0 = np.r_[0, brk]
        r1 = np.r_[brk, len(bins)] - 1
        chunks: dict[int, list[list[int]]] = {}
        for bn, cb, ce in zip(bins[r0].tolist(), vs[r0].tolist(), ve[r1].tolist(), strict=True):
            lst = chunks.setdefault(bn, [])
            if lst and lst[-1][1] >> 16 == cb >> 16:  # meets the previous chunk in one block
                lst[-1][1] = max(lst[-1][1], ce)
            else:
                lst.append([cb, ce])
        parts = [struct.pack("<i", len(chunks) + 1)]
        for bn in sorted(chunks):
            lst = chunks[bn]
            parts.append(struct.pack("<Ii", bn, len(lst)))
            parts.append(np.array(lst, dtype="<u8").tobytes())
        parts.append(struct.pack("<Ii", META_BIN, 2))
        parts.append(struct.pack("<4Q", int(vs[0]), int(ve[-1]), len(beg), 0))
        # linear index: lowest start offset among records overlapping each 16 kb window
        w0 = beg >> MIN_SHIFT
        w1 = (end - 1) >> MIN_SHIFT
        n_intv = int(w1.max()) + 1
        lin = np.full(n_intv, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(lin, w0, vs)
        for i in np.flatnonzero(w1 > w0).tolist():  # records spanning several windows
            lin[w0[i] : w1[i] + 1] = np.minimum(lin[w0[i] : w1[i] + 1], vs[i])
        unset = lin == np.iinfo(np.int64).max
        if unset.any():  # an empty window takes the next window's offset (valid lower bound)
            idx = np.where(~unset, np.arange(n_intv), n_intv)
            nxt = np.minimum.accumulate(idx[::-1])[::-1]
            lin = lin[np.minimum(nxt, n_intv - 1)]
        parts.append(struct.pack("<i", n_intv))
        parts.append(lin.astype("<u8").tobytes())
        return b"".join(parts)
