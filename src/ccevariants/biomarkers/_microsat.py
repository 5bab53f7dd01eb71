"""Microsatellite scanner over reference sequence (Numba kernel with a plain-Python twin).

A microsatellite is a maximal tract of >= ``min_homopolymer`` copies of a 1-bp unit or >=
``min_repeat`` copies of a 2-``max_unit`` bp unit (MSIsensor's defaults: 5 and 3 copies, units up to
5 bp; Niu et al., Bioinformatics 2014;30:1015). Scanning is greedy left to right: at each position the
unit giving the longest whole-copy tract wins (the shortest unit on ties, so ``AAAAAA`` is a
homopolymer, not ``AA``×3); the scan resumes after the tract. ``N`` (and any non-ACGT) never belongs
to a tract.

Coordinates: **0-based half-open** ``[start, end)`` offsets into the scanned sequence.
"""

from __future__ import annotations

import numpy as np

MAX_UNIT = 5
MIN_HOMOPOLYMER = 5
MIN_REPEAT = 3

_LOOKUP = np.full(256, 4, dtype=np.uint8)
for _code, _base in enumerate("ACGT"):
    _LOOKUP[ord(_base)] = _code
    _LOOKUP[ord(_base.lower())] = _code


def encode(seq: str) -> np.ndarray:
    """ACGT → 0..3, anything else → 4 (uint8)."""
    return _LOOKUP[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]


def _scan_impl(codes, max_unit, min_homopolymer, min_repeat):
    n = codes.shape[0]
    shortest = min(min_homopolymer, 2 * min_repeat)  # the shortest possible tract
    cap = n // max(shortest, 1) + 1
    starts = np.empty(cap, dtype=np.int64)
    ends = np.empty(cap, dtype=np.int64)
    units = np.empty(cap, dtype=np.int64)
    found = 0
    i = 0
    while i < n:
        if codes[i] > 3:
            i += 1
            continue
        best_len = 0
        best_unit = 0
        for k in range(1, max_unit + 1):
            if i + k > n:
                break
            clean = True
            for t in range(k):
                if codes[i + t] > 3:
                    clean = False
                    break
            if not clean:
                break
            j = i + k
            while j < n and codes[j] == codes[j - k]:
                j += 1
            copies = (j - i) // k
            need = min_homopolymer if k == 1 else min_repeat
            if copies >= need and copies * k > best_len:
                best_len = copies * k
                best_unit = k
        if best_unit > 0:
            starts[found] = i
            ends[found] = i + best_len
            units[found] = best_unit
            found += 1
            i += best_len
        else:
            i += 1
    return starts[:found], ends[:found], units[:found]


#: the plain-Python twin (same source, not compiled)
scan_py = _scan_impl
_compiled = None


def scan(
    codes: np.ndarray,
    max_unit: int = MAX_UNIT,
    min_homopolymer: int = MIN_HOMOPOLYMER,
    min_repeat: int = MIN_REPEAT,
    use_jit: bool = True,
):
    """Microsatellites in encoded sequence ``codes``: ``(starts, ends, unit_lengths)``, 0-based half-open."""
    global _compiled
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if not use_jit:
        return scan_py(codes, max_unit, min_homopolymer, min_repeat)
    if _compiled is None:
        from .._numba import jit

        _compiled = jit(_scan_impl)
    return _compiled(codes, max_unit, min_homopolymer, min_repeat)


WINDOW = 1_000_000
OVERLAP = 10_000


def count_in_regions(
    fasta, regions, use_jit: bool = True, window: int = WINDOW, overlap: int = OVERLAP
) -> int:
    """Number of microsatellites found within the (0-based half-open) interval set ``regions``.

    Each interval is scanned on its own (a tract crossing an interval end is cut there), in windows
    of ``window`` bases read with ``overlap`` extra bases so that a tract crossing a window edge is
    counted once, whole (tracts longer than ``overlap`` past the edge are cut): memory stays bounded
    on whole-genome regions. ``fasta`` is an open :class:`pysam.FastaFile`; contig names are
    harmonised (``chr1``/``1``).
    """
    from ..contigs import harmonise

    names = set(fasta.references)
    total = 0
    for chrom, (starts, ends) in regions.items():
        contig = harmonise(chrom, names)
        if contig is None:
            continue
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            pos = s
            while pos < e:
                window_end = min(e, pos + window)
                ms_s, ms_e, _ = scan(
                    encode(fasta.fetch(contig, pos, min(e, window_end + overlap))), use_jit=use_jit
                )
                keep = ms_s + pos < window_end
                total += int(keep.sum())
                last_end = pos + int(ms_e[keep][-1]) if keep.any() else window_end
                pos = max(window_end, last_end)
    return total
