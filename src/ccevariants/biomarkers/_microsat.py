"""Microsatellite scanner over reference sequence (Numba kernel with a plain-Python twin).

A microsatellite is a maximal tract of >= ``min_homopolymer`` copies of a 1-bp unit or >=
``min_repeat`` copies of a 2-``max_unit`` bp unit (MSIsensor's defaults: 5 and 3 copies, units up to
5 bp; Niu et al., Bioinformatics 2014;30:1015). Scanning is greedy left to right: at each position the
unit giving the longest whole-copy tract wins (the shortest unit on ties, so ``AAAAAA`` is a
homopolymer, not ``AA``×3); the scan resumes after the tract. ``N`` (and any non-ACGT) never belongs
to a tract.

Also here: :func:`select_sites`, the stricter MSI site set taken from that scan, and
:func:`span_lengths`, the Numba kernel (with its plain-Python twin) that measures the repeat length
each read shows at each site from its CIGAR — both used by BAM-based MSI (:mod:`.msi`).

Coordinates: **0-based half-open** ``[start, end)`` offsets into the scanned sequence (reference
offsets for :func:`span_lengths`).
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


# ---------------------------------------------------------------------------------------------
# MSI site selection (BAM-based scoring)
# ---------------------------------------------------------------------------------------------

#: Site set scored for MSI from reads (pipeline defaults, documented in docs/biomarkers.md):
#: homopolymers of >= 5 bp and 2–4 bp units of >= 5 whole copies, tract <= 50 bp (a 100–150 bp
#: read can span it with flanks), >= 5 bp from any other tract of the permissive scan above (so the
#: flanks are unique, non-repetitive sequence) and no ``N`` within the flanks.
SITE_MIN_HOMOPOLYMER = 5
SITE_MIN_UNITS = 5
SITE_MAX_UNIT = 4
SITE_MAX_LENGTH = 50
SITE_MIN_GAP = 5


def select_sites(
    codes: np.ndarray,
    min_homopolymer: int = SITE_MIN_HOMOPOLYMER,
    min_units: int = SITE_MIN_UNITS,
    max_unit: int = SITE_MAX_UNIT,
    max_length: int = SITE_MAX_LENGTH,
    min_gap: int = SITE_MIN_GAP,
    use_jit: bool = True,
):
    """MSI-scorable microsatellites of encoded sequence ``codes``: ``(starts, ends, units)``.

    Coordinates: **0-based half-open** offsets into ``codes``. The permissive MSIsensor scan
    (:func:`scan`, defaults) finds every tract; a tract is kept when it meets the stricter site
    thresholds above and its ``min_gap`` flanking bases on each side are inside the sequence, free of
    ``N`` and of other tracts. Vectorised NumPy filtering after the (Numba) scan.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    starts, ends, units = scan(codes, use_jit=use_jit)
    if starts.size == 0:
        return starts, ends, units
    length = ends - starts
    copies = length // units
    keep = ((units == 1) & (length >= min_homopolymer)) | (
        (units >= 2) & (units <= max_unit) & (copies >= min_units)
    )
    keep &= length <= max_length
    # distance to the neighbouring tracts of the permissive scan
    prev_end = np.concatenate(([np.iinfo(np.int64).min // 2], ends[:-1]))
    next_start = np.concatenate((starts[1:], [np.iinfo(np.int64).max // 2]))
    keep &= (starts - prev_end >= min_gap) & (next_start - ends >= min_gap)
    keep &= (starts - min_gap >= 0) & (ends + min_gap <= codes.size)
    # no N (code 4) in either flank: prefix sums of the N indicator
    bad = np.concatenate(([0], np.cumsum(codes > 3)))
    left = np.clip(starts - min_gap, 0, codes.size)
    right = np.clip(ends + min_gap, 0, codes.size)
    keep &= (bad[starts] - bad[left] == 0) & (bad[right] - bad[ends] == 0)
    return starts[keep], ends[keep], units[keep]


# ---------------------------------------------------------------------------------------------
# Read-level repeat lengths (Numba kernel with a plain-Python twin)
# ---------------------------------------------------------------------------------------------

#: BAM CIGAR operation codes (SAM spec): M I D N S H P = X
CIGAR_M, CIGAR_I, CIGAR_D, CIGAR_N, CIGAR_S, CIGAR_H, CIGAR_P, CIGAR_EQ, CIGAR_X = range(9)


def _span_lengths_impl(
    site_start, site_end, read_start, cig_off, cig_op, cig_len, qual_off, quals, flank, min_mean_bq
):
    n_reads = read_start.shape[0]
    n_sites = site_start.shape[0]
    read_end = np.empty(n_reads, dtype=np.int64)
    total = 0
    for r in range(n_reads):
        ref_len = 0
        for c in range(cig_off[r], cig_off[r + 1]):
            op = cig_op[c]
            if op == 0 or op == 2 or op == 3 or op == 7 or op == 8:
                ref_len += cig_len[c]
        read_end[r] = read_start[r] + ref_len
        j = np.searchsorted(site_start, read_start[r] + flank)
        while j < n_sites and site_start[j] < read_end[r]:
            if site_end[j] + flank <= read_end[r]:
                total += 1
            j += 1
    out_site = np.empty(total, dtype=np.int64)
    out_len = np.empty(total, dtype=np.int64)
    found = 0
    for r in range(n_reads):
        rs = read_start[r]
        re = read_end[r]
        j0 = np.searchsorted(site_start, rs + flank)
        if j0 >= n_sites or site_start[j0] >= re or site_end[j0] + flank > re:
            # a candidate must start at j0 (sites are sorted and disjoint, ends sorted too)
            continue
        # reference offset -> query position of the aligned (M/=/X) base, -1 when none
        refmap = np.full(re - rs, -1, dtype=np.int64)
        p = 0
        q = 0
        for c in range(cig_off[r], cig_off[r + 1]):
            op = cig_op[c]
            ln = cig_len[c]
            if op == 0 or op == 7 or op == 8:
                for t in range(ln):
                    refmap[p + t] = q + t
                p += ln
                q += ln
            elif op == 1 or op == 4:
                q += ln
            elif op == 2 or op == 3:
                p += ln
        j = j0
        while j < n_sites and site_start[j] < re:
            s = site_start[j]
            e = site_end[j]
            j += 1
            if e + flank > re:
                continue
            ok = True
            # both flanks aligned base-to-base, without indels inside a flank
            for x in range(s - flank - rs, s - rs):
                if refmap[x] < 0 or (x > s - flank - rs and refmap[x] != refmap[x - 1] + 1):
                    ok = False
                    break
            if ok:
                for x in range(e - rs, e + flank - rs):
                    if refmap[x] < 0 or (x > e - rs and refmap[x] != refmap[x - 1] + 1):
                        ok = False
                        break
            if not ok:
                continue
            q_left = refmap[s - 1 - rs]
            q_right = refmap[e - rs]
            if min_mean_bq > 0:
                a = refmap[s - flank - rs]
                b = refmap[e + flank - 1 - rs]
                acc = 0
                for x in range(qual_off[r] + a, qual_off[r] + b + 1):
                    acc += int(quals[x])
                if acc < min_mean_bq * (b - a + 1):
                    continue
            out_site[found] = j - 1
            out_len[found] = q_right - q_left - 1
            found += 1
    return out_site[:found], out_len[:found]


#: the plain-Python twin (same source, not compiled)
span_lengths_py = _span_lengths_impl
_span_compiled = None


def span_lengths(
    site_start,
    site_end,
    read_start,
    cig_off,
    cig_op,
    cig_len,
    qual_off,
    quals,
    flank: int = 3,
    min_mean_bq: int = 0,
    use_jit: bool = True,
):
    """Repeat length observed in each read that spans a site: ``(site_index, length)`` arrays.

    Coordinates: sites ``[site_start, site_end)`` and ``read_start`` (``reference_start``) are
    **0-based**, sites sorted by start and disjoint. Reads are given columnar: read ``r``'s CIGAR is
    ``cig_op/cig_len[cig_off[r]:cig_off[r+1]]`` (BAM op codes), its base qualities start at
    ``quals[qual_off[r]]`` (unused when ``min_mean_bq`` is 0).

    A read counts for a site when the ``flank`` reference bases on each side of the tract are each
    aligned to a read base (M/=/X, no indel inside a flank); its repeat length is the number of
    read bases between the last left-flank base and the first right-flank base — CIGAR insertions
    and deletions inside the tract (including at its edges) change it. With ``min_mean_bq`` > 0 the
    mean base quality over flanks + tract must reach it.
    """
    global _span_compiled
    args = (
        np.ascontiguousarray(site_start, dtype=np.int64),
        np.ascontiguousarray(site_end, dtype=np.int64),
        np.ascontiguousarray(read_start, dtype=np.int64),
        np.ascontiguousarray(cig_off, dtype=np.int64),
        np.ascontiguousarray(cig_op, dtype=np.uint8),
        np.ascontiguousarray(cig_len, dtype=np.int64),
        np.ascontiguousarray(qual_off, dtype=np.int64),
        np.ascontiguousarray(quals, dtype=np.uint8),
        int(flank),
        int(min_mean_bq),
    )
    if not use_jit:
        return span_lengths_py(*args)
    if _span_compiled is None:
        from .._numba import jit

        _span_compiled = jit(_span_lengths_impl)
    return _span_compiled(*args)
