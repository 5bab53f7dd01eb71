"""Arrow arrays from NumPy arrays and Python lists, built from their buffers.

``pyarrow.array`` asks of every input — a list, a NumPy array — whether it is a pandas object, and
to ask it imports pandas: about 0.35 s in every process that makes an array, used or not. The
annotation path builds its arrays with :func:`array` instead, so that ``ccev annotate`` never imports
pandas (``tests/test_arrow.py`` checks it). Values and types are those ``pyarrow.array``
gives: integers are cast with Arrow's safe cast (overflow is an error, not a wrap), NaN stays NaN,
``None`` in a list of strings is null.
"""

from __future__ import annotations

import numpy as np

from .kernels import read_only


def array(values, type=None):  # noqa: A002 - pyarrow's own parameter name
    """``pyarrow.array(values, type=type)`` for a pyarrow array, a NumPy array (bool, integer or
    float) or a list of ``str``/``None`` (a list of numbers goes through NumPy)."""
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return values if type is None or values.type.equals(type) else values.cast(type)
    if type is not None and (pa.types.is_string(type) or pa.types.is_large_string(type)):
        return strings(values, type)
    if not isinstance(values, np.ndarray):
        if type is None and any(isinstance(v, str) for v in values):
            return strings(values)
        if len(values) == 0:
            return pa.nulls(0) if type is None else pa.nulls(0, type)
        values = np.asarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        out = pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    elif values.dtype.kind in "iuf":
        data = np.ascontiguousarray(values)
        out = pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), len(data), [None, pa.py_buffer(data)])
    else:
        raise TypeError(f"expected a bool, integer or float array; found dtype {values.dtype}")
    return out if type is None or out.type.equals(type) else out.cast(type)


def utf8(values) -> tuple[np.ndarray, bytes]:
    """The UTF-8 bytes of ``values`` (``str``; ``None`` as empty) one after the other, and int64
    offsets: value ``i`` is ``data[off[i]:off[i + 1]]``."""
    data = [b"" if v is None else v.encode() for v in values]
    off = np.zeros(len(data) + 1, dtype=np.int64)
    if data:
        np.cumsum(np.fromiter(map(len, data), dtype=np.int64, count=len(data)), out=off[1:])
    return off, b"".join(data)


def from_offsets(off: np.ndarray, data, validity=None, null_count: int = 0, large: bool = False):
    """A string array over ``data`` (bytes or a uint8 array) cut at the int64 offsets ``off``
    (``large_string`` when ``large`` or past 2 GiB); no copy of the bytes."""
    import pyarrow as pa

    n = len(off) - 1
    if large or off[-1] >= 2**31:
        return pa.LargeStringArray.from_buffers(
            n, pa.py_buffer(off), pa.py_buffer(data), validity, null_count
        )
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(off.astype(np.int32)), pa.py_buffer(data), validity, null_count
    )


def strings(values, type=None):  # noqa: A002
    """A string array (``large_string`` when ``type`` says so or past 2 GiB) from a list of
    ``str``/``None`` or a NumPy array of them."""
    import pyarrow as pa

    off, blob = utf8(values)
    nulls = [i for i, v in enumerate(values) if v is None]
    validity = None
    if nulls:
        valid = np.ones(len(off) - 1, dtype=bool)
        valid[nulls] = False
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return from_offsets(off, blob, validity, len(nulls), type is not None and pa.types.is_large_string(type))


def buffers(values) -> tuple[np.ndarray, np.ndarray]:
    """int64 offsets (one per value + 1) and bytes (uint8, at least one, always a read-only array:
    the kernels they feed are compiled once, for read-only bytes) of a string column: a pyarrow
    string array without nulls, or a list of ``str`` (encoded, no Arrow array made)."""
    import pyarrow as pa

    if not isinstance(values, pa.Array):
        off, blob = utf8(values)
        return off, np.frombuffer(blob or b"\0", dtype=np.uint8)
    if values.null_count:
        raise ValueError(f"expected a string column without missing values; found {values.null_count}")
    wide = np.int64 if values.type == pa.large_string() else np.int32
    o = values.offset
    offsets = np.frombuffer(values.buffers()[1], dtype=wide)[o : o + len(values) + 1]
    data = values.buffers()[2]
    dat = np.frombuffer(data if data is not None and data.size else b"\0", dtype=np.uint8)
    return offsets.astype(np.int64), read_only(dat)  # (writable over a mutable Arrow buffer)


#: :func:`dictionary` of distinct values: index ranges narrower than this (or than 1/8 of the
#: rows) are the dictionary as they are.
NARROW = 4096


def dictionary(values, index: np.ndarray, unique: bool = False):
    """``values.take(index)`` as a dictionary array whose dictionary holds each value taken once:
    no unused entries, no repeats (a Parquet writer given a dictionary array writes it as the column
    chunk's dictionary page and the indices as they are, where a string column would be hashed row
    by row; it requires the dictionary to be unique). ``values``: a string array without nulls;
    ``unique``: the caller knows its values are distinct (they are not hashed again; when the
    indices span a narrow range of them — per-transcript values of a chunk of position-sorted
    records — the dictionary is that range as it is, a few values no row uses included: no
    gather, no copy)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    index = np.asarray(index)
    if unique and len(index):
        lo, hi = int(index.min()), int(index.max())
        if hi - lo < NARROW or (hi - lo) * 8 < len(index):
            return pa.DictionaryArray.from_arrays(
                array((index - lo).astype(np.int32)), values.slice(lo, hi + 1 - lo), safe=False
            )
    used = np.zeros(len(values), dtype=bool)
    used[index] = True
    keep = np.flatnonzero(used)
    remap = np.zeros(len(values), dtype=np.int32)
    if unique:
        dict_values = values if len(keep) == len(values) else values.take(array(keep, type=pa.int64()))
        remap[keep] = np.arange(len(keep), dtype=np.int32)
        return pa.DictionaryArray.from_arrays(array(remap[index]), dict_values, safe=False)
    if len(keep) == len(values):
        enc = pc.dictionary_encode(values)
    else:
        enc = pc.dictionary_encode(values.take(array(keep, type=pa.int64())))
    remap[keep] = to_numpy(enc.indices)
    # (indices in range by construction: not validated again)
    return pa.DictionaryArray.from_arrays(array(remap[index]), enc.dictionary, safe=False)


def to_numpy(arr) -> np.ndarray:
    """``arr.to_numpy(zero_copy_only=False)`` for a pyarrow array of numbers, booleans or strings
    (numbers with nulls: float64 with NaN; strings: an object array of ``str``/``None``)."""
    import pyarrow as pa

    n = len(arr)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        out = np.empty(n, dtype=object)
        out[:] = arr.to_pylist()
        return out
    if n == 0:
        return np.zeros(0, dtype=bool if pa.types.is_boolean(arr.type) else arr.type.to_pandas_dtype())
    if pa.types.is_boolean(arr.type):
        values = _bits(arr.buffers()[1], arr.offset, n)
    elif pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        dtype = np.dtype(arr.type.to_pandas_dtype())
        values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + n)[arr.offset :]
    else:
        raise TypeError(f"expected an array of numbers, booleans or strings; found {arr.type}")
    if arr.null_count:  # the values under a null are undefined: NaN
        values = values.astype(np.float64)
        values[~_bits(arr.buffers()[0], arr.offset, n)] = np.nan
    return values


def _bits(buf, offset: int, n: int) -> np.ndarray:
    """``n`` bits of an Arrow bitmap from bit ``offset``, as bool."""
    bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little", count=offset + n)
    return bits[offset:].astype(bool)
