"""Overlap of a batch of variants with transcripts on one contig (0-based half-open coordinates),
and the output rows the (variant, transcript) pairs make (``row_layout``).

Loaded compiled and as a pure-Python twin (see ``ccevariants.kernels``).
"""

import numpy as np

from ccevariants.kernels import decorator

jit = decorator(__name__)
helper = decorator(__name__, helper=True)  # per-variant functions that make no array


#: transcripts per block of :func:`block_max_end` (a block whose transcripts all end before a
#: variant is skipped whole)
BLOCK = 32


@jit
def block_max_end(t_end):
    """The largest end of each block of :data:`BLOCK` consecutive transcripts (in start order)."""
    m = t_end.shape[0]
    nb = (m + BLOCK - 1) // BLOCK
    out = np.empty(nb, dtype=np.int64)
    for q in range(nb):
        top = t_end[q * BLOCK]
        for j in range(q * BLOCK + 1, min(m, (q + 1) * BLOCK)):
            top = max(top, t_end[j])
        out[q] = top
    return out


@helper
def _first_candidate(t_start, bmax, j, qs, qe, flank):
    """From transcript ``j`` on, the first that may overlap ``[qs, qe)`` widened by ``flank``:
    whole blocks of transcripts that all end before ``qs`` are skipped (``t_start`` sorted, so the
    scan ends at the first transcript that starts at or after ``qe``; returns ``m`` then)."""
    m = t_start.shape[0]
    while j < m and j % BLOCK == 0 and bmax[j // BLOCK] + flank <= qs:
        if t_start[j] - flank >= qe:
            return m
        j += BLOCK
    return j


@jit
def count_overlaps(v_start, v_end, t_start, t_end, max_len, flank):
    """Per variant, the number of transcripts whose ``[start - flank, end + flank)`` overlaps it.

    ``v_start``/``v_end``: 0-based half-open variant spans (an insertion has ``start == end`` and
    overlaps an interval ``[a, b)`` when ``a < start < b``). ``t_start`` must be
    sorted ascending; ``max_len`` is the longest transcript span. The scan from the first
    transcript that could reach a variant skips blocks of transcripts that all end before it
    (one long transcript no longer makes every variant after it scan all of its neighbours).
    """
    n = v_start.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    m = t_start.shape[0]
    bmax = block_max_end(t_end)
    for i in range(n):
        vs = v_start[i]
        ve = v_end[i]
        if ve == vs:  # insertion between vs-1 and vs: treat as the 2-base footprint's interior
            qs = vs - 1
            qe = vs + 1
        else:
            qs = vs
            qe = ve
        j = np.searchsorted(t_start, qs - max_len - flank, side="left")
        c = 0
        while j < m:
            j = _first_candidate(t_start, bmax, j, qs, qe, flank)
            if j >= m:
                break
            a = t_start[j] - flank
            if a >= qe:
                break
            b = t_end[j] + flank
            if ve == vs:
                if a < vs and vs < b:
                    c += 1
            elif a < qe and qs < b:
                c += 1
            j += 1
        counts[i] = c
    return counts


@jit
def fill_overlaps(v_start, v_end, t_start, t_end, max_len, flank, offsets, out_t):
    """Write the overlapping transcript rows of variant ``i`` to ``out_t[offsets[i]:offsets[i+1]]``
    (the scan of :func:`count_overlaps`)."""
    n = v_start.shape[0]
    m = t_start.shape[0]
    bmax = block_max_end(t_end)
    for i in range(n):
        vs = v_start[i]
        ve = v_end[i]
        if ve == vs:
            qs = vs - 1
            qe = vs + 1
        else:
            qs = vs
            qe = ve
        j = np.searchsorted(t_start, qs - max_len - flank, side="left")
        k = offsets[i]
        while j < m:
            j = _first_candidate(t_start, bmax, j, qs, qe, flank)
            if j >= m:
                break
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
            j += 1


@jit
def row_layout(
    p_var, p_tx, p_flags, p_ints, p_irow, n, t_strand, t_coding, t_mane, t_canonical, t_rank, flank_bits
):
    """The output rows of ``n`` alleles from their (allele, transcript) pairs, which must be grouped
    by allele (``p_var`` non-decreasing): one row per pair, one row for an allele without any.

    Per row: ``row_var`` (allele), ``pair`` (index of its pair, -1 for none), ``t`` (transcript, -1),
    ``f`` (consequence flags, 0), ``flank`` (only ``flank_bits`` set: up/downstream only),
    ``strand`` (int8, 0 without transcript), ``key`` (``f * 2 + coding`` for pairs, -1 otherwise),
    ``cds_pos`` / ``prot_pos`` (columns 6 and 8 of the pair's ``p_ints`` row ``p_irow[j]`` when
    positive, else -1; no row: -1), ``mane``,
    ``canonical`` and ``pick``: per allele, the row of lowest rank — ``t_rank[t]``, plus
    ``len(t_rank) + 1`` for an up/downstream-only row, 0 for a row without transcript — the first
    such row on ties.
    """
    m = p_var.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for j in range(m):
        counts[p_var[j]] += 1
    nrows = 0
    for i in range(n):
        nrows += counts[i] if counts[i] > 0 else 1
    row_var = np.empty(nrows, dtype=np.int64)
    pair = np.full(nrows, -1, dtype=np.int64)
    t = np.full(nrows, -1, dtype=np.int64)
    f = np.zeros(nrows, dtype=np.int64)
    flank = np.zeros(nrows, dtype=np.bool_)
    strand = np.zeros(nrows, dtype=np.int8)
    key = np.full(nrows, -1, dtype=np.int64)
    cds_pos = np.full(nrows, -1, dtype=np.int64)
    prot_pos = np.full(nrows, -1, dtype=np.int64)
    mane = np.zeros(nrows, dtype=np.bool_)
    canonical = np.zeros(nrows, dtype=np.bool_)
    pick = np.zeros(nrows, dtype=np.bool_)
    far = t_rank.shape[0] + 1
    r = 0
    j = 0
    for i in range(n):
        if counts[i] == 0:
            row_var[r] = i
            pick[r] = True
            r += 1
            continue
        best = -1
        best_rank = 0
        for _ in range(counts[i]):
            tx = p_tx[j]
            fl = p_flags[j]
            row_var[r] = i
            pair[r] = j
            t[r] = tx
            f[r] = fl
            only_flank = fl != 0 and (fl & ~flank_bits) == 0
            flank[r] = only_flank
            strand[r] = t_strand[tx]
            key[r] = fl * 2 + t_coding[tx]
            q = p_irow[j]
            if q >= 0 and p_ints[q, 6] > 0:
                cds_pos[r] = p_ints[q, 6]
            if q >= 0 and p_ints[q, 8] > 0:
                prot_pos[r] = p_ints[q, 8]
            mane[r] = t_mane[tx]
            canonical[r] = t_canonical[tx]
            rk = t_rank[tx] + (far if only_flank else 0)
            if best < 0 or rk < best_rank:
                best = r
                best_rank = rk
            r += 1
            j += 1
        pick[best] = True
    return row_var, pair, t, f, flank, strand, key, cds_pos, prot_pos, mane, canonical, pick
