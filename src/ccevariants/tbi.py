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


class _Ref:
    """Index state of one reference sequence, in uncompressed offsets until written."""

    __slots__ = ("chunks", "linear", "first", "last", "n")

    def __init__(self) -> None:
        self.chunks: dict[int, list[list[int]]] = {}
        self.linear = np.zeros(0, np.int64)  # lowest start offset per 16 kb window (-1: none)
        self.first = -1
        self.last = -1
        self.n = 0


class TabixBuilder:
    """Builds the index of a coordinate-sorted VCF being written through
    :class:`ccevariants.bgzf.BgzfWriter` from ``(contig, 0-based start, end, uncompressed
    start/end offset)`` per record, batch by batch. Memory is that of the index itself (bins,
    chunks, windows), not of the records."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._refs: dict[str, _Ref] = {}

    def add(self, chrom: np.ndarray, beg: np.ndarray, end: np.ndarray, ustart: np.ndarray, uend: np.ndarray):
        """One batch of records in file order; ``chrom`` holds names (str objects)."""
        if not len(beg):
            return
        beg = np.asarray(beg, np.int64)
        end = np.maximum(np.asarray(end, np.int64), beg + 1)
        change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
        bounds = np.r_[0, change, len(chrom)]
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            name = chrom[a]
            ref = self._refs.get(name)
            if ref is None:
                ref = self._refs[name] = _Ref()
                self.names.append(name)
            self._add(ref, beg[a:b], end[a:b], ustart[a:b], uend[a:b])

    @staticmethod
    def _add(ref: _Ref, beg, end, us, ue) -> None:
        if ref.first < 0:
            ref.first = int(us[0])
        ref.last = int(ue[-1])
        ref.n += len(beg)
        bins = reg2bin(beg, end)
        brk = np.flatnonzero(bins[1:] != bins[:-1]) + 1
        r0 = np.r_[0, brk]
        r1 = np.r_[brk, len(bins)] - 1
        for bn, cb, ce in zip(bins[r0].tolist(), us[r0].tolist(), ue[r1].tolist(), strict=True):
            lst = ref.chunks.setdefault(bn, [])
            if lst and lst[-1][1] == cb:  # continues the previous chunk
                lst[-1][1] = ce
            else:
                lst.append([cb, ce])
        w0 = beg >> MIN_SHIFT
        w1 = (end - 1) >> MIN_SHIFT
        top = int(w1.max()) + 1
        if top > len(ref.linear):
            ref.linear = np.concatenate([ref.linear, np.full(top - len(ref.linear), -1, np.int64)])
        lin = np.where(ref.linear < 0, np.iinfo(np.int64).max, ref.linear)
        np.minimum.at(lin, w0, us)
        for i in np.flatnonzero(w1 > w0).tolist():  # records spanning several windows
            lin[w0[i] : w1[i] + 1] = np.minimum(lin[w0[i] : w1[i] + 1], us[i])
        ref.linear = np.where(lin == np.iinfo(np.int64).max, -1, lin)

    def write(self, path, member_sizes: list[int], member_lengths: list[int] | None = None) -> None:
        """Write the index for a file whose members have ``member_sizes`` (compressed bytes) and
        hold ``member_lengths`` uncompressed bytes each (default: :data:`~ccevariants.bgzf.BLOCK`
        each, the last one the rest — what :class:`ccevariants.bgzf.BgzfWriter` writes)."""
        sizes = np.asarray(member_sizes, np.int64)
        addr = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(sizes, out=addr[1:])
        if member_lengths is None:
            ustart = np.arange(len(sizes) + 1, dtype=np.int64) * BLOCK
        else:
            ustart = np.zeros(len(sizes) + 1, np.int64)
            np.cumsum(np.asarray(member_lengths, np.int64), out=ustart[1:])

        def voff(u):
            u = np.asarray(u, np.int64)
            # member holding byte u (an offset at a member's end points past it, as htslib's does)
            k = np.clip(np.searchsorted(ustart, u, side="right") - 1, 0, len(sizes))
            return (addr[k] << 16) | (u - ustart[k])

        names = b"".join(n.encode() + b"\0" for n in self.names)
        out = [b"TBI\1", struct.pack("<8i", len(self.names), 2, 1, 2, 0, ord("#"), 0, len(names)), names]
        for name in self.names:
            ref = self._refs[name]
            parts = [struct.pack("<i", len(ref.chunks) + 1)]
            bins = sorted(ref.chunks)
            counts = np.array([len(ref.chunks[bn]) for bn in bins], np.int64)
            v = voff(np.array([c for bn in bins for c in ref.chunks[bn]], np.int64).reshape(-1, 2))
            # chunks of a bin meeting in one BGZF member are merged, as htslib does: a chunk starts
            # a new one when its bin changes or it begins in another member than the last ended
            bin_of = np.repeat(np.arange(len(bins)), counts)
            new = np.ones(len(v), bool)
            new[1:] = (bin_of[1:] != bin_of[:-1]) | ((v[1:, 0] >> 16) != (v[:-1, 1] >> 16))
            first = np.flatnonzero(new)
            merged = np.stack([v[first, 0], np.maximum.reduceat(v[:, 1], first)], axis=1).astype("<u8")
            per_bin = np.bincount(bin_of[first], minlength=len(bins)).tolist()
            at = 0
            for bn, k in zip(bins, per_bin, strict=True):
                parts.append(struct.pack("<Ii", bn, k))
                parts.append(merged[at : at + k].tobytes())
                at += k
            parts.append(struct.pack("<Ii", META_BIN, 2))
            first, last = voff(np.array([ref.first, ref.last]))
            parts.append(struct.pack("<4Q", int(first), int(last), ref.n, 0))
            lin = ref.linear
            if (lin < 0).any():  # an empty window takes the next window's offset (valid lower bound)
                n = len(lin)
                idx = np.where(lin >= 0, np.arange(n), n)
                nxt = np.minimum.accumulate(idx[::-1])[::-1]
                lin = lin[np.minimum(nxt, n - 1)]
            parts.append(struct.pack("<i", len(lin)))
            parts.append(voff(lin).astype("<u8").tobytes())
            out.append(b"".join(parts))
        with open(path, "wb") as fh:
            fh.write(compress_piece(b"".join(out)) + EOF)
