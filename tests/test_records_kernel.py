"""The records kernel (``kernels/_records_impl.py``: columns, ALT alleles, contig runs and the text
around INFO/CSQ of a chunk of VCF lines), compiled and as its Python twin, against ``str.split``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.annotate import _Texts
from ccevariants.kernels import load

LINES = [
    "chr1\t5\t.\tA\tC\t.\tPASS\t.",
    "chr1\t6\trs1\tAT\tA,ATT,<DEL>\t50\tq10;lowDP\tDP=3;T_AF=0.5\tGT:AD\t0/1:3,4",
    "chr10\t7\t.\tG\tT\t.\t.\tEND=9",
    "chr10\t123456789012\t.\tG\tT\t.\t.\tX=Σ",  # a non-ASCII INFO value: byte offsets
    "chr1\t8\t.\tG\tT\t.\t.\tA=1\t",  # an empty ninth column
]


def _expected(line: str):
    cols = line.split("\t", 8)
    info = cols[7]
    head = "\t".join(cols[:7]) + ("\tCSQ=" if info == "." else "\t" + info + ";CSQ=")
    tail = ("\t" + cols[8] if len(cols) > 8 else "") + "\n"
    return cols, head, tail


@pytest.fixture(params=[True, False], ids=["compiled", "python"])
def kr(request):
    return load("records", request.param)


def _split(kr, lines):
    buf = np.frombuffer("\n".join(lines).encode() or b"\0", dtype=np.uint8)
    return buf, kr.split_lines(buf, len(lines))


def _text(buf, a, b) -> str:
    return buf[a:b].tobytes().decode()


def test_columns_alleles_runs_and_csq_text_equal_a_split(kr):
    buf, (start, end, n_cols, pos, status, n_alts, run) = _split(kr, LINES)
    for i, line in enumerate(LINES):
        cols, head, tail = _expected(line)
        assert n_cols[i] == len(cols)
        assert [_text(buf, start[i, k], end[i, k]) for k in range(len(cols))] == cols
        assert pos[i] == int(cols[1]) and status[i] == kr.OK
        assert n_alts[i] == len(cols[4].split(","))
    assert run.tolist() == [0, 0, 1, 1, 2]
    owner, a_start, a_end = kr.alt_spans(buf, start, end, n_alts)
    assert owner.tolist() == [0, 1, 1, 1, 2, 3, 4]
    assert [_text(buf, a, b) for a, b in zip(a_start, a_end, strict=True)] == [
        "C", "A", "ATT", "<DEL>", "T", "T", "T",
    ]  # fmt: skip
    h_off, h_dat, t_off, t_dat = kr.heads_tails(buf, start, end)
    heads = [h_dat[h_off[i] : h_off[i + 1]].tobytes().decode() for i in range(len(LINES))]
    tails = [t_dat[t_off[i] : t_off[i + 1]].tobytes().decode() for i in range(len(LINES))]
    assert heads == [_expected(x)[1] for x in LINES]
    assert tails == [_expected(x)[2] for x in LINES]
    refs = _Texts.spans(buf, start[:, 3], end[:, 3])  # the REF column, as the annotation cuts it
    assert refs.tolist() == ["A", "AT", "G", "G", "G"]
    assert refs.arrow().to_pylist() == refs.tolist()
    # the table's variant_id per ALT allele: CHROM:POS:REF:ALT, POS written from its number
    pos_a = np.array([10**17 + 3, 9, 10, 99, 100, 0, 1], dtype=np.int64)
    off, data = kr.labels(buf, owner, start[:, 0].copy(), end[:, 0].copy(), pos_a, start[:, 3].copy(),
                          end[:, 3].copy(), a_start, a_end)  # fmt: skip
    got = [data[off[a] : off[a + 1]].tobytes().decode() for a in range(len(owner))]
    alts = [_text(buf, a, b) for a, b in zip(a_start, a_end, strict=True)]
    want = [
        f"{LINES[r].split()[0]}:{p}:{refs.tolist()[r]}:{alt}"
        for r, p, alt in zip(owner, pos_a, alts, strict=True)
    ]
    assert got == want and off[-1] == len("".join(want))


@pytest.mark.parametrize(
    "line, want",
    [
        ("chr1\t5\t.\tA\tC\t.\tPASS", "SHORT"),
        ("chr1\t5", "SHORT"),
        ("chr1\t5\t.\tA\tC\t.\tPASS\tDP=1;CSQ=x", "HAS_CSQ"),
        ("chr1\t5x\t.\tA\tC\t.\tPASS\t.", "BAD_POS"),
        ("chr1\t0\t.\tA\tC\t.\tPASS\t.", "BAD_POS"),
        ("chr1\t\t.\tA\tC\t.\tPASS\t.", "BAD_POS"),
        ("chr1\t1234567890123456789\t.\tA\tC\t.\tPASS\t.", "BAD_POS"),
    ],
)
def test_lines_it_cannot_read_are_flagged(kr, line, want):
    _buf, (_s, _e, _n, pos, status, _a, _r) = _split(kr, [LINES[0], line])
    assert status.tolist() == [kr.OK, getattr(kr, want)]


def test_an_empty_chunk(kr):
    buf, (start, end, n_cols, pos, status, n_alts, run) = _split(kr, [])
    assert start.shape == (0, kr.N_SPANS) and len(run) == 0
    owner, a_start, _ = kr.alt_spans(buf, start, end, n_alts)
    assert len(owner) == 0
    h_off, _, t_off, _ = kr.heads_tails(buf, start, end)
    assert h_off.tolist() == [0] and t_off.tolist() == [0]


_field = st.text(alphabet="ACGTN.;=,:0123456789é", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1", "2", "chrX"]), st.integers(1, 10**12), _field, _field,
                          _field, st.booleans()), min_size=1, max_size=12))  # fmt: skip
def test_random_lines_read_as_a_split_does(rows):
    kr = load("records")
    lines = [
        f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t{info.replace('CSQ', 'C')}" + ("\tGT\t0/1" if fmt else "")
        for c, p, r, a, info, fmt in rows
    ]
    buf, (start, end, n_cols, pos, status, n_alts, run) = _split(kr, lines)
    owner, a_start, a_end = kr.alt_spans(buf, start, end, n_alts)
    alts = [_text(buf, a, b) for a, b in zip(a_start, a_end, strict=True)]
    assert alts == [x for line in lines for x in line.split("\t")[4].split(",")]
    assert pos.tolist() == [p for _, p, *_ in rows]
    chroms = [c for c, *_ in rows]
    assert (
        run.tolist()
        == np.cumsum([0] + [a != b for a, b in zip(chroms[1:], chroms[:-1], strict=True)]).tolist()
    )
    h_off, h_dat, t_off, t_dat = kr.heads_tails(buf, start, end)
    for i, line in enumerate(lines):
        _, head, tail = _expected(line)
        assert h_dat[h_off[i] : h_off[i + 1]].tobytes().decode() == head
        assert t_dat[t_off[i] : t_off[i + 1]].tobytes().decode() == tail


def test_split_spans_and_rotate_spans(kr):
    rows = [["a", "", "ccc"], ["dd", "e", ""]]
    # fields from their spans, in any order and with other bytes between them
    other = np.frombuffer(b"xccc-a-e-dd", dtype=np.uint8)
    spans = np.array([[[5, 6], [0, 0], [1, 4]], [[9, 11], [7, 8], [4, 4]]], dtype=np.int64)
    offsets, data = kr.split_spans(other, spans, np.ones(3, dtype=np.bool_))
    got = [[data[offsets[f, i] : offsets[f, i + 1]].tobytes().decode() for f in range(3)] for i in range(2)]
    assert got == rows
    # fields not wanted are not copied: empty strings
    offsets, data = kr.split_spans(other, spans, np.array([True, False, True]))
    got = [[data[offsets[f, i] : offsets[f, i + 1]].tobytes().decode() for f in range(3)] for i in range(2)]
    assert got == [["a", "", "ccc"], ["dd", "", ""]] and len(data) == 6
    # a span past the buffer is an error, not a read of other memory
    bad = spans.copy()
    bad[1, 0, 1] = 12
    with pytest.raises(IndexError):
        kr.split_spans(other, bad, np.ones(3, dtype=np.bool_))
    texts = np.frombuffer(b"ABCDEFGH", dtype=np.uint8).copy()
    off = np.array([0, 3, 3, 8], dtype=np.int64)  # "ABC", "", "DEFGH"
    kr.rotate_spans(texts, off, np.array([0, 1, 2]), np.array([1, 2, 7]), True)
    assert texts.tobytes() == b"BCA" + b"FGHDE"  # 7 places = 2 places on 5 bases
    kr.rotate_spans(texts, off, np.array([0]), np.array([1]), False)
    assert texts.tobytes()[:3] == b"ABC"
