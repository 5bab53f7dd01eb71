"""Genomic interval sets for the biomarker stage: BED reading, merging, intersection, membership.

Coordinates: **0-based half-open** throughout this module (BED convention). An interval set is a
``dict[str, (starts, ends)]`` of sorted, non-overlapping ``int64`` NumPy arrays per contig.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ..contigs import harmonise
from ..errors import InputError

IntervalSet = dict[str, tuple[np.ndarray, np.ndarray]]


def merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge overlapping or abutting 0-based half-open intervals; returns sorted disjoint arrays."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if starts.size == 0:
        return starts.copy(), ends.copy()
    order = np.lexsort((ends, starts))
    s = starts[order]
    e = ends[order]
    running_end = np.maximum.accumulate(e)
    # A new block starts where the interval begins after everything before it has ended.
    new_block = np.empty(s.size, dtype=bool)
    new_block[0] = True
    new_block[1:] = s[1:] > running_end[:-1]
    block_id = np.cumsum(new_block) - 1
    out_s = s[new_block]
    out_e = np.zeros(out_s.size, dtype=np.int64)
    np.maximum.at(out_e, block_id, e)
    return out_s, out_e


def from_arrays(chroms: Iterable[str], starts: Iterable[int], ends: Iterable[int]) -> IntervalSet:
    """Build a merged interval set from parallel arrays (0-based half-open)."""
    chroms = np.asarray(list(chroms) if not isinstance(chroms, np.ndarray) else chroms, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    out: IntervalSet = {}
    for chrom in np.unique(chroms) if chroms.size else []:
        mask = chroms == chrom
        out[str(chrom)] = merge(starts[mask], ends[mask])
    return out


def total_length(intervals: IntervalSet) -> int:
    """Total number of bases covered."""
    return int(sum(int((e - s).sum()) for s, e in intervals.values()))


def intersect(a: IntervalSet, b: IntervalSet) -> IntervalSet:
    """Intersection of two merged interval sets (contig names must already agree)."""
    out: IntervalSet = {}
    for chrom, (a_s, a_e) in a.items():
        if chrom not in b:
            continue
        b_s, b_e = b[chrom]
        if a_s.size == 0 or b_s.size == 0:
            continue
        # For each interval of a, the range of b intervals that may overlap it.
        lo = np.searchsorted(b_e, a_s, side="right")
        hi = np.searchsorted(b_s, a_e, side="left")
        counts = np.maximum(hi - lo, 0)
        if counts.sum() == 0:
            continue
        a_idx = np.repeat(np.arange(a_s.size), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        b_idx = np.repeat(lo, counts) + offsets
        s = np.maximum(a_s[a_idx], b_s[b_idx])
        e = np.minimum(a_e[a_idx], b_e[b_idx])
        keep = e > s
        if keep.any():
            out[chrom] = merge(s[keep], e[keep])
    return out


def contains(intervals: IntervalSet, chroms: np.ndarray, pos0: np.ndarray) -> np.ndarray:
    """Boolean mask: is 0-based position ``pos0[i]`` on ``chroms[i]`` inside the set?"""
    pos0 = np.asarray(pos0, dtype=np.int64)
    return overlaps_any(intervals, chroms, pos0, pos0 + 1)


def overlaps_any(
    intervals: IntervalSet, chroms: np.ndarray, start0: np.ndarray, end0: np.ndarray
) -> np.ndarray:
    """Boolean mask: does the half-open interval ``[start0[i], end0[i])`` overlap the set?"""
    chroms = np.asarray(chroms, dtype=object)
    start0 = np.asarray(start0, dtype=np.int64)
    end0 = np.asarray(end0, dtype=np.int64)
    out = np.zeros(start0.size, dtype=bool)
    for chrom in np.unique(chroms) if chroms.size else []:
        mask = chroms == chrom
        key = harmonise(str(chrom), intervals)
        if key is None:
            continue
        s, e = intervals[key]
        if s.size == 0:
            continue
        # first interval whose end is beyond the query start; overlap if it begins before the query end
        idx = np.searchsorted(e, start0[mask], side="right")
        ok = idx < s.size
        hit = np.zeros(idx.size, dtype=bool)
        hit[ok] = s[idx[ok]] < end0[mask][ok]
        out[mask] = hit
    return out


def read_bed(path, reference_contigs: Mapping[str, int] | None = None) -> IntervalSet:
    """Read a BED file (0-based half-open) into a merged interval set.

    ``track``/``browser``/``#`` lines are skipped. With ``reference_contigs`` (name → length), contig
    names are harmonised to the reference's spelling (``chr1``/``1``) and a contig the reference does
    not have, or an interval beyond the contig's end, is an :class:`InputError`. An empty BED (no
    intervals) is an error: it would make every callable-territory figure zero.
    """
    from .._io import open_text

    chroms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    try:
        handle = open_text(path)
    except FileNotFoundError:
        raise InputError("expected an existing BED file; found none", path=path) from None
    with handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 3:
                fields = line.split()
            if len(fields) < 3:
                raise InputError(
                    f"expected a BED line 'chrom<TAB>start<TAB>end'; found {line.strip()[:60]!r}",
                    path=path,
                    line=lineno,
                )
            chrom = fields[0]
            try:
                start = int(fields[1])
                end = int(fields[2])
            except ValueError:
                raise InputError(
                    f"expected integer BED start and end; found {fields[1]!r} and {fields[2]!r}",
                    path=path,
                    line=lineno,
                ) from None
            if start < 0 or end <= start:
                raise InputError(
                    f"expected 0 <= start < end (BED, 0-based half-open); found start={start}, end={end}",
                    path=path,
                    line=lineno,
                )
            if reference_contigs is not None:
                ref_name = harmonise(chrom, reference_contigs)
                if ref_name is None:
                    shown = ", ".join(list(reference_contigs)[:5])
                    raise InputError(
                        f"expected a contig of the reference ({shown}, …); found {chrom!r}",
                        path=path,
                        line=lineno,
                    )
                if end > reference_contigs[ref_name]:
                    raise InputError(
                        f"expected end <= {reference_contigs[ref_name]} (length of {ref_name}); found {end}",
                        path=path,
                        line=lineno,
                    )
                chrom = ref_name
            chroms.append(chrom)
            starts.append(start)
            ends.append(end)
    if not chroms:
        raise InputError("expected at least one BED interval; found an empty BED file", path=path)
    return from_arrays(chroms, starts, ends)
