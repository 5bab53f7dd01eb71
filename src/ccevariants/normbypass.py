"""Records ``bcftools norm`` would pass through unchanged take a path around it.

``ccev normalize`` runs ``bcftools norm -m -any -f REF -c wx`` (see :mod:`ccevariants.normalize`).
For a biallelic SNV whose REF equals the reference base, norm has nothing to do: nothing to split,
nothing to left-align or trim, no REF mismatch to exclude. What norm does to such a record is
re-encode it — parse the text into htslib's binary record and print it again — and that round
trip is the identity when the record is already written the way htslib prints it. On typical
tumour VCFs (≈ 90 % SNVs) that is most of norm's work; this module lets those records skip it.

**Which records skip norm** (:func:`classify`; everything else goes through norm as before):

* REF and ALT are each one upper-case base ``A/C/G/T``, different from each other, and REF equals
  the reference base at POS (upper- or lower-case FASTA; IUPAC codes and ``N`` go through norm);
* POS has no leading zero; ID, FILTER and QUAL are non-empty; QUAL is ``.`` or one canonical float;
* INFO is ``.`` or items of declared keys (no duplicates, no ``END``): a Flag without a value,
  Integer/Float values that are ``.`` or canonical numbers, String/Character values as they are;
* every FORMAT key is declared (``GT`` first if present, Type String); every sample has exactly
  one non-empty sub-field per key; GT is ``0``, ``1`` or ``.`` joined by ``/`` or ``|``; numbers
  are canonical.

*Canonical* numbers are the text htslib prints for the value it parsed: integers without sign
``+`` or leading zeros, |v| < 10⁹ (``-0`` is not canonical); floats with at most six significant
digits between 0.0001 and 999999, no exponent, no trailing zeros after the point, no ``.`` without
digits (``0.25``, ``-3.5``, ``12``; not ``1e-3``, ``0.1234567`` or ``-0``). htslib stores a float
in 32 bits and prints six significant digits, so such a value prints back unchanged. A float that
only has trailing zeros after the point (``0.250``, ``6.00``, ``50.0`` — GATK writes them) is
printed by htslib without them; such a record still skips norm and is written the way htslib
prints it (classifier code 2, :func:`_rewrite`). The test suite checks both against htslib itself
(thousands of random records), and that the streamed output is byte-identical to running every
record through norm.

**How** (:mod:`ccevariants.normalize` ``_stream_all``): the pre-pass writes the records that need
norm into norm's pipe, with ``ORDINAL:`` (the input record number) put in front of the ID, and
every other record to a side file as ``ORDINAL<TAB>line``, followed per block by a progress mark
(``#W,C``: records before ordinal W handed on, C sent to norm so far, so the writer need not wait
for one stream while the other has nothing to say). The writer reads norm's output and the
side file together (:class:`Merged`): records come out sorted by contig, POS and, at equal POS,
input order, with the prefixes removed. That is norm's own order: norm keeps its output sorted by
POS within a window (``--site-win``, 1000 bp) and puts a record after those of equal POS it already
holds. A record norm moves further left than its window leaves the stream unsorted; the writer
sees that and the caller sorts, as without this module.

When fewer than :data:`MIN_SHARE` of the first block's records may skip norm (a caller that
writes ``1E-3`` or ``0.222222222222``), the whole file goes through norm as it is and the side file says
so (``#all``): the check would cost more than it saves.
"""

from __future__ import annotations

import numpy as np

from .normtext import _put_int

# type codes of INFO/FORMAT keys
T_FLAG, T_INT, T_FLOAT, T_STR, T_GT, T_NO = 1, 2, 3, 4, 5, 6

#: Gap (bp) above which reference bases are fetched as separate windows.
FETCH_GAP = 4096

#: When fewer than this share of the first block's records may skip norm, the whole file goes
#: through norm unchanged (no ordinal prefixes, no merge): the check and the merge would cost more
#: CPU than norm saves (≈ 1 µs against ≈ 4 µs per record skipped).
MIN_SHARE = 0.25


# ------------------------------------------------------------------------------------------------
# compiled loops (Numba; the pure-Python functions are the twins the tests call)
# ------------------------------------------------------------------------------------------------


def _hash(arr, s, e):  # pragma: no cover - compiled by Numba
    """FNV-1a (32 bit) of ``arr[s:e]``."""
    h = 2166136261
    for k in range(s, e):
        h = ((h ^ int(arr[k])) * 16777619) & 0xFFFFFFFF
    return h


def _next(arr, p, e, sep):  # pragma: no cover - compiled by Numba
    """The first ``sep`` in ``arr[p:e]`` (``e`` if none)."""
    while p < e and arr[p] != sep:
        p += 1
    return p


def _same(a, s, b, t, n):  # pragma: no cover - compiled by Numba
    """``a[s:s+n] == b[t:t+n]``."""
    for x in range(n):
        if a[s + x] != b[t + x]:
            return False
    return True


def _lookup(arr, s, e, keys, koff, klen, ktype):  # pragma: no cover - compiled by Numba
    """Type code of the key ``arr[s:e]`` in an open-addressing table; -1 when not declared."""
    mask = koff.shape[0] - 1
    h = _hash(arr, s, e) & mask
    while True:
        o = koff[h]
        if o < 0:
            return -1
        if klen[h] == e - s and _same(keys, o, arr, s, e - s):
            return ktype[h]
        h = (h + 1) & mask


def _is_digit(c):  # pragma: no cover - compiled by Numba
    return 48 <= c <= 57


def _canon_int(arr, s, e):  # pragma: no cover - compiled by Numba
    """``arr[s:e]`` is an integer as htslib prints it (|v| < 10⁹)."""
    neg = False
    if s < e and arr[s] == 45:
        neg = True
        s += 1
    n = e - s
    if n < 1 or n > 9:
        return False
    for k in range(s, e):
        if not _is_digit(arr[k]):
            return False
    if arr[s] == 48:
        return n == 1 and not neg
    return True


def _float_end(arr, s, e):  # pragma: no cover - compiled by Numba
    """Where htslib's print of the float ``arr[s:e]`` ends: ``e`` when it prints it unchanged, less
    when it only drops trailing zeros after the point (``6.00`` → ``6``, ``0.250`` → ``0.25``);
    -1 otherwise. Printed unchanged: ≤ 6 significant digits, 0.0001 ≤ |v| ≤ 999999 (or ``0``), no
    exponent, no ``+``, no leading zero, no ``-0``."""
    neg = False
    if s < e and arr[s] == 45:
        neg = True
        s += 1
    i = s
    while i < e and _is_digit(arr[i]):
        i += 1
    nint = i - s
    if nint == 0 or nint > 6 or (arr[s] == 48 and nint > 1):
        return -1
    if i < e:
        if arr[i] != 46 or i + 1 >= e:
            return -1
        for k in range(i + 1, e):
            if not _is_digit(arr[k]):
                return -1
        while e > i + 1 and arr[e - 1] == 48:  # trailing zeros of the fraction
            e -= 1
        if e == i + 1:  # only zeros: the point goes too
            e = i
    if e == i:
        if neg and nint == 1 and arr[s] == 48:
            return -1  # -0
        return e
    f = i + 1
    if arr[s] == 48:  # 0.xxx: at most three zeros before the first significant digit
        z = f
        while arr[z] == 48:
            z += 1
        return e if z - f <= 3 and e - z <= 6 else -1
    return e if nint + (e - f) <= 6 else -1


def _canon_values(arr, s, e, typ):  # pragma: no cover - compiled by Numba
    """Comma-separated values of type ``typ``, each ``.`` or as htslib prints it (floats: up to
    trailing zeros, :func:`_float_end`); strings as they are. Returns the bytes htslib's print
    drops, or -1."""
    if e <= s:
        return -1
    if typ == 4:  # T_STR
        return 0
    drop = 0
    p = s
    while True:
        q = _next(arr, p, e, 44)
        if q == p:
            return -1
        if not (q - p == 1 and arr[p] == 46):
            if typ == 2:
                if not _canon_int(arr, p, q):
                    return -1
            elif typ == 3:
                end = _float_end(arr, p, q)
                if end < 0:
                    return -1
                drop += q - end
            else:
                return -1
        if q >= e:
            return drop
        p = q + 1


def _put_values(arr, s, e, typ, out, k):  # pragma: no cover - compiled by Numba
    """Copy values checked by :func:`_canon_values` to ``out[k:]`` as htslib prints them."""
    if typ != 3:
        return _copy(out, k, arr, s, e)
    p = s
    while True:
        q = _next(arr, p, e, 44)
        if q - p == 1 and arr[p] == 46:
            out[k] = 46
            k += 1
        else:
            k = _copy(out, k, arr, p, _float_end(arr, p, q))
        if q >= e:
            return k
        out[k] = 44
        k += 1
        p = q + 1


def _canon_gt(arr, s, e):  # pragma: no cover - compiled by Numba
    """GT of a biallelic record: ``0``, ``1`` or ``.`` joined by ``/`` or ``|``."""
    p = s
    while True:
        if p >= e:
            return False
        c = arr[p]
        if c != 46 and c != 48 and c != 49:
            return False
        p += 1
        if p == e:
            return True
        if arr[p] != 47 and arr[p] != 124:
            return False
        p += 1


def _new_key(arr, s, e, hs, ss, es, n):  # pragma: no cover - compiled by Numba
    """Record key ``arr[s:e]`` as the ``n``-th of its line; False when it repeats an earlier one
    or the line has too many keys."""
    if n >= hs.shape[0]:
        return False
    h = _hash(arr, s, e)
    for m in range(n):
        if hs[m] == h and es[m] - ss[m] == e - s and _same(arr, ss[m], arr, s, e - s):
            return False
    hs[n] = h
    ss[n] = s
    es[n] = e
    return True


def _canon_info(arr, s, e, ik, io, il, it, hs, ks, ke, qe, cache):  # pragma: no cover - compiled
    """INFO ``arr[s:e]``: ``.`` or items of declared keys (no repeat, no END), values canonical
    (:func:`_canon_values`); returns the bytes htslib's print drops, or -1.
    ``cache`` (rows: key starts, key ends, types; ``cache[3, 0]`` = count or -1) holds the keys
    of the last line whose keys were looked up: a line with the same keys skips the lookups."""
    if e - s == 1 and arr[s] == 46:
        return 0
    if e <= s:
        return -1
    # pass 1: item spans; same keys as the cached line?
    n = 0
    p = s
    cn = cache[3, 0]
    same = True
    while True:
        q = _next(arr, p, e, 59)
        k = _next(arr, p, q, 61)
        if k == p or n >= ks.shape[0]:
            return -1
        ks[n] = p
        ke[n] = k
        qe[n] = q
        if same:
            same = n < cn and cache[1, n] - cache[0, n] == k - p and _same(arr, cache[0, n], arr, p, k - p)
        n += 1
        if q >= e:
            break
        p = q + 1
    if not same or n != cn:
        cache[3, 0] = -1
        for m in range(n):
            p, k = ks[m], ke[m]
            if k - p == 3 and arr[p] == 69 and arr[p + 1] == 78 and arr[p + 2] == 68:  # END
                return -1
            typ = _lookup(arr, p, k, ik, io, il, it)
            if typ < 0 or typ == 6 or not _new_key(arr, p, k, hs, cache[0], cache[1], m):
                return -1
            cache[2, m] = typ
        cache[3, 0] = n
    # pass 2: values
    drop = 0
    for m in range(n):
        typ = cache[2, m]
        k, q = ke[m], qe[m]
        if typ == 1:
            if k != q:
                return -1
            continue
        d = _canon_values(arr, k + 1, q, typ) if k < q - 1 else -1
        if d < 0:
            return -1
        drop += d
    return drop


def _format_types(arr, fs, fe, fk, fo, fl, ft, hs, ss, es, types):  # pragma: no cover - compiled
    """Type codes of the FORMAT keys ``arr[fs:fe]`` into ``types``; returns how many, or -1 when
    a key is undeclared, repeated, a Flag, or GT not first."""
    if fe <= fs:
        return -1
    n = 0
    p = fs
    while True:
        q = _next(arr, p, fe, 58)
        if q == p:
            return -1
        typ = _lookup(arr, p, q, fk, fo, fl, ft)
        if typ < 0 or typ == 6 or typ == 1 or (typ == 5 and n != 0):
            return -1
        if not _new_key(arr, p, q, hs, ss, es, n):
            return -1
        types[n] = typ
        n += 1
        if q >= fe:
            return n
        p = q + 1


def _canon_samples(arr, t, end, n, types):  # pragma: no cover - compiled by Numba
    """Every sample column (from tab 8 to the newline at ``end``): ``n`` non-empty sub-fields
    of the FORMAT key types ``types``, each canonical; returns the bytes htslib's print drops,
    or -1."""
    ntabs = t.shape[0]
    drop = 0
    for c in range(8, ntabs):
        s = t[c] + 1
        e = t[c + 1] if c + 1 < ntabs else end
        k = 0
        p = s
        while True:
            q = _next(arr, p, e, 58)
            if q == p or k >= n:
                return -1
            typ = types[k]
            if typ == 5:
                if not _canon_gt(arr, p, q):
                    return -1
            else:
                d = _canon_values(arr, p, q, typ)
                if d < 0:
                    return -1
                drop += d
            k += 1
            if q >= e:
                break
            p = q + 1
        if k != n:
            return -1
    return drop


def _rewrite(arr, t, end, ik, io, il, it, fk, fo, fl, ft, hs, ss, es, types, out, k):  # pragma: no cover
    """A line the classifier took with code 2, from QUAL on, as htslib prints it (trailing
    zeros of floats dropped) into ``out[k:]``; returns the new ``k``."""
    ntabs = t.shape[0]
    qs, qe = t[4] + 1, t[5]
    k = _put_values(arr, qs, qe, 3, out, k)
    k = _copy(out, k, arr, qe, t[6] + 1)  # tab, FILTER, tab
    s = t[6] + 1
    e = t[7] if ntabs > 7 else end
    if e - s == 1 and arr[s] == 46:
        out[k] = 46
        k += 1
    else:
        p = s
        while True:
            q = _next(arr, p, e, 59)
            x = _next(arr, p, q, 61)
            k = _copy(out, k, arr, p, x)
            if x < q:
                out[k] = 61
                k = _put_values(arr, x + 1, q, _lookup(arr, p, x, ik, io, il, it), out, k + 1)
            if q >= e:
                break
            out[k] = 59
            k += 1
            p = q + 1
    if ntabs > 7:
        fs, fe = t[7] + 1, t[8]
        n = _format_types(arr, fs, fe, fk, fo, fl, ft, hs, ss, es, types)
        k = _copy(out, k, arr, e, fe)  # tab, FORMAT
        for c in range(8, ntabs):
            out[k] = 9
            k += 1
            s = t[c] + 1
            e = t[c + 1] if c + 1 < ntabs else end
            m = 0
            p = s
            while True:
                q = _next(arr, p, e, 58)
                typ = types[m] if m < n else 4
                k = _put_values(arr, p, q, 3 if typ == 3 else 4, out, k)
                m += 1
                if q >= e:
                    break
                out[k] = 58
                k += 1
                p = q + 1
    out[k] = 10
    return k + 1


def _is_base(c):  # pragma: no cover - compiled by Numba
    return c == 65 or c == 67 or c == 71 or c == 84


def _classify_loop(
    arr, tabs, ends, refb, ik, io, il, it, fk, fo, fl, ft, any_alleles, out
):  # pragma: no cover
    """``out[i]``: 1 = line ``i`` may skip norm as written, 2 = may skip norm once trailing zeros
    of its floats are dropped (:func:`_rewrite`), 0 = goes through norm (module docstring);
    returns how many may. With ``any_alleles`` only the text is checked, not REF/ALT/``refb``."""
    hs = np.empty(64, np.int64)
    ss = np.empty(64, np.int64)
    es = np.empty(64, np.int64)
    item_end = np.empty(64, np.int64)
    types = np.empty(64, np.int64)
    info_cache = np.full((4, 64), -1, np.int64)
    count = 0
    pfs = pfe = nfmt = -1  # FORMAT of the line whose key types are in ``types``
    ntabs = tabs.shape[1]
    for i in range(tabs.shape[0]):
        out[i] = 0
        t = tabs[i]
        if not any_alleles:
            if t[3] - t[2] != 2 or t[4] - t[3] != 2:
                continue
            r = arr[t[2] + 1]
            a = arr[t[3] + 1]
            if not _is_base(r) or not _is_base(a) or r == a or refb[i] != r:
                continue
        if arr[t[0] + 1] == 48 or t[2] - t[1] < 2 or t[6] - t[5] < 2:
            continue
        qs, qe = t[4] + 1, t[5]
        if qe <= qs:
            continue
        drop = _canon_values(arr, qs, qe, 3)
        if drop < 0 or (qe - qs > 1 and arr[qe - 1] == 44):
            continue
        for x in range(qs, qe):  # QUAL is one number
            if arr[x] == 44:
                drop = -1
        if drop < 0:
            continue
        ie = t[7] if ntabs > 7 else ends[i]  # a sites-only line ends with INFO
        d = _canon_info(arr, t[6] + 1, ie, ik, io, il, it, hs, ss, es, item_end, info_cache)
        if d < 0:
            continue
        drop += d
        if ntabs < 9:  # no FORMAT (sites only), or FORMAT without a sample (not taken)
            if ntabs == 7:
                out[i] = 1 if drop == 0 else 2
                count += 1
            continue
        fs, fe = t[7] + 1, t[8]
        if not (fe - fs == pfe - pfs and _same(arr, fs, arr, pfs, fe - fs)):
            nfmt = _format_types(arr, fs, fe, fk, fo, fl, ft, hs, ss, es, types)
            pfs, pfe = fs, fe
        d = _canon_samples(arr, t, ends[i], nfmt, types) if nfmt >= 0 else -1
        if d < 0:
            continue
        out[i] = 1 if drop + d == 0 else 2
        count += 1
    return count


copy_bytes = None  # (the compiled memcpy, ``_numba.copy_bytes``: set by _build_kernels)


def _copy(dst, k, src, s, e):  # pragma: no cover - compiled by Numba
    copy_bytes(dst, k, src, s, e - s)
    return k + e - s


def _split_loop(
    arr,
    starts,
    tabs,
    ends,
    skip,
    first,
    run_of,
    names,
    name_off,
    ik,
    io,
    il,
    it,
    fk,
    fo,
    fl,
    ft,
    out_n,
    out_b,
):  # pragma: no cover
    """Lines for norm (``ORDINAL:`` before the ID) into ``out_n``, the others as
    ``ORDINAL<TAB>line`` into ``out_b`` (code 2 of the classifier: as htslib prints them, see
    :func:`_rewrite`); CHROM written as ``names[run]``. Returns both lengths."""
    hs = np.empty(64, np.int64)
    ss = np.empty(64, np.int64)
    es = np.empty(64, np.int64)
    types = np.empty(64, np.int64)
    kn = 0
    kb = 0
    for i in range(starts.shape[0]):
        r = run_of[i]
        o = first + i
        t0 = tabs[i, 0]
        if skip[i] > 0:
            kb = _put_int(out_b, kb, o)
            out_b[kb] = 9
            kb = _copy(out_b, kb + 1, names, name_off[r], name_off[r + 1])
            if skip[i] == 1:
                kb = _copy(out_b, kb, arr, t0, ends[i] + 1)
            else:
                kb = _copy(out_b, kb, arr, t0, tabs[i, 4] + 1)
                kb = _rewrite(
                    arr, tabs[i], ends[i], ik, io, il, it, fk, fo, fl, ft, hs, ss, es, types, out_b, kb
                )
        else:
            kn = _copy(out_n, kn, names, name_off[r], name_off[r + 1])
            kn = _copy(out_n, kn, arr, t0, tabs[i, 1] + 1)
            kn = _put_int(out_n, kn, o)
            out_n[kn] = 58
            kn = _copy(out_n, kn + 1, arr, tabs[i, 1] + 1, ends[i] + 1)
    return kn, kb


def _canonical_loop(arr, starts, tabs, ends, codes, ik, io, il, it, fk, fo, fl, ft, out):  # pragma: no cover
    """Every line of a block into ``out``, each ending with a newline: a line the classifier took
    with code 2 as htslib prints it (:func:`_rewrite`: trailing zeros of its floats dropped), any
    other as it is. Returns the length written."""
    hs = np.empty(64, np.int64)
    ss = np.empty(64, np.int64)
    es = np.empty(64, np.int64)
    types = np.empty(64, np.int64)
    k = 0
    for i in range(starts.shape[0]):
        if codes[i] == 2:  # (the rewrite ends the line)
            k = _copy(out, k, arr, starts[i], tabs[i, 4] + 1)
            k = _rewrite(arr, tabs[i], ends[i], ik, io, il, it, fk, fo, fl, ft, hs, ss, es, types, out, k)
        else:
            k = _copy(out, k, arr, starts[i], ends[i])
            out[k] = 10
            k += 1
    return k


def _uint(arr, p, stop):  # pragma: no cover - compiled by Numba
    """Digits at ``arr[p:]`` up to the byte ``stop``: (value, position of ``stop``), or (-1, p)."""
    v = 0
    q = p
    while q < arr.shape[0] and _is_digit(arr[q]):
        v = v * 10 + (arr[q] - 48)
        q += 1
    if q == p or q >= arr.shape[0] or arr[q] != stop:
        return -1, p
    return v, q


def _upto(arr, p, c):  # pragma: no cover - compiled by Numba
    while p < arr.shape[0] and arr[p] != c:
        p += 1
    return p


def _merge_loop(nb, bb, n_eof, b_eof, state, out):  # pragma: no cover - compiled by Numba
    """Merge complete lines of norm's output ``nb`` and the side file ``bb`` into ``out``.

    The side file also holds the pre-pass's progress marks, ``#W,C`` after each block: every
    record with ordinal < W has been handed on (those that skip norm are above the mark), and C
    records went to norm so far. ``state`` = [latest W, latest C, W of the latest mark with
    C = 0] across calls. A record of norm may go out before the next side-file record arrives
    when its ordinal is < W (every later record sorts after it); a side-file record may go out
    before norm's next when no record has gone to norm at all up to a mark above it (C = 0 there;
    the marks ahead in ``bb`` are looked at for this).

    Order: contig (input order, i.e. by ordinal across contigs), POS, then input order (ordinal)
    — norm's own order: it keeps records sorted by POS within a window and puts a record after
    those of equal POS already there (``normalize_line``), so equal POS keep input order.

    Returns ``(bytes written, nb consumed, bb consumed, status)``; status 0 = both used up at
    their end of stream, 1 = need more of ``nb``, 2 = need more of ``bb``, 4 = malformed line.
    """
    i = 0
    j = 0
    k = 0
    n_ok = False
    b_ok = False
    # head of nb: chrom [i, nc), pos np_ ending at tab nt1, ordinal no, ID from nid, end ne
    nc = np_ = no = nid = ne = nt1 = 0
    bs = bc = bp = bo = be = 0
    while True:
        if not n_ok and i < nb.shape[0]:
            nc = _upto(nb, i, 9)
            np_, nt1 = _uint(nb, nc + 1, 9)
            no, q = _uint(nb, nt1 + 1, 58)
            if np_ < 0 or no < 0:
                return k, i, j, 4
            nid = q + 1
            ne = _upto(nb, nid, 10)
            if ne >= nb.shape[0]:
                return k, i, j, 4
            n_ok = True
        while not b_ok and j < bb.shape[0] and bb[j] == 35:  # "#W,C": progress mark
            w, q = _uint(bb, j + 1, 44)
            c, q = _uint(bb, q + 1, 10)
            if w < 0 or c < 0:
                return k, i, j, 4
            state[0] = w
            state[1] = c
            j = q + 1
        if not b_ok and j < bb.shape[0]:
            bo, q = _uint(bb, j, 9)
            bs = q + 1
            bc = _upto(bb, bs, 9)
            bp, q = _uint(bb, bc + 1, 9)
            be = _upto(bb, q, 10)
            if bo < 0 or bp < 0 or be >= bb.shape[0]:
                return k, i, j, 4
            b_ok = True
        if n_ok and b_ok:
            if not (nc - i == bc - bs and _same(nb, i, bb, bs, nc - i)):
                take_b = bo < no
            elif bp != np_:
                take_b = bp < np_
            else:
                take_b = bo < no
        elif n_ok:
            if not b_eof and no >= state[0]:
                return k, i, j, 2
            take_b = False
        elif b_ok:
            if not n_eof and bo >= state[2]:
                x = be + 1  # the next mark ahead: did anything go to norm up to it?
                while x < bb.shape[0] and bb[x] != 35:
                    x = _upto(bb, x, 10) + 1
                if x < bb.shape[0]:
                    w, q = _uint(bb, x + 1, 44)
                    c, q = _uint(bb, q + 1, 10)
                    if c == 0 and w > state[2]:
                        state[2] = w
                if bo >= state[2]:
                    return k, i, j, 1
            take_b = True
        else:
            if i >= nb.shape[0] and not n_eof:
                return k, i, j, 1
            if j >= bb.shape[0] and not b_eof:
                return k, i, j, 2
            return k, i, j, 0
        if take_b:
            k = _copy(out, k, bb, bs, be + 1)
            j = be + 1
            b_ok = False
        else:
            k = _copy(out, k, nb, i, nt1 + 1)
            k = _copy(out, k, nb, nid, ne + 1)
            i = ne + 1
            n_ok = False


_K: dict = {}

#: The compiled functions, in no particular order: each resolves the others through the module
#: globals when it is compiled (lazily, at its first call), so all are replaced together.
_COMPILED = (
    "_next",
    "_same",
    "_hash",
    "_lookup",
    "_is_digit",
    "_canon_int",
    "_float_end",
    "_put_values",
    "_rewrite",
    "_canon_values",
    "_canon_gt",
    "_new_key",
    "_canon_info",
    "_format_types",
    "_canon_samples",
    "_is_base",
    "_classify_loop",
    "_copy",
    "_split_loop",
    "_uint",
    "_upto",
    "_merge_loop",
    "_canonical_loop",
)

#: The pure-Python twins (the tests call these).
PY = {}


def _kernels() -> dict:
    from ._numba import build_once

    return build_once(_K, _build_kernels)


def _build_kernels() -> dict:
    from ._numba import copy_bytes, helper, jit, python_function

    g = globals()
    g["copy_bytes"] = copy_bytes
    PY.update({name: python_function(g[name]) for name in _COMPILED})
    # the helpers make no array: compiled without reference counting (``_numba.helper``), which
    # otherwise costs an atomic update per array argument per call, inlined or not (≈ 1 µs per
    # record here; the classifying pass of a 1 M-record annotate 0.26 → 0.08 s)
    # normtext may already have replaced its _put_int by a compiled one: take the function
    g["_put_int"] = helper(python_function(_put_int))
    for name in _COMPILED:
        entry = name in ("_classify_loop", "_split_loop", "_merge_loop", "_canonical_loop")
        g[name] = jit(PY[name]) if entry else helper(PY[name])
    return {
        "classify": g["_classify_loop"],
        "split": g["_split_loop"],
        "merge": g["_merge_loop"],
        "canonical": g["_canonical_loop"],
    }


# ------------------------------------------------------------------------------------------------
# Python side
# ------------------------------------------------------------------------------------------------


class KeyTable:
    """Declared INFO or FORMAT keys and their type codes, as arrays for the compiled lookup."""

    def __init__(self, types: dict[str, int]) -> None:
        size = 64
        while size < 4 * max(1, len(types)):
            size *= 2
        self.koff = np.full(size, -1, np.int64)
        self.klen = np.zeros(size, np.int64)
        self.ktype = np.zeros(size, np.int64)
        buf = bytearray()
        for key, typ in types.items():
            b = key.encode()
            h = int(_hash(np.frombuffer(b, np.uint8), 0, len(b))) & (size - 1)
            while self.koff[h] >= 0:
                h = (h + 1) & (size - 1)
            self.koff[h], self.klen[h], self.ktype[h] = len(buf), len(b), typ
            buf += b
        self.keys = np.frombuffer(bytes(buf) or b"\0", dtype=np.uint8)

    def arrays(self):
        return self.keys, self.koff, self.klen, self.ktype


def key_types(defs: dict[str, dict[str, str]], kind: str) -> dict[str, int]:
    """Type codes from header definitions (``Header.defined("INFO"|"FORMAT")``); anything
    unusual (a Flag with values, a FORMAT Flag, a non-String GT, an unknown type) is
    :data:`T_NO` (records using it go through norm)."""
    out = {}
    for key, f in defs.items():
        typ, number = f.get("Type", ""), f.get("Number", "")
        if typ == "Flag":
            code = T_FLAG if number == "0" and kind == "INFO" else T_NO
        elif number == "0":
            code = T_NO
        elif kind == "FORMAT" and key == "GT":
            code = T_GT if typ == "String" else T_NO
        else:
            code = {"Integer": T_INT, "Float": T_FLOAT, "String": T_STR, "Character": T_STR}.get(typ, T_NO)
        out[key] = code
    return out


def ref_bases(fasta, chrom: str, pos: np.ndarray) -> np.ndarray:
    """Upper-cased reference bases at sorted 1-based ``pos`` on ``chrom`` (pysam FastaFile),
    fetched in windows split at gaps over :data:`FETCH_GAP`."""
    out = np.zeros(len(pos), np.uint8)
    if not len(pos):
        return out
    cut = np.flatnonzero(np.diff(pos) > FETCH_GAP) + 1
    for a, b in zip(np.r_[0, cut].tolist(), np.r_[cut, len(pos)].tolist(), strict=True):
        p0, p1 = int(pos[a]), int(pos[b - 1])
        seq = np.frombuffer(fasta.fetch(chrom, p0 - 1, p1).encode("ascii"), dtype=np.uint8)
        idx = pos[a:b] - p0
        ok = idx < len(seq)
        got = np.zeros(b - a, np.uint8)
        got[ok] = seq[idx[ok]]
        out[a:b] = np.where((got >= 97) & (got <= 122), got - 32, got)
    return out


def classify(arr, tabs, ends, refb, info: KeyTable, fmt: KeyTable, any_alleles: bool = False) -> np.ndarray:
    """Per line: 1 = may skip norm as written, 2 = may skip norm as htslib prints it (trailing
    zeros of floats dropped), 0 = goes through norm (see the module docstring). ``any_alleles``:
    the text only, whatever its REF and ALT (``refb`` is then not used)."""
    out = np.zeros(len(tabs), np.uint8)
    if len(tabs) and tabs.shape[1] >= 7:  # at least the 8 fixed columns
        _kernels()["classify"](arr, tabs, ends, refb, *info.arrays(), *fmt.arrays(), any_alleles, out)
    return out


def key_tables(header) -> tuple[KeyTable, KeyTable]:
    """The INFO and FORMAT key tables of a header (for :func:`classify`)."""
    return (
        KeyTable(key_types(header.defined("INFO"), "INFO")),
        KeyTable(key_types(header.defined("FORMAT"), "FORMAT")),
    )


def printed_codes(block: bytes, tabs, ends, tables: tuple[KeyTable, KeyTable]) -> np.ndarray:
    """Per line of ``block`` (complete lines; ``tabs``/``ends`` from the caller's scan; ``tables``
    from :func:`key_tables`): 1 = htslib would print the record exactly as written, 2 = as written
    but for trailing zeros of its floats (:func:`canonical_block` writes it so), 0 = otherwise (the
    text part of the rule above, whatever the alleles)."""
    arr = np.frombuffer(block, dtype=np.uint8)
    return classify(arr, tabs, ends, np.zeros(len(tabs), np.uint8), *tables, any_alleles=True)


def canonical_block(block: bytes, starts, tabs, ends, codes, tables: tuple[KeyTable, KeyTable]) -> bytes:
    """``block`` with its code-2 lines (:func:`printed_codes`) written as htslib prints them:
    the trailing zeros of their floats dropped (``6.00`` → ``6``, ``0.250`` → ``0.25``); every
    other line as it is. Same lines, in order; never longer."""
    arr = np.frombuffer(block, dtype=np.uint8)
    out = np.empty(len(block) + 1, dtype=np.uint8)
    info, fmt = tables
    k = _kernels()["canonical"](
        arr, np.asarray(starts, np.int64), tabs, ends, codes, *info.arrays(), *fmt.arrays(), out
    )
    return out[:k].tobytes()


class Splitter:
    """The pre-pass's writer: per checked block, the records for norm into ``sink`` (norm's pipe)
    and the others into the side file ``side`` (flushed per block, so the writer can follow it).
    ``head(facts)`` gives norm's header, sent first (:meth:`send`).

    A thread writes to the pipe, so the pre-pass checks the next block while norm still reads the
    last one (a 1 MiB pipe holds an eighth of a block). Call :meth:`finish` once everything is
    sent (it re-raises a failed write, e.g. norm stopped reading), :meth:`close` always."""

    def __init__(self, header, fasta_path, side, sink, head) -> None:
        import pysam

        from ._io import Background

        self.head = head
        self.info, self.fmt = key_tables(header)
        self.fasta = pysam.FastaFile(str(fasta_path))
        self.side, self.sink = side, sink
        self.first = self.skipped = self.to_norm = 0
        self.all_to_norm = False  # decided on the first block (MIN_SHARE)
        self._feeder = Background(self._feed)

    def _feed(self, data) -> None:
        self.sink.write(data)
        self.sink.flush()

    def send(self, data) -> None:
        """Queue bytes for norm's pipe."""
        self._feeder.put(data)

    def write(self, block: bytes, scan, targets, run_starts, run_ends, rename) -> None:
        """One checked block (with the pre-pass's scan: line and tab offsets, POS, the contig of
        each run of lines, and the contig renames as a dict for the whole-block path)."""
        if self.all_to_norm:
            from .normalize import _renamed

            self.first += len(scan[0])
            self.to_norm += len(scan[0])
            self.send(_renamed(block, rename))
            return
        starts, tabs, pos = scan[0], scan[1], scan[2]
        n = len(starts)
        arr = np.frombuffer(block, dtype=np.uint8)
        ends = np.r_[starts[1:], len(block)].astype(np.int64) - 1
        snv = ((tabs[:, 3] - tabs[:, 2]) == 2) & ((tabs[:, 4] - tabs[:, 3]) == 2)
        refb = np.zeros(n, np.uint8)
        run_of = np.zeros(n, np.int64)
        for r, (a, b) in enumerate(zip(run_starts.tolist(), run_ends.tolist(), strict=True)):
            run_of[a:b] = r
            idx = np.flatnonzero(snv[a:b]) + a
            refb[idx] = ref_bases(self.fasta, targets[r], pos[idx])
        skip = classify(arr, tabs, ends, refb, self.info, self.fmt)
        names = [t.encode() for t in targets]
        name_off = np.r_[0, np.cumsum([len(x) for x in names])].astype(np.int64)
        name_arr = np.frombuffer(b"".join(names) or b"\0", dtype=np.uint8)
        room = len(block) + n * (24 + max(len(x) for x in names))  # rewritten lines only shrink
        out_n = np.empty(room, np.uint8)
        out_b = np.empty(room, np.uint8)
        kn, kb = _kernels()["split"](
            arr,
            starts,
            tabs,
            ends,
            skip,
            self.first,
            run_of,
            name_arr,
            name_off,
            *self.info.arrays(),
            *self.fmt.arrays(),
            out_n,
            out_b,
        )
        n_skip = int(np.count_nonzero(skip))
        if self.first == 0 and n_skip < MIN_SHARE * n:
            # the caller writes numbers htslib prints differently (or few SNVs): checking every
            # record would cost more than it saves; everything goes through norm, unchanged
            self.all_to_norm = True
            self.side.write(b"#all\n")
            self.side.flush()
            self.write(block, scan, targets, run_starts, run_ends, rename)
            return
        self.first += n
        self.skipped += n_skip
        self.to_norm += n - n_skip
        # the records that skip norm, then the progress mark (see _merge_loop), then norm's share
        self.side.write(memoryview(out_b)[:kb])
        self.side.write(f"#{self.first},{self.to_norm}\n".encode())
        self.side.flush()
        if kn:
            self.send(memoryview(out_n)[:kn])

    def finish(self) -> None:
        """Wait until everything sent is written; re-raise a failed write."""
        self._feeder.finish()

    def close(self) -> None:
        self._feeder.close()
        self.fasta.close()


class Merged:
    """Binary stream of norm's VCF text (``normed``, header first) merged with the side file
    (``side``): ``readline()`` gives the header lines, ``read(n)`` about ``n`` bytes of
    complete merged lines (``b""`` at the end). Both inputs are followed while being written
    (``read_some``). Raises ValueError for a malformed line."""

    def __init__(self, normed, side) -> None:
        self.n, self.b = normed, side
        self.nbuf = self.bbuf = b""
        self.n_eof = self.b_eof = False
        self.in_header = True
        self.state = np.array([0, 1, 0], np.int64)  # progress marks, see _merge_loop
        self.passthrough: bool | None = None  # "#all" first in the side file: norm's text as is

    def readline(self) -> bytes:
        if not self.in_header:
            raise ValueError("Merged.readline() reads header lines only")
        line = self.n.readline()
        if not line or line.startswith(b"#CHROM"):
            self.in_header = False
        return line

    def _pull(self, which: str, size: int) -> None:
        src = self.n if which == "n" else self.b
        got = src.read_some(size)
        if which == "n":
            if got:
                self.nbuf += got
            else:
                self.n_eof = True
        elif got:
            self.bbuf += got
        else:
            self.b_eof = True

    def read(self, size: int) -> bytes:
        merge = _kernels()["merge"]
        parts: list[bytes] = []
        total = 0
        while self.in_header:  # a reader that did not take the header line by line
            parts.append(self.readline())
            total += len(parts[-1])
        while self.passthrough is None:
            if b"\n" in self.bbuf or self.b_eof:
                self.passthrough = self.bbuf.startswith(b"#all\n")
            else:
                self._pull("b", size)
        if self.passthrough:
            parts.append(self.n.read(size))
            return b"".join(parts)
        while total < size:
            ncut = self.nbuf.rfind(b"\n") + 1
            bcut = self.bbuf.rfind(b"\n") + 1
            nb = np.frombuffer(self.nbuf, np.uint8, ncut)
            bb = np.frombuffer(self.bbuf, np.uint8, bcut)
            out = np.empty(ncut + bcut, np.uint8)
            k, i, j, status = merge(nb, bb, self.n_eof, self.b_eof, self.state, out)
            if status == 4:
                raise ValueError("malformed line in the merged streams of bcftools norm")
            if k:
                parts.append(out[:k].tobytes())
                total += k
            self.nbuf = self.nbuf[i:]
            self.bbuf = self.bbuf[j:]
            if status == 1:
                self._pull("n", 1 << 20)
            elif status == 2:
                self._pull("b", size)
            elif status == 0:
                break
        return b"".join(parts)
