"""Columns of normalised VCF text, as ``bcftools query`` would print them, without a second pass.

``ccev normalize`` reads the read-support fields of every record (``AD{0}``, ``DP``, ``TAR{0}``,
``INFO/PRECISE`` … see :data:`ccevariants.callers.RULE_FORMAT`). Earlier versions ran ``bcftools
query`` over norm's output and parsed the table with pandas; the values are now taken from the
VCF text that the writer scans anyway (norm's own htslib-formatted output, so every number is
already printed the way ``bcftools query`` prints it). :func:`query_frame` returns the same table
that :func:`ccevariants.callers.query_tables` yields — same column order, same missing values,
numbers as float64 and text columns as ``str`` objects — so :class:`ccevariants.callers.Columns`
and the caller rules run unchanged; the test suite checks the two agree on real caller VCFs.

Semantics (those of ``bcftools query``): ``TAG`` = the whole value of a FORMAT/INFO field;
``TAG{i}`` = its 0-based ``i``-th comma-separated element; ``.`` when the tag is absent from the
record's FORMAT/INFO, the sample has fewer fields than FORMAT keys, the element does not exist or
the value is empty; an INFO flag prints ``1`` when set. ``END`` is ``INFO/END`` when present and
not before POS (htslib ignores such an END), else ``POS + len(REF) - 1`` (1-based, inclusive). Kernels are compiled with Numba (``nogil``, cached);
positions in the byte arrays are 0-based offsets into one block of complete lines.
"""

from __future__ import annotations

import numpy as np

from .callers import BASE_COLUMNS

#: Expressions whose values stay text (VarScan's "12.5%" FREQ, the raw AD list, CCEV_ORIG).
TEXT_EXPRS = frozenset({"FREQ", "AD", "CCEV_ORIG"})

_DOT = 46


def _lines_loop(arr, ntabs, starts, tabs, ends):  # pragma: no cover - compiled by Numba
    """Start and newline of every line and its ``ntabs`` tab positions (the last column ends at
    the newline). Returns the number of lines, or ``-(k + 1)`` when line ``k`` has another number
    of columns."""
    n = 0
    i = 0
    size = arr.shape[0]
    while i < size:
        starts[n] = i
        k = 0
        j = i
        while arr[j] != 10:
            if arr[j] == 9:
                if k == ntabs:
                    return -(n + 1)
                tabs[n, k] = j
                k += 1
            j += 1
        if k != ntabs:
            return -(n + 1)
        ends[n] = j
        n += 1
        i = j + 1
    return n


def _equals_loop(arr, s, e, text, out):  # pragma: no cover - compiled by Numba
    """``out[i]`` = ``arr[s[i]:e[i]]`` equals ``text``."""
    m = text.shape[0]
    for i in range(s.shape[0]):
        same = e[i] - s[i] == m
        if same:
            for k in range(m):
                if arr[s[i] + k] != text[k]:
                    same = False
                    break
        out[i] = same


def _has_prefix(arr, p, key):  # pragma: no cover - compiled by Numba
    """``arr[p:p + len(key)] == key`` (the caller checks that many bytes are there)."""
    for m in range(key.shape[0]):
        if arr[p + m] != key[m]:
            return False
    return True


def _find_key(arr, s, e, sep, key, flag_ok):  # pragma: no cover - compiled by Numba
    """In ``arr[s:e]`` (items separated by ``sep``) find the item ``key`` (``key=value`` items
    for INFO). Returns ``(item index, value start, value end)``; index -1 when absent; value start
    -2 for a set INFO flag."""
    klen = key.shape[0]
    idx = 0
    p = s
    while p <= e:
        q = p
        while q < e and arr[q] != sep:
            q += 1
        # item is arr[p:q]
        if q - p >= klen and _has_prefix(arr, p, key):
            if q - p == klen:
                return idx, (-2 if flag_ok else p + klen), (-2 if flag_ok else p + klen)
            if flag_ok and arr[p + klen] == 61:  # '='
                return idx, p + klen + 1, q
        idx += 1
        p = q + 1
    return -1, -1, -1


def _nth(arr, s, e, sep, n):  # pragma: no cover - compiled by Numba
    """Start and end of the ``n``-th ``sep``-separated item of ``arr[s:e]``; (-1, -1) if absent."""
    k = 0
    p = s
    while True:
        q = p
        while q < e and arr[q] != sep:
            q += 1
        if k == n:
            return p, q
        if q >= e:
            return -1, -1
        k += 1
        p = q + 1


def _info_loop(arr, s, e, key, index, out_s, out_e):  # pragma: no cover - compiled by Numba
    """Value of INFO ``key`` (element ``index``) per line; -1 missing, -2 a set flag."""
    for i in range(s.shape[0]):
        out_s[i] = -1
        out_e[i] = -1
        k, a, b = _find_key(arr, s[i], e[i], 59, key, True)
        if k < 0:
            continue
        if a == -2:
            out_s[i] = -2
            continue
        if index >= 0:
            a, b = _nth(arr, a, b, 44, index)
            if a < 0:
                continue
        if b > a and not (b - a == 1 and arr[a] == _DOT):
            out_s[i] = a
            out_e[i] = b


def _float_loop(arr, s, e, out, slow):  # pragma: no cover - compiled by Numba
    """Parse decimal numbers (``-12``, ``0.25``, ``1e-3``); NaN for missing. Returns the number of
    present values that are not numbers (the column is then kept as text, as pandas does).
    ``slow[i]`` is set for numbers this loop cannot convert with one exact operation (more than
    15 significant digits or a power of ten beyond 1e22): the caller parses those in Python."""
    bad = 0
    for i in range(s.shape[0]):
        a = s[i]
        b = e[i]
        if a == -2:
            out[i] = 1.0
            continue
        if a < 0:
            out[i] = np.nan
            continue
        p = a
        neg = False
        if arr[p] == 45 or arr[p] == 43:
            neg = arr[p] == 45
            p += 1
        mant = np.int64(0)
        digits = 0
        scale = 0
        seen = False
        while p < b and 48 <= arr[p] <= 57:
            if digits < 18:
                mant = mant * 10 + (arr[p] - 48)
                if mant:
                    digits += 1
            else:
                scale += 1
            seen = True
            p += 1
        if p < b and arr[p] == 46:
            p += 1
            while p < b and 48 <= arr[p] <= 57:
                if digits < 18:
                    mant = mant * 10 + (arr[p] - 48)
                    if mant:
                        digits += 1
                    scale -= 1
                seen = True
                p += 1
        if seen and p < b and (arr[p] == 101 or arr[p] == 69):
            p += 1
            eneg = False
            if p < b and (arr[p] == 45 or arr[p] == 43):
                eneg = arr[p] == 45
                p += 1
            ex = 0
            eseen = False
            while p < b and 48 <= arr[p] <= 57:
                ex = ex * 10 + (arr[p] - 48)
                eseen = True
                p += 1
            if not eseen:
                seen = False
            scale += -ex if eneg else ex
        if not seen or p != b:
            out[i] = np.nan
            bad += 1
            continue
        if mant > 9007199254740992 or scale < -22 or scale > 22:
            slow[i] = True
            out[i] = np.nan
            continue
        # one correctly rounded operation: mantissa and power of ten are exact doubles
        v = np.float64(mant)
        if scale < 0:
            v = v / 10.0 ** (-scale)
        elif scale > 0:
            v = v * 10.0**scale
        out[i] = -v if neg else v
    return bad


def _info_keys_loop(arr, s, e, keys, key_off, out_s, out_e):  # pragma: no cover - compiled by Numba
    """Value spans of the *last* ``KEY=value`` item of each key (a dict built item by item keeps
    the last; items without ``=`` are skipped), all keys in one pass over each INFO: ``out_s[j, i]``
    / ``out_e[j, i]`` for key ``j`` (``keys[key_off[j]:key_off[j + 1]]``) in INFO
    ``arr[s[i]:e[i]]``; -1 when absent."""
    nk = key_off.shape[0] - 1
    for i in range(s.shape[0]):
        for j in range(nk):
            out_s[j, i] = -1
            out_e[j, i] = -1
        p = s[i]
        b = e[i]
        while p < b:
            q = p
            while q < b and arr[q] != 59:
                q += 1
            for j in range(nk):
                k0 = key_off[j]
                klen = key_off[j + 1] - k0
                if q - p > klen and arr[p + klen] == 61:
                    same = True
                    for m in range(klen):
                        if arr[p + m] != keys[k0 + m]:
                            same = False
                            break
                    if same:
                        out_s[j, i] = p + klen + 1
                        out_e[j, i] = q
                        break
            p = q + 1


def _split2_loop(arr, s, e, a_s, a_e, b_s, b_e):  # pragma: no cover - compiled by Numba
    """The first two comma-separated elements of each span (``s`` = -1: absent): the second is
    absent (-1) when there is no comma."""
    for i in range(s.shape[0]):
        a_s[i] = a_e[i] = b_s[i] = b_e[i] = -1
        if s[i] < 0:
            continue
        q = s[i]
        while q < e[i] and arr[q] != 44:
            q += 1
        a_s[i] = s[i]
        a_e[i] = q
        if q < e[i]:
            r = q + 1
            while r < e[i] and arr[r] != 44:
                r += 1
            b_s[i] = q + 1
            b_e[i] = r


def _plain_int_loop(arr, s, e, out, odd):  # pragma: no cover - compiled by Numba
    """``-?[0-9]{1,18}`` spans as integers; absent, ``.`` and empty as -1; anything else sets
    ``odd[i]`` (the caller converts those one by one)."""
    for i in range(s.shape[0]):
        a = s[i]
        b = e[i]
        out[i] = -1
        if a < 0 or b == a or (b - a == 1 and arr[a] == 46):
            continue
        neg = arr[a] == 45
        p = a + 1 if neg else a
        if b - p < 1 or b - p > 18:
            odd[i] = True
            continue
        v = np.int64(0)
        for q in range(p, b):
            d = np.int64(arr[q]) - 48
            if d < 0 or d > 9:
                odd[i] = True
                break
            v = v * 10 + d
        if not odd[i]:
            out[i] = -v if neg else v


def _same_as_prev_loop(arr, s, e, out):  # pragma: no cover - compiled by Numba
    """``out[i]`` = segment ``i`` has the same bytes as segment ``i - 1`` (False for the first)."""
    for i in range(s.shape[0]):
        same = False
        if i > 0 and e[i] - s[i] == e[i - 1] - s[i - 1]:
            same = True
            for k in range(e[i] - s[i]):
                if arr[s[i] + k] != arr[s[i - 1] + k]:
                    same = False
                    break
        out[i] = same


def _same_keys_loop(arr, s, e, out):  # pragma: no cover - compiled by Numba
    """``out[i]`` = INFO segment ``i`` has the same keys in the same order as segment ``i - 1``
    (values ignored: ``A=1;B`` and ``A=7;B`` match)."""
    for i in range(s.shape[0]):
        same = i > 0
        if same:
            p = s[i]
            q = s[i - 1]
            pe = e[i]
            qe = e[i - 1]
            while True:
                # compare keys up to '=' / ';' / end
                while p < pe and q < qe and arr[p] == arr[q] and arr[p] != 61 and arr[p] != 59:
                    p += 1
                    q += 1
                a = arr[p] if p < pe else 59
                b = arr[q] if q < qe else 59
                if a != b or (a != 61 and a != 59):
                    same = False
                    break
                if a == 61:  # skip both values
                    while p < pe and arr[p] != 59:
                        p += 1
                    while q < qe and arr[q] != 59:
                        q += 1
                if p >= pe or q >= qe:
                    same = p >= pe and q >= qe
                    break
                p += 1
                q += 1
        out[i] = same


def run_heads(arr: np.ndarray, s: np.ndarray, e: np.ndarray, keys_only: bool = False) -> np.ndarray:
    """Indices of the segments ``arr[s:e]`` that differ from the previous one (the first always);
    ``keys_only``: compare INFO key sequences, ignoring values."""
    same = np.empty(len(s), np.bool_)
    if len(s):
        _kernels()["same_keys" if keys_only else "same"](
            arr, np.ascontiguousarray(s, np.int64), np.ascontiguousarray(e, np.int64), same
        )
    return np.flatnonzero(~same)


def _format_multi_loop(arr, fs, fe, ss, se, keys, key_off, index, out_s, out_e):  # pragma: no cover
    """Value of each FORMAT (key, index) pair (whole value if index < 0; -1 = missing) per line
    (rows of ``out_s``/``out_e``, one per pair). The key positions are looked up again only when FORMAT
    differs from the previous line's; the sample column is split into its fields once per line."""
    m = key_off.shape[0] - 1
    pos = np.full(m, -1, np.int64)
    need = 0  # fields of the sample column the keys need
    f_a = np.empty(64, np.int64)
    f_b = np.empty(64, np.int64)
    ps = -1
    pe = -1
    for i in range(fs.shape[0]):
        same = ps >= 0 and fe[i] - fs[i] == pe - ps
        if same:
            for q in range(fe[i] - fs[i]):
                if arr[fs[i] + q] != arr[ps + q]:
                    same = False
                    break
        if not same:
            need = 0
            for j in range(m):
                k, _, _ = _find_key(arr, fs[i], fe[i], 58, keys[key_off[j] : key_off[j + 1]], False)
                pos[j] = k
                need = max(need, k + 1)
            ps = fs[i]
            pe = fe[i]
        # the first `need` ':'-separated fields of the sample (at most 64; later keys walk)
        nf = 0
        a = ss[i]
        q = a
        e = se[i]
        while nf < need and nf < 64:
            while q < e and arr[q] != 58:
                q += 1
            f_a[nf] = a
            f_b[nf] = q
            nf += 1
            if q >= e:
                break
            q += 1
            a = q
        for j in range(m):
            out_s[j, i] = -1
            out_e[j, i] = -1
            if pos[j] < 0:
                continue
            if pos[j] < nf:
                a, b = f_a[pos[j]], f_b[pos[j]]
            elif pos[j] < 64:
                continue  # the sample has fewer fields than FORMAT keys
            else:
                a, b = _nth(arr, ss[i], se[i], 58, pos[j])
                if a < 0:
                    continue
            if index[j] >= 0:
                a, b = _nth(arr, a, b, 44, index[j])
                if a < 0:
                    continue
            if b > a and not (b - a == 1 and arr[a] == _DOT):
                out_s[j, i] = a
                out_e[j, i] = b


copy_bytes = None  # (the compiled memcpy, ``_numba.copy_bytes``: set by _build_kernels)


def _put_int(out, k, v):  # pragma: no cover - compiled by Numba
    """Write the decimal digits of ``v`` >= 0 at ``out[k:]``; returns the new ``k``."""
    if v == 0:
        out[k] = 48
        return k + 1
    n = 0
    t = v
    while t > 0:
        t //= 10
        n += 1
    for q in range(n - 1, -1, -1):
        out[k + q] = 48 + v % 10
        v //= 10
    return k + n


def _emit_loop(
    arr,
    ls,
    t6,
    ie,
    nl,
    keep,
    comp,
    ints,
    af_s,
    af_l,
    af_buf,
    lit,
    lit_off,
    extra,
    extra_s,
    extra_l,
    out,
    line_end,
):  # pragma: no cover
    """Kept lines with their INFO additions (see :func:`emit_records`); returns bytes written."""
    k = 0
    roles = ints.shape[1] // 3
    for i in range(ls.shape[0]):
        if not keep[i]:
            continue
        add = comp[i] or extra_l[i] > 0
        dot = add and ie[i] - t6[i] == 2 and arr[t6[i] + 1] == 46
        stop = t6[i] + 1 if dot else ie[i]
        n = stop - ls[i]
        copy_bytes(out, k, arr, ls[i], n)
        k += n
        if comp[i]:
            first = True
            for r in range(roles):
                for f in range(4):
                    j = r * 4 + f
                    a = lit_off[j] + (1 if first and dot else 0)
                    first = False
                    copy_bytes(out, k, lit, a, lit_off[j + 1] - a)
                    k += lit_off[j + 1] - a
                    if f < 3:
                        k = _put_int(out, k, ints[i, r * 3 + f])
                    else:
                        copy_bytes(out, k, af_buf, af_s[i, r], af_l[i, r])
                        k += af_l[i, r]
        elif extra_l[i] > 0:
            a = extra_s[i] + (1 if dot else 0)
            copy_bytes(out, k, extra, a, extra_s[i] + extra_l[i] - a)
            k += extra_s[i] + extra_l[i] - a
        n = nl[i] + 1 - ie[i]
        copy_bytes(out, k, arr, ie[i], n)
        k += n
        line_end[i] = k
    return k


_K: dict = {}


def _build_kernels() -> dict:
    from ._numba import copy_bytes, helper, jit
    from ._numba import python_function as py

    k = {}
    # the helpers make no array: compiled without reference counting (``_numba.helper``)
    prefix = helper(py(_has_prefix))
    py(_find_key).__globals__["_has_prefix"] = prefix
    find = helper(py(_find_key))
    nth = helper(py(_nth))
    g = {"_find_key": find, "_nth": nth, "_has_prefix": prefix, "_DOT": _DOT, "np": np}
    for name, fn in (("info", _info_loop), ("format_multi", _format_multi_loop)):
        # the loops call the compiled helpers through their module globals
        fn.__globals__.update(g)
        k[name] = jit(fn)
    k["lines"] = jit(_lines_loop)
    _emit_loop.__globals__["_put_int"] = helper(py(_put_int))
    _emit_loop.__globals__["copy_bytes"] = copy_bytes
    k["emit"] = helper(_emit_loop)  # (it makes no array: no reference counting)
    k["float"] = jit(_float_loop)
    k["same"] = jit(_same_as_prev_loop)
    k["equals"] = jit(_equals_loop)
    k["same_keys"] = jit(_same_keys_loop)
    k["info_keys"] = jit(_info_keys_loop)
    k["split2"] = jit(_split2_loop)
    k["plain_int"] = jit(_plain_int_loop)
    k["plain_decimal"] = jit(_plain_decimal_loop)
    return k


def _kernels():
    from ._numba import build_once

    return build_once(_K, _build_kernels)


class Block:
    """One block of complete VCF data lines (``\\n``-terminated) with its line and tab offsets."""

    def __init__(self, data: bytes, n_columns: int) -> None:
        self.data = data
        self.arr = np.frombuffer(data, dtype=np.uint8)
        n = self.n = data.count(b"\n")
        self.n_columns = n_columns
        self.starts = np.empty(n, np.int64)
        self.ends = np.empty(n, np.int64)
        self.tabs = np.empty((n, n_columns - 1), np.int64)
        got = _kernels()["lines"](self.arr, n_columns - 1, self.starts, self.tabs, self.ends) if n else 0
        if got != n:
            raise ValueError(f"expected {n_columns} columns on every line; line {-got} of the block differs")
        self._src_cache = None

    @property
    def _src(self) -> np.ndarray:
        """The bytes with a dot appended: the source of every missing value."""
        if self._src_cache is None:
            self._src_cache = np.concatenate([self.arr, np.array([_DOT], np.uint8)])
        return self._src_cache

    def column(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """0-based start and end of column ``c`` (0 = CHROM) on every line."""
        s = self.starts if c == 0 else self.tabs[:, c - 1] + 1
        e = self.tabs[:, c] if c < self.n_columns - 1 else self.ends
        return s, e

    def text(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Object array of str for the segments ``[s, e)``; ``-1`` starts give ``'.'``, ``-2`` ``'1'``."""
        from .vcfutil import gather_segments

        if not len(s):
            return np.empty(0, dtype=object)
        s = np.asarray(s, np.int64)
        miss = s < 0
        starts = np.where(miss, len(self.arr), s)
        lens = np.where(miss, 1, e - s)
        src = self._src
        if (s == -2).any():
            src = np.concatenate([self._src, np.array([49], np.uint8)])
            starts = np.where(s == -2, len(self.arr) + 1, starts)
        joined = gather_segments(src, starts, lens, sep=10).tobytes().decode("ascii", "replace")
        out = np.empty(len(s), dtype=object)
        out[:] = joined.split("\n")[:-1]
        return out

    def runs_text(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Like :meth:`text` for low-cardinality columns (CHROM, FILTER): one str per run of equal
        values, repeated (present segments only)."""
        first = run_heads(self.arr, s, e)
        names = self.text(s[first], e[first])
        return np.repeat(names, np.diff(np.r_[first, len(s)]))

    def number(self, s: np.ndarray, e: np.ndarray) -> np.ndarray:
        """float64 values of the segments (NaN missing), or the text when any value is not a number."""
        out = np.empty(len(s), np.float64)
        slow = np.zeros(len(s), np.bool_)
        bad = _kernels()["float"](self.arr, s, e, out, slow) if len(s) else 0
        if bad:
            return self.text(s, e)
        rows = np.flatnonzero(slow)
        if len(rows):
            out[rows] = [float(x) for x in self.text(s[rows], e[rows]).tolist()]
        return out


class LazyText:
    """A text column of a :class:`Block` that makes ``str`` objects only for the rows asked for:
    ``col[idx]`` (an int or an index array) and ``col == "PASS"`` / ``col != "."`` (bool arrays,
    compared on the bytes). ``np.asarray(col)`` gives the whole object array."""

    lazy_text = True

    def __init__(self, block: Block, s: np.ndarray, e: np.ndarray) -> None:
        self.block, self.s, self.e = block, s, e

    def __len__(self) -> int:
        return len(self.s)

    def __getitem__(self, idx):
        if np.isscalar(idx):
            i = int(idx)
            return self.block.data[self.s[i] : self.e[i]].decode("ascii", "replace")
        idx = np.arange(len(self.s))[idx] if isinstance(idx, slice) else np.asarray(idx)
        if idx.dtype == np.bool_:
            idx = np.flatnonzero(idx)
        return self.block.text(self.s[idx], self.e[idx])

    def __eq__(self, other) -> np.ndarray:  # type: ignore[override]
        out = np.empty(len(self.s), np.bool_)
        if len(out):
            t = np.frombuffer(str(other).encode(), np.uint8)
            _kernels()["equals"](self.block.arr, self.s, self.e, t, out)
        return out

    def __ne__(self, other) -> np.ndarray:  # type: ignore[override]
        return ~self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __array__(self, dtype=None, copy=None):
        out = self.block.text(self.s, self.e)
        return out if dtype is None else out.astype(dtype)

    def astype(self, dtype):
        return np.asarray(self).astype(dtype)

    def tolist(self) -> list:
        return np.asarray(self).tolist()


def info_items(arr, s, e, names) -> tuple[np.ndarray, np.ndarray]:
    """Value spans ``(starts, ends)`` [len(names), n] of the last ``NAME=value`` item of each name
    in the INFO texts ``arr[s[i]:e[i]]`` (-1 when absent), all names in one pass."""
    n = len(s)
    key_off = np.cumsum([0] + [len(x) for x in names]).astype(np.int64)
    vs, ve = np.empty((len(names), n), np.int64), np.empty((len(names), n), np.int64)
    keys = np.frombuffer("".join(names).encode(), np.uint8)
    _kernels()["info_keys"](arr, np.asarray(s, np.int64), np.asarray(e, np.int64), keys, key_off, vs, ve)
    return vs, ve


def read_support(arr, s, e, int_fix, float_fix) -> np.ndarray:
    """Read support from the INFO texts ``arr[s[i]:e[i]]`` (uint8 bytes, int64 spans): float64
    ``[n, 8]`` = T_DP, T_AD ref/alt, N_DP, N_AD ref/alt, T_AF, N_AF (-1 / NaN when missing; the
    last of a repeated key). Plain integers and decimals are converted here; any other value text
    goes through ``int_fix(text)`` / ``float_fix(text)`` (annotate's per-value functions)."""
    n = len(s)
    k = _kernels()
    out = np.empty((n, 8), dtype=np.float64)
    names = ("T_DP", "T_AD", "N_DP", "N_AD", "T_AF", "N_AF")
    vs_all, ve_all = info_items(arr, s, e, names)
    spans = {key: (vs_all[j], ve_all[j]) for j, key in enumerate(names)}  # (one pass over INFO)

    def text(a, b) -> str:
        return arr[a:b].tobytes().decode()

    def ints(col, vs, ve):
        vals, odd = np.empty(n, np.int64), np.zeros(n, np.bool_)
        k["plain_int"](arr, vs, ve, vals, odd)
        for i in np.flatnonzero(odd).tolist():
            vals[i] = int_fix(text(vs[i], ve[i]))
        out[:, col] = vals

    for col, key in ((0, "T_DP"), (3, "N_DP")):
        ints(col, *spans[key])
    for col, key in ((1, "T_AD"), (4, "N_AD")):
        parts = [np.empty(n, np.int64) for _ in range(4)]
        k["split2"](arr, *spans[key], *parts)
        ints(col, parts[0], parts[1])
        ints(col + 1, parts[2], parts[3])
    for col, key in ((6, "T_AF"), (7, "N_AF")):
        vs, ve = spans[key]
        vals, slow = np.empty(n, np.float64), np.zeros(n, np.bool_)
        k["float"](arr, vs, ve, vals, slow)
        # what the loop took as a plain decimal stays; anything else (",", "e", "nan", "+", ".5",
        # > 15 digits …) goes through float_fix, which decides as before
        plain = np.zeros(n, np.bool_)
        k["plain_decimal"](arr, vs, ve, plain)
        for i in np.flatnonzero((~plain | slow) & (vs >= 0)).tolist():
            vals[i] = float_fix(text(vs[i], ve[i]))
        out[:, col] = vals
    return out


def _plain_decimal_loop(arr, s, e, out):  # pragma: no cover - compiled by Numba
    """``out[i]``: the span is absent or matches ``-?[0-9]{1,15}(\\.[0-9]{1,15})?`` (what a
    single correctly rounded operation converts)."""
    for i in range(s.shape[0]):
        a = s[i]
        b = e[i]
        out[i] = True
        if a < 0:
            continue
        p = a + 1 if a < b and arr[a] == 45 else a
        q = p
        while q < b and 48 <= arr[q] <= 57:
            q += 1
        ok = 1 <= q - p <= 15
        if ok and q < b:
            if arr[q] != 46:
                ok = False
            else:
                r = q + 1
                while r < b and 48 <= arr[r] <= 57:
                    r += 1
                ok = r == b and 1 <= r - q - 1 <= 15
        out[i] = ok


def _split_expr(expr: str) -> tuple[bytes, int]:
    tag, _, rest = expr.partition("{")
    return tag.encode(), (int(rest.rstrip("}")) if rest else -1)


def query_frame(block: Block, fmt_exprs, info_exprs, n_samples: int):
    """The ``bcftools query`` table of one block (see :func:`ccevariants.callers.query_tables`) as
    ``{column number: array}``: CHROM POS REF ALT FILTER END (POS and END int64), the INFO
    expressions, then per sample the FORMAT expressions (float64, or ``str`` objects)."""
    k = _kernels()
    n = block.n
    cols: dict[int, object] = {}
    cols[0] = block.runs_text(*block.column(0))
    pos_s, pos_e = block.column(1)
    pos = block.number(pos_s, pos_e)
    if pos.dtype != np.float64 or np.isnan(pos).any():
        raise ValueError("expected an integer POS on every line")
    cols[1] = pos.astype(np.int64)
    ref_s, ref_e = block.column(3)
    cols[2] = LazyText(block, ref_s, ref_e)
    cols[3] = LazyText(block, *block.column(4))
    cols[4] = LazyText(block, *block.column(6))
    info_s, info_e = block.column(7)
    es = np.empty(n, np.int64)
    ee = np.empty(n, np.int64)
    if n:
        k["info"](block.arr, info_s, info_e, np.frombuffer(b"END", np.uint8), -1, es, ee)
    end = block.number(es, ee)
    own = cols[1] + (ref_e - ref_s) - 1
    if end.dtype == np.float64:
        # htslib ignores an END before POS (with a warning) and takes REF's length
        end = np.where(np.isnan(end) | (end < cols[1]), own, end).astype(np.int64)
    else:  # a non-numeric END: htslib ignores it
        end = own
    cols[5] = end
    c = len(BASE_COLUMNS)
    for expr in info_exprs:
        tag, index = _split_expr(expr)
        s = np.empty(n, np.int64)
        e = np.empty(n, np.int64)
        if n:
            k["info"](block.arr, info_s, info_e, np.frombuffer(tag, np.uint8), index, s, e)
        cols[c] = block.text(s, e) if expr in TEXT_EXPRS else block.number(s, e)
        c += 1
    if fmt_exprs and n_samples:
        fs, fe = block.column(8)
        parts = [_split_expr(x) for x in fmt_exprs]
        keys = np.frombuffer(b"".join(t for t, _ in parts), np.uint8)
        key_off = np.zeros(len(parts) + 1, np.int64)
        key_off[1:] = np.cumsum([len(t) for t, _ in parts])
        index = np.array([i for _, i in parts], np.int64)
        m = len(parts)
        for j in range(n_samples):
            ss, se = block.column(9 + j)
            s = np.empty((m, n), np.int64)
            e = np.empty((m, n), np.int64)
            if n:
                k["format_multi"](block.arr, fs, fe, ss, se, keys, key_off, index, s, e)
            for q, expr in enumerate(fmt_exprs):
                cols[c] = block.text(s[q], e[q]) if expr in TEXT_EXPRS else block.number(s[q], e[q])
                c += 1
    return cols


def emit_records(
    block: Block, keep, comp, ints, af_s, af_l, af_buf, literals, extra, extra_s, extra_l
) -> bytes:
    """The kept lines of ``block`` with INFO additions inserted where INFO ends (an INFO of ``.``
    is replaced, the addition's leading ``;`` dropped).

    Records with ``comp`` set get ``literals[3r] ints[:, 3r] literals[3r+1] ints[:, 3r+1]
    literals[3r+2] ints[:, 3r+2] literals[3r+3] af_buf[af_s:af_s+af_l]`` per role ``r`` (e.g.
    ``;T_DP=40;T_AD=30,10;T_AF=0.25``); other kept records get ``extra[extra_s:extra_s+extra_l]``
    (possibly nothing). ``ints``: (n, 3 × roles) non-negative int64; ``af_s``/``af_l``: (n, roles).
    Returns the bytes and, per kept line, the offset just past its newline in them.
    """
    n = block.n
    line_end = np.zeros(n, np.int64)
    if not n:
        return b"", line_end
    t6 = np.ascontiguousarray(block.tabs[:, 6])
    ie = np.ascontiguousarray(block.tabs[:, 7]) if block.n_columns > 8 else block.ends
    lit = np.frombuffer(b"".join(literals), np.uint8)
    lit_off = np.zeros(len(literals) + 1, np.int64)
    lit_off[1:] = np.cumsum([len(x) for x in literals])
    roles = ints.shape[1] // 3
    bound = len(block.arr) + int(extra_l.sum()) + n * roles * (len(lit) // max(roles, 1) + 3 * 20 + 32)
    out = np.empty(bound, np.uint8)
    got = _kernels()["emit"](
        block.arr, block.starts, t6, ie, block.ends, keep, comp, ints, af_s, af_l, af_buf,
        lit, lit_off, extra, extra_s, extra_l, out, line_end,
    )  # fmt: skip
    return out[:got].tobytes(), line_end
