"""``ccevariants._arrow``: Arrow arrays built from buffers equal what ``pyarrow.array`` and
``Array.to_numpy`` give, and ``ccev annotate`` runs without importing pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants import _arrow

text = st.one_of(st.none(), st.text(max_size=6))


@settings(deadline=None)  # the first pa.array imports pandas
@given(st.lists(text, max_size=30), st.booleans())
def test_strings_equal_pyarrow(values, large):
    typ = pa.large_string() if large else pa.string()
    got = _arrow.strings(values, typ)
    want = pa.array(values, type=typ)
    assert got.type == typ and got.equals(want) and got.null_count == values.count(None)
    assert list(_arrow.to_numpy(got)) == values


@settings(deadline=None)
@given(
    st.sampled_from([np.int8, np.int32, np.int64, np.uint16, np.float32, np.float64, np.bool_]),
    st.lists(st.integers(-100, 100), max_size=40),
    st.integers(0, 5),
)
def test_numeric_arrays_equal_pyarrow_and_read_back(dtype, ints, cut):
    values = np.asarray(ints).astype(dtype)
    got, want = _arrow.array(values), pa.array(values)
    assert got.type == want.type and got.equals(want)
    sliced = got[min(cut, len(got)) :]  # an offset into the buffers
    np.testing.assert_array_equal(_arrow.to_numpy(sliced), values[min(cut, len(values)) :])
    assert _arrow.to_numpy(sliced).dtype == np.dtype(dtype)


def test_casts_nulls_and_refusals():
    assert _arrow.array(np.array([1, 2]), pa.int32()).type == pa.int32()
    with pytest.raises(pa.ArrowInvalid, match="not in range"):  # a safe cast, not a wrap
        _arrow.array(np.array([2**40]), pa.int32())
    assert _arrow.array([3, 4]).to_pylist() == [3, 4] and _arrow.array(["a", None]).to_pylist() == ["a", None]
    assert _arrow.array([], pa.int64()).type == pa.int64() and _arrow.array([]).type == pa.null()
    nan = np.array([1.5, np.nan])
    assert np.isnan(_arrow.array(nan).to_numpy()[1])  # NaN stays NaN, not null
    with_null = pc.cast(
        pc.struct_field(pc.extract_regex(_arrow.strings(["END=7", "x"]), r"END=(?P<e>\d+)"), [0]), pa.int64()
    )
    np.testing.assert_array_equal(_arrow.to_numpy(with_null), [7.0, np.nan])
    assert _arrow.to_numpy(_arrow.array([], pa.bool_())).dtype == np.bool_
    with pytest.raises(TypeError, match="expected a bool, integer or float array; found dtype <U1"):
        _arrow.array(np.array(["a"]))
    with pytest.raises(TypeError, match="expected an array of numbers, booleans or strings; found date32"):
        _arrow.to_numpy(pa.array([0], pa.int32()).cast(pa.date32()))


@pytest.mark.parametrize("table", [True, False])
def test_annotate_does_not_import_pandas(tmp_path, table):
    """A whole ``ccev annotate`` run — multi-allelic records, a symbolic ALT with END, a FILTER, an
    indel — never imports pandas (pyarrow would, for any ``pa.array`` call: 0.35 s); without a
    table it does not import ``pyarrow.parquet`` either."""
    from test_annotate import _build, _vcf

    body = _build(tmp_path)[0]
    vcf = _vcf(
        tmp_path,
        [
            f"chr1\t33\t.\t{body[32]}\tA,G\t.\tLowQual\tT_DP=20;T_AD=10,5,5",
            f"chr1\t40\t.\t{body[39:41]}\t{body[39]}\t.\tPASS\t.",
            f"chr1\t85\t.\t{body[84]}\t<DEL>\t.\t.\tEND=150",
            "chr2\t10\t.\tC\tT\t.\tPASS\t.",
        ],
    )
    argv = ["annotate", "--input", str(vcf), "--reference", str(tmp_path / "g.fa"), "--annotation"]
    argv += [str(tmp_path / "g.gff3"), "--output", str(tmp_path / "o.vcf.gz"), "--chunk-size", "2"]
    argv += ["--cache-dir", str(tmp_path / "c"), *(["--table", str(tmp_path / "o.parquet")] if table else [])]
    code = (
        f"import sys\nfrom ccevariants.cli import main\nrc = main({argv!r})\n"
        "print(rc, sorted(m for m in ('pandas', 'pyarrow', 'pyarrow.parquet', 'numba') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    want = "['numba', 'pyarrow', 'pyarrow.parquet']" if table else "['numba', 'pyarrow']"
    assert done.stdout.split("\n")[-2] == f"0 {want}", done.stderr[-500:]
    if table:
        import pyarrow.parquet as pq

        assert pq.read_table(tmp_path / "o.parquet").num_rows >= 5
    assert (tmp_path / "o.vcf.gz").exists() and (tmp_path / "o.parquet").exists() == table


@settings(deadline=None)
@given(st.lists(st.text(max_size=5), max_size=20), st.integers(0, 4), st.booleans())
def test_buffers_read_back_what_from_offsets_and_utf8_made(values, cut, large):
    """``utf8`` → ``from_offsets`` → ``buffers`` round-trips, also for a sliced array (an offset into
    the buffers) and for a plain list."""
    off, blob = _arrow.utf8(values)
    arr = _arrow.from_offsets(off, blob, large=large)
    assert arr.to_pylist() == values and arr.type == (pa.large_string() if large else pa.string())
    part = arr[min(cut, len(values)) :]
    for source, want in ((part, values[min(cut, len(values)) :]), (values, values)):
        o, d = _arrow.buffers(source)
        assert [d[o[i] : o[i + 1]].tobytes().decode() for i in range(len(o) - 1)] == want


def test_buffers_refuse_missing_values():
    with pytest.raises(ValueError, match="expected a string column without missing values; found 1"):
        _arrow.buffers(_arrow.strings(["a", None]))


@given(st.lists(st.sampled_from(["", "a", "b", "chr1", "ü", "a"]), min_size=1, max_size=12), st.data())
def test_dictionary_is_the_take_with_each_value_once(values, data):
    index = np.array(data.draw(st.lists(st.integers(0, len(values) - 1), max_size=40)), dtype=np.int64)
    arr = _arrow.dictionary(_arrow.strings(values), index)
    assert arr.type == pa.dictionary(pa.int32(), pa.string())
    assert arr.cast(pa.string()).to_pylist() == [values[i] for i in index]
    # the dictionary: the distinct values taken, nothing else (a Parquet writer needs it unique)
    assert sorted(arr.dictionary.to_pylist()) == sorted({values[i] for i in index})


def test_dictionary_of_distinct_values_is_the_range_taken_or_only_the_values_used():
    """Distinct values (``unique``): the dictionary is the range of values between the least and
    the greatest index when that range is narrow (no copy), else the values used, each once; the
    column reads the same either way."""
    values = _arrow.strings([f"ENST{i:011d}" for i in range(20000)])
    narrow = np.array([105, 101, 101, 130, 105], dtype=np.int64)
    arr = _arrow.dictionary(values, narrow, unique=True)
    assert arr.cast(pa.string()).to_pylist() == [f"ENST{i:011d}" for i in narrow]
    assert arr.dictionary.to_pylist() == [f"ENST{i:011d}" for i in range(101, 131)]
    wide = np.array([3, 19990, 3, 7], dtype=np.int64)  # (a chunk across two contigs)
    arr = _arrow.dictionary(values, wide, unique=True)
    assert arr.cast(pa.string()).to_pylist() == [f"ENST{i:011d}" for i in wide]
    assert sorted(arr.dictionary.to_pylist()) == [f"ENST{i:011d}" for i in (3, 7, 19990)]
    # a range of more than NARROW values, but fewer than an eighth of the rows: as it is
    many = np.tile(np.arange(0, 2 * _arrow.NARROW, 2, dtype=np.int64), 20)
    arr = _arrow.dictionary(values, many, unique=True)
    assert len(arr.dictionary) == 2 * _arrow.NARROW - 1 and arr.cast(pa.string()).to_pylist() == [
        f"ENST{i:011d}" for i in many
    ]
    assert len(_arrow.dictionary(values, np.zeros(0, dtype=np.int64), unique=True)) == 0


def test_buffers_are_read_only_bytes():
    """``buffers`` feeds the CSQ line kernel, compiled for read-only bytes: the data array is read-only
    whether the Arrow buffer is mutable (built over a NumPy array), immutable or empty."""
    data = np.frombuffer(b"abcde", dtype=np.uint8).copy()  # writable
    off = np.array([0, 2, 5], dtype=np.int32)
    mutable = pa.StringArray.from_buffers(2, pa.py_buffer(off), pa.py_buffer(data))
    for arr in (mutable, pa.array(["ab", "cde"]), pa.array(["", ""]), ["ab", "cde"]):
        offsets, dat = _arrow.buffers(arr)
        assert not dat.flags.writeable and offsets.dtype == np.int64
    assert _arrow.buffers(mutable)[1].tobytes() == b"abcde"
