"""Columns of a chunk of VCF record lines, read from its bytes (the input side of ``ccev annotate``).

A chunk is its lines, each a whole record ending with ``\\n`` (the last one's may be absent). The kernels
find each line's tab-separated columns, its ALT alleles and its contig runs, parse POS, and write
the text around each record's INFO/CSQ value — so that no per-record Python object is made.

Loaded compiled and as a pure-Python twin (see ``ccevariants.kernels``).
"""

import numpy as np

from ccevariants.kernels import copier, decorator, read_only

jit = decorator(__name__)
copy_bytes = copier(__name__)  # dst[k:k + n] = src[a:a + n] as one memcpy

#: Columns located per line: CHROM POS ID REF ALT QUAL FILTER INFO, then the rest (FORMAT and the
#: samples, as one span).
N_SPANS = 9

#: ``status`` of a line: read; fewer than 8 columns; INFO holds the text ``CSQ``; POS not a
#: positive decimal integer of at most 18 digits.
OK = 0
SHORT = 1
HAS_CSQ = 2
BAD_POS = 3


@jit
def split_lines(buf, n_lines):
    """Spans of each line's columns in ``buf`` (``n_lines`` lines, each ending with ``\\n`` but perhaps
    the last).

    Returns ``(start, end, n_cols, pos, status, n_alts, chrom_run)``: ``start``/``end`` [n, 9]
    (column k of line i is ``buf[start[i, k]:end[i, k]]``; column 8 is everything after the
    eighth tab, -1/-1 when absent); ``n_cols`` (columns counted up to 9); ``pos`` (POS as an
    integer, -1 when not one); ``status`` (see the constants); ``n_alts`` (comma-separated ALT
    alleles); ``chrom_run`` (0 for the first line, incremented at every line whose CHROM differs
    from the previous line's).
    """
    start = np.full((n_lines, N_SPANS), -1, dtype=np.int64)
    end = np.full((n_lines, N_SPANS), -1, dtype=np.int64)
    n_cols = np.zeros(n_lines, dtype=np.int64)
    pos = np.full(n_lines, -1, dtype=np.int64)
    status = np.zeros(n_lines, dtype=np.int64)
    n_alts = np.zeros(n_lines, dtype=np.int64)
    chrom_run = np.zeros(n_lines, dtype=np.int64)
    n = buf.shape[0]
    p = 0
    run = 0
    for i in range(n_lines):
        k = 0
        start[i, 0] = p
        while p < n and buf[p] != 10:
            if buf[p] == 9 and k < N_SPANS - 1:
                end[i, k] = p
                k += 1
                start[i, k] = p + 1
            p += 1
        end[i, k] = p
        n_cols[i] = k + 1
        p += 1  # past the newline
        if k < 7:
            status[i] = SHORT
            continue
        # POS
        a, b = start[i, 1], end[i, 1]
        v = 0
        good = 0 < b - a <= 18
        for q in range(a, b):
            c = int(buf[q])
            if c < 48 or c > 57:
                good = False
                break
            v = v * 10 + (c - 48)
        if good and v > 0:
            pos[i] = v
        else:
            status[i] = BAD_POS
        # ALT alleles
        m = 1
        for q in range(start[i, 4], end[i, 4]):
            if buf[q] == 44:
                m += 1
        n_alts[i] = m
        # INFO holding "CSQ" anywhere (an existing CSQ to replace: the line-by-line path)
        a, b = start[i, 7], end[i, 7]
        for q in range(a, b - 2):
            if buf[q] == 67 and buf[q + 1] == 83 and buf[q + 2] == 81:
                status[i] = HAS_CSQ
                break
        # contig runs
        if i > 0:
            a0, b0 = start[i - 1, 0], end[i - 1, 0]
            a1, b1 = start[i, 0], end[i, 0]
            same = b1 - a1 == b0 - a0
            if same:
                for q in range(b1 - a1):
                    if buf[a1 + q] != buf[a0 + q]:
                        same = False
                        break
            if not same:
                run += 1
        chrom_run[i] = run
    return start, end, n_cols, pos, status, n_alts, chrom_run


@jit
def alt_spans(buf, start, end, n_alts):
    """Per ALT allele (in line order): its line (``owner``) and its span in ``buf``."""
    total = 0
    for i in range(n_alts.shape[0]):
        total += n_alts[i]
    owner = np.empty(total, dtype=np.int64)
    a_start = np.empty(total, dtype=np.int64)
    a_end = np.empty(total, dtype=np.int64)
    j = 0
    for i in range(n_alts.shape[0]):
        a = start[i, 4]
        for q in range(start[i, 4], end[i, 4] + 1):
            if q == end[i, 4] or buf[q] == 44:
                owner[j] = i
                a_start[j] = a
                a_end[j] = q
                j += 1
                a = q + 1
    return owner, a_start, a_end


@jit
def heads_tails(buf, start, end):
    """The text of each line around its new INFO/CSQ value, as two string columns ``(h_off, h_dat,
    t_off, t_dat)``: the head is the line up to the end of INFO then ``;CSQ=`` (INFO ``.`` is
    replaced: up to its start, then ``CSQ=``); the tail is a tab and the rest of the line (FORMAT
    and samples), if any, then a newline."""
    n = start.shape[0]
    h_off = np.zeros(n + 1, dtype=np.int64)
    t_off = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        a, b = start[i, 7], end[i, 7]
        dot = b - a == 1 and buf[a] == 46
        h_off[i + 1] = h_off[i] + ((a - start[i, 0]) + 4 if dot else (b - start[i, 0]) + 5)
        rest = end[i, 8] - start[i, 8] + 1 if start[i, 8] >= 0 else 0
        t_off[i + 1] = t_off[i] + rest + 1
    h_dat = np.empty(max(h_off[n], 1), dtype=np.uint8)
    t_dat = np.empty(max(t_off[n], 1), dtype=np.uint8)
    for i in range(n):
        a, b = start[i, 7], end[i, 7]
        s = start[i, 0]
        k = h_off[i]
        if b - a == 1 and buf[a] == 46:
            copy_bytes(h_dat, k, buf, s, a - s)
            k += a - s
        else:
            copy_bytes(h_dat, k, buf, s, b - s)
            k += b - s
            h_dat[k] = 59  # ;
            k += 1
        h_dat[k] = 67  # C
        h_dat[k + 1] = 83  # S
        h_dat[k + 2] = 81  # Q
        h_dat[k + 3] = 61  # =
        k = t_off[i]
        if start[i, 8] >= 0:
            t_dat[k] = 9
            k += 1
            w = end[i, 8] - start[i, 8]
            copy_bytes(t_dat, k, buf, start[i, 8], w)
            k += w
        t_dat[k] = 10
    return h_off, h_dat, t_off, t_dat


def split_spans(buf, spans, want):
    """Rows of fields (a formatting kernel's output) as one string column per field: field ``f``
    of row ``i`` is ``buf[spans[i, f, 0]:spans[i, f, 1]]`` (``spans`` [n, n_fields, 2], as the
    kernels return them). Returns ``(offsets, data)`` with the fields' bytes in ``data`` field by
    field (field 0 of every row, then field 1, …) and ``offsets[f, i]`` / ``offsets[f, i + 1]`` the
    span of field ``f`` of row ``i`` in ``data``. Fields whose ``want`` is False are not copied
    (their strings read as empty)."""
    n, n_fields = spans.shape[0], spans.shape[1]
    starts = np.ascontiguousarray(spans[:, :, 0]).reshape(-1)
    ends = np.ascontiguousarray(spans[:, :, 1]).reshape(-1)
    return _copy_fields(read_only(buf), starts, ends, n, n_fields, want)


@jit
def _copy_fields(buf, starts, ends, n, n_fields, want):
    """The copy of :func:`split_spans`: field ``f`` of row ``i`` is
    ``buf[starts[j]:ends[j]]`` (``j = i * n_fields + f``), copied with one memcpy each."""
    used = 0
    for f in range(n_fields):
        if want[f]:
            for i in range(n):
                used += ends[i * n_fields + f] - starts[i * n_fields + f]
    offsets = np.empty((n_fields, n + 1), dtype=np.int64)
    data = np.empty(max(used, 1), dtype=np.uint8)
    q = 0
    for f in range(n_fields):
        offsets[f, 0] = q
        if not want[f]:
            offsets[f, 1:] = q
            continue
        for i in range(n):
            j = i * n_fields + f
            a = starts[j]
            m = ends[j] - a
            copy_bytes(data, q, buf, a, m)
            q += m
            offsets[f, i + 1] = q
    return offsets, data


@jit
def labels(buf, owner, c_start, c_end, pos, r_start, r_end, a_start, a_end):
    """``CHROM:POS:REF:ALT`` of each ALT allele as a string column ``(off, data)``: allele ``a`` of
    record ``owner[a]``, whose CHROM and REF are ``buf[c_start:c_end]`` and ``buf[r_start:r_end]``
    (per record), its ALT ``buf[a_start[a]:a_end[a]]`` and ``pos[a]`` its POS, written in decimal."""
    n = owner.shape[0]
    off = np.zeros(n + 1, dtype=np.int64)
    for a in range(n):
        r = owner[a]
        digits = 1
        x = pos[a]
        while x >= 10:
            x //= 10
            digits += 1
        width = c_end[r] - c_start[r] + digits + r_end[r] - r_start[r] + a_end[a] - a_start[a] + 3
        off[a + 1] = off[a] + width
    data = np.empty(max(off[n], 1), dtype=np.uint8)
    for a in range(n):
        r = owner[a]
        k = off[a]
        w = c_end[r] - c_start[r]
        copy_bytes(data, k, buf, c_start[r], w)
        k += w
        data[k] = 58  # :
        # POS, right to left from the separator after it
        q = off[a + 1] - (r_end[r] - r_start[r]) - (a_end[a] - a_start[a]) - 2
        data[q] = 58
        x = pos[a]
        while True:
            q -= 1
            data[q] = 48 + x % 10
            x //= 10
            if x == 0:
                break
        k = off[a + 1] - (r_end[r] - r_start[r]) - (a_end[a] - a_start[a]) - 1
        w = r_end[r] - r_start[r]
        copy_bytes(data, k, buf, r_start[r], w)
        k += w
        data[k] = 58
        copy_bytes(data, k + 1, buf, a_start[a], a_end[a] - a_start[a])
    return off, data


@jit
def rotate_spans(buf, off, rows, by, left):
    """Rotate string ``rows[j]`` of (``buf``, ``off``) in place by ``by[j]`` places, to the left
    (``a[r:] + a[:r]``) when ``left``, else to the right (``a[-r:] + a[:-r]``)."""
    for j in range(rows.shape[0]):
        a = off[rows[j]]
        m = off[rows[j] + 1] - a
        if m == 0:
            continue
        r = by[j] % m
        if r == 0:
            continue
        tmp = buf[a : a + m].copy()
        for q in range(m):
            src = (q + r) % m if left else (q - r) % m
            buf[a + q] = tmp[src]
