"""Overlap of a batch of variants with transcripts on one contig (0-based half-open coordinates).

Loaded compiled and as a pure-Python twin (see ``ccevariants.kernels``).
"""

import numpy as np

from ccevariants.kernels import decorator

jit = decorator(__name__)


@jit
def count_overlaps(v_start, v_end, t_start, t_end, max_len, flank):
    """Per variant, the number of transcripts whose ``[start - flank, end + flank)`` overlaps it.

    ``v_start``/``v_end``: 0-based half-open variant spans (an insertion has ``start == end`` and
    overlaps an interval ``[a, b)`` when ``a < start < b``). ``t_start`` must be
    sorted ascending; ``max_len`` is the longest transcript span.
    """
    n = v_start.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    m = t_start.shape[0]
    for i in range(n):
        vs = v_start[i]
        ve = v_end[i]
        if ve == vs:  # insertion between vs-1 and vs: treat as the 2-base footprint's interior
            qs = vs - 1
            qe = vs + 1
        else:
            qs = vs
            qe = ve
        lo = np.searchsorted(t_start, qs - max_len - flank, side="left")
        c = 0
        for j in range(lo, m):
            a = t_start[j] - flank
            if a >= qe:
                break
            b = t_end[j] + flank
            if ve == vs:
                if a < vs and vs < b:
                    c += 1
            elif a < qe and qs < b:
                c += 1
        counts[i] = c
    return counts


@jit
def fill_overlaps(v_start, v_end, t_start, t_end, max_len, flank, offsets, out_t):
    """Write the overlapping transcript rows of variant ``i`` to ``out_t[offsets[i]:offsets[i+1]]``."""
    n = v_start.shape[0]
    m = t_start.shape[0]
    for i in range(n):
        vs = v_start[i]
        ve = v_end[i]
        if ve == vs:
            qs = vs - 1
            qe = vs + 1
        else:
            qs = vs
            qe = ve
        lo = np.searchsorted(t_start, qs - max_len - flank, side="left")
        k = offsets[i]
        for j in range(lo, m):
            a = t_start[j] - flank
            if a >= qe:
                break
            b = t_end[j] + flank
            if ve == vs:
                if a < vs and vs < b:
                    out_t[k] = j
                    k += 1
            elif a < qe and qs < b:
                out_t[k] = j
                k += 1
