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
def _scan(vs, ve, t_start, t_end, bmax, j, flank, out_t, k, write):
    """The transcripts from ``j`` on whose ``[start - flank, end + flank)`` overlaps the variant
    ``[vs, ve)`` (an insertion when ``vs == ve``: it overlaps ``[a, b)`` when ``a < vs < b``), written
    to ``out_t[k:]`` when ``write``; returns ``k`` plus their number. Blocks of transcripts that all
    end before the variant are skipped whole; the scan ends at the first transcript starting at or
    after its end (``t_start`` sorted)."""
    ins = vs == ve
    qs = vs - 1 if ins else vs  # an insertion: the 2-base footprint around it
    qe = vs + 1 if ins else ve
    m = t_start.shape[0]
    while j < m:
        a = t_start[j] - flank
        if a >= qe:
            break
        if j % BLOCK == 0 and bmax[j // BLOCK] + flank <= qs:
            j += BLOCK
            continue
        b = t_end[j] + flank
        if (a < vs and vs < b) if ins else (a < qe and qs < b):
            if write:
                out_t[k] = j
            k += 1
        j += 1
    return k


@jit
def _overlaps(v_start, v_end, t_start, t_end, max_len, flank, offsets, out_t, write):
    """Per variant, :func:`_scan` from the first transcript that could reach it (one starting
    within ``max_len + flank`` before it); returns the counts."""
    n = v_start.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    bmax = block_max_end(t_end)
    for i in range(n):
        vs = v_start[i]
        ve = v_end[i]
        j = np.searchsorted(t_start, vs - (1 if vs == ve else 0) - max_len - flank, side="left")
        k = offsets[i] if write else 0
        counts[i] = _scan(vs, ve, t_start, t_end, bmax, j, flank, out_t, k, write) - k
    return counts


@jit
def count_overlaps(v_start, v_end, t_start, t_end, max_len, flank):
    """Per variant, the number of transcripts whose ``[start - flank, end + flank)`` overlaps it.

    ``v_start``/``v_end``: 0-based half-open variant spans (an insertion has ``start == end`` and
    overlaps an interval ``[a, b)`` when ``a < start < b``). ``t_start`` must be
    sorted ascending; ``max_len`` is the longest transcript span. The scan from the first
    transcript that could reach a variant skips blocks of transcripts that all end before it
    (one long transcript no longer makes every variant after it scan all of its neighbours).
    """
    none = np.zeros(0, dtype=np.int64)
    return _overlaps(v_start, v_end, t_start, t_end, max_len, flank, none, none, False)


@jit
def fill_overlaps(v_start, v_end, t_start, t_end, max_len, flank, offsets, out_t):
    """Write the overlapping transcript rows of variant ``i`` to ``out_t[offsets[i]:offsets[i+1]]``
    (the scan of :func:`count_overlaps`)."""
    _overlaps(v_start, v_end, t_start, t_end, max_len, flank, offsets, out_t, True)


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
