"""Allele preparation (Numba-compilable; also loaded as a Python twin): REF check against reference
windows, symbolic-allele test, trimming to the minimal 0-based half-open allele and the shifted
placements of pure insertions/deletions — the column-wise form of ``annotate.trim_allele`` and
``annotate.shift_allele`` (which stay the per-allele fallback and the test oracle).

Coordinates: ``pos0`` are 0-based VCF positions (POS - 1); windows hold upper-case reference bases
starting at 0-based ``win_start``; outputs are 0-based half-open.
"""

import numpy as np

from ccevariants.kernels import decorator

jit = decorator(__name__)

OK = 0
FALLBACK = 1  # handled by the per-allele Python code (no window, non-ASCII, shift leaves the window)
MISMATCH = 2  # REF differs from the reference


@jit
def _up(ch):
    return ch - 32 if 97 <= ch <= 122 else ch


@jit
def _is_base(ch):
    return ch == 65 or ch == 67 or ch == 71 or ch == 84 or ch == 78


@jit
def prepare(pos0, ref_buf, ref_off, alt_buf, alt_off, wid, win_buf, win_off, win_start, contig_len):
    """Per allele ``i``: REF ``ref_buf[ref_off[i]:ref_off[i+1]]``, ALT likewise, window ``wid[i]``
    (-1: none) = ``win_buf[win_off[w]:win_off[w+1]]`` starting at genomic ``win_start[w]`` on a
    contig of ``contig_len[w]`` bases.

    Returns ``(status, symbolic, start, end, r0, r1, a0, a1, sh_start, sh_end, sh_rot)``: the trimmed
    allele is ``[start, end)`` with REF ``upper(ref)[r0:r1]`` and ALT ``upper(alt)[a0:a1]``; for a pure
    insertion/deletion, row 0 of ``sh_*`` is the placement shifted right (3'), row 1 left (5'), and
    ``sh_rot`` the rotation of the moved unit (right: ``unit[k:] + unit[:k]``; left: the last ``k``
    bases moved to the front). Rows with ``status`` != OK are left to the caller.
    """
    n = pos0.shape[0]
    status = np.zeros(n, dtype=np.int64)
    symbolic = np.zeros(n, dtype=np.bool_)
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    r0 = np.zeros(n, dtype=np.int64)
    r1 = np.zeros(n, dtype=np.int64)
    a0 = np.zeros(n, dtype=np.int64)
    a1 = np.zeros(n, dtype=np.int64)
    sh_start = np.zeros((2, n), dtype=np.int64)
    sh_end = np.zeros((2, n), dtype=np.int64)
    sh_rot = np.zeros((2, n), dtype=np.int64)
    for i in range(n):
        w = wid[i]
        p = pos0[i]
        rs = ref_off[i]
        re_ = ref_off[i + 1]
        as_ = alt_off[i]
        ae = alt_off[i + 1]
        if w < 0 or p < 0:
            status[i] = FALLBACK
            continue
        ascii_ok = True
        for j in range(rs, re_):
            if ref_buf[j] >= 128:
                ascii_ok = False
        for j in range(as_, ae):
            if alt_buf[j] >= 128:
                ascii_ok = False
        if not ascii_ok:
            status[i] = FALLBACK
            continue
        ws = win_start[w]
        wb = win_off[w]
        wlen = win_off[w + 1] - wb
        # REF against the reference window (a REF past the window's end is a mismatch: the window
        # reaches the end of every REF of the batch unless the contig ends first)
        if p - ws + (re_ - rs) > wlen or p < ws:
            status[i] = MISMATCH
            continue
        bad = False
        for j in range(re_ - rs):
            if _up(ref_buf[rs + j]) != win_buf[wb + p - ws + j]:
                bad = True
                break
        if bad:
            status[i] = MISMATCH
            continue
        # symbolic / breakend / spanning deletion / missing ALT
        sym = ae == as_
        if not sym:
            c0 = alt_buf[as_]
            if c0 == 60 or c0 == 42 or c0 == 46:  # < * .
                sym = True
            for j in range(as_, ae):
                if not _is_base(_up(alt_buf[j])):
                    sym = True
        if sym:
            symbolic[i] = True
            start[i] = p
            end[i] = p + re_ - rs
            r0[i] = 0
            r1[i] = re_ - rs
            a0[i] = 0
            a1[i] = 0
            for row in range(2):
                sh_start[row, i] = p
                sh_end[row, i] = p + re_ - rs
            continue
        # trim the common suffix, then the common prefix (upper case)
        x0, x1, y0, y1 = rs, re_, as_, ae
        while x1 > x0 and y1 > y0 and _up(ref_buf[x1 - 1]) == _up(alt_buf[y1 - 1]):
            x1 -= 1
            y1 -= 1
        s = p
        while x1 > x0 and y1 > y0 and _up(ref_buf[x0]) == _up(alt_buf[y0]):
            x0 += 1
            y0 += 1
            s += 1
        start[i] = s
        end[i] = s + x1 - x0
        r0[i] = x0 - rs
        r1[i] = x1 - rs
        a0[i] = y0 - as_
        a1[i] = y1 - as_
        sh_start[0, i] = s
        sh_start[1, i] = s
        sh_end[0, i] = s + x1 - x0
        sh_end[1, i] = s + x1 - x0
        ins = x1 == x0 and y1 > y0
        dele = y1 == y0 and x1 > x0
        if not (ins or dele):
            continue
        # the moved unit: the deleted or inserted bases
        if ins:
            ub, u0, ulen = alt_buf, y0, y1 - y0
        else:
            ub, u0, ulen = ref_buf, x0, x1 - x0
        e = s + x1 - x0
        # right: while the next reference base equals the unit's first (rotating) base
        moved = 0
        q = e
        while True:
            if q >= contig_len[w]:
                break
            if q - ws >= wlen:
                status[i] = FALLBACK  # needs reference beyond the window
                break
            if win_buf[wb + q - ws] != _up(ub[u0 + moved % ulen]):
                break
            moved += 1
            q += 1
        if status[i] != OK:
            continue
        sh_start[0, i] = s + moved
        sh_end[0, i] = e + moved
        sh_rot[0, i] = moved % ulen
        # left: while the previous reference base equals the unit's last (rotating) base
        moved = 0
        q = s - 1
        while True:
            if q < 0:
                break
            if q < ws:
                status[i] = FALLBACK
                break
            if win_buf[wb + q - ws] != _up(ub[u0 + (ulen - 1 - moved % ulen)]):
                break
            moved += 1
            q -= 1
        if status[i] != OK:
            continue
        sh_start[1, i] = s - moved
        sh_end[1, i] = e - moved
        sh_rot[1, i] = moved % ulen
    return status, symbolic, start, end, r0, r1, a0, a1, sh_start, sh_end, sh_rot


@jit
def splice(region, region_start, ex_start, ex_end, t_ex_off, t_n_ex, minus, complement):
    """Spliced sequences of transcripts from one stretch of reference (``region``, starting at 0-based
    ``region_start``): per transcript ``k``, its exon rows ``t_ex_off[k]`` .. ``+ t_n_ex[k]`` joined in
    row order, in upper case, reverse-complemented (``complement``: a 256-entry byte map) when
    ``minus[k]`` — what ``TranscriptIndex.transcript_cdna_sequence`` gives. Returns ``(buf, off)``."""
    n = t_ex_off.shape[0]
    off = np.zeros(n + 1, dtype=np.int64)
    for k in range(n):
        m = 0
        for e in range(t_ex_off[k], t_ex_off[k] + t_n_ex[k]):
            m += ex_end[e] - ex_start[e]
        off[k + 1] = off[k] + m
    buf = np.empty(max(off[n], 1), dtype=np.uint8)
    for k in range(n):
        q = off[k]
        for e in range(t_ex_off[k], t_ex_off[k] + t_n_ex[k]):
            for g in range(ex_start[e], ex_end[e]):
                buf[q] = _up(region[g - region_start])
                q += 1
        if minus[k]:
            a = off[k]
            b = off[k + 1] - 1
            while a < b:
                x = buf[a]
                buf[a] = complement[buf[b]]
                buf[b] = complement[x]
                a += 1
                b -= 1
            if a == b:
                buf[a] = complement[buf[a]]
    return buf, off
