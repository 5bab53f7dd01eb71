"""normtext: columns read from VCF text must equal what ``bcftools query`` prints (the oracle),
and the threaded BGZF writer must produce files htslib reads and indexes."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_callers import CALLER_FILES

from ccevariants.bgzf import BLOCK, EOF, BgzfWriter
from ccevariants.callers import BASE_COLUMNS, query_tables
from ccevariants.errors import InputError
from ccevariants.normalize import normalize_vcf, run_norm
from ccevariants.normtext import Block, LazyText, query_frame
from ccevariants.vcfutil import Header


def _header_of(path):
    meta = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("##"):
                meta.append(line.rstrip("\n"))
            else:
                return meta, line.rstrip("\n")
    raise AssertionError("no #CHROM line")


def _exprs(meta):
    h = Header(meta=meta, samples=[], n_columns=8, header_line_no=len(meta) + 1)
    fmt = sorted(set(h.defined("FORMAT")) - {"GT"})  # GT is never queried (bcftools has no GT{i})
    info = sorted(h.defined("INFO"))
    fmt_exprs = [e for t in fmt for e in (t, f"{t}{{0}}", f"{t}{{1}}")]
    info_exprs = [e for t in info for e in (t, f"{t}{{0}}")]
    return fmt_exprs, info_exprs


def _txt(x) -> str:
    return "." if isinstance(x, float) and np.isnan(x) else str(x)


def _compare(text_vcf, fmt_exprs, info_exprs, n_samples, chunk=7):
    """Block by block (``chunk`` lines each), query_frame equals bcftools query's table."""
    meta, chrom_line = _header_of(text_vcf)
    n_columns = chrom_line.count("\t") + 1
    body = [ln for ln in open(text_vcf, "rb") if not ln.startswith(b"#")]
    oracle = list(query_tables(text_vcf, fmt_exprs, info_exprs, n_samples, chunk))
    blocks = [b"".join(body[i : i + chunk]) for i in range(0, len(body), chunk)]
    assert len(oracle) == len(blocks)
    names = list(BASE_COLUMNS) + list(info_exprs) + [e for _ in range(n_samples) for e in fmt_exprs]
    checked = 0
    for table, data in zip(oracle, blocks, strict=True):
        cols = query_frame(Block(data, n_columns), fmt_exprs, info_exprs, n_samples)
        assert sorted(cols) == list(range(len(names)))
        for i, name in enumerate(names):
            want = table[i].to_numpy()
            got = np.asarray(cols[i])
            if want.dtype.kind in "fiu" and got.dtype.kind in "fiu":
                np.testing.assert_array_equal(got.astype(float), want.astype(float), err_msg=name)
            else:  # text: pandas turned '.' into NaN in columns it could not parse as numbers
                assert [_txt(x) for x in got.tolist()] == [_txt(x) for x in want.tolist()], name
            checked += len(want)
    return checked


@pytest.mark.parametrize("name", CALLER_FILES)
def test_query_frame_equals_bcftools_query_on_caller_vcfs(name, shared_data, tmp_path):
    """Every declared FORMAT and INFO tag (whole value, element 0 and 1) on norm's output of each
    real caller VCF: identical to bcftools query, value by value."""
    normed = tmp_path / "normed.vcf"
    try:
        run_norm(shared_data / "caller-vcfs" / f"{name}.vcf", normed, output_type="v")
    except InputError:  # needs the pre-pass (undeclared tags): take the pipeline's own output
        out = tmp_path / "out.vcf.gz"
        normalize_vcf(shared_data / "caller-vcfs" / f"{name}.vcf", out, pass_only=False)
        run_norm(out, normed, output_type="v")
    meta, chrom_line = _header_of(normed)
    n_samples = chrom_line.count("\t") - 8
    fmt_exprs, info_exprs = _exprs(meta)
    assert fmt_exprs and n_samples >= 1
    assert _compare(normed, fmt_exprs, info_exprs, n_samples) > 100


def test_query_frame_on_the_pcgr_tumour(shared_data, tmp_path):
    """The real TCGA tumour with custom tags (ADT as a string, INFO/TVAF)."""
    src = next((shared_data / "pcgr-T001-BRCA").glob("*.vcf*"))
    normed = tmp_path / "normed.vcf"
    run_norm(src, normed, output_type="v")
    meta, chrom_line = _header_of(normed)
    fmt_exprs, info_exprs = _exprs(meta)
    assert _compare(normed, fmt_exprs, info_exprs, chrom_line.count("\t") - 8, chunk=50) > 1000


EDGE = """##fileformat=VCFv4.2
##contig=<ID=1,length=1000>
##FILTER=<ID=q10,Description="q">
##FILTER=<ID=lowqual,Description="l">
##INFO=<ID=END,Number=1,Type=Integer,Description="e">
##INFO=<ID=PRECISE,Number=0,Type=Flag,Description="p">
##INFO=<ID=XS,Number=.,Type=String,Description="s">
##INFO=<ID=XF,Number=A,Type=Float,Description="f">
##FORMAT=<ID=GT,Number=1,Type=String,Description="g">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="d">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="f">
##FORMAT=<ID=FREQ,Number=1,Type=String,Description="v">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tN\tT
1\t10\t.\tA\tC\t.\t.\tPRECISE;XS=a,b\tGT:AD:DP:AF\t0/0:10,0:10:0\t0/1:5,5:10:0.5
1\t20\t.\tA\t<DEL>\t.\tPASS\tEND=50;XF=1e-3\tGT:DP:AD\t0/0:7:.\t0/1:9:3,6
1\t30\t.\tAC\tA\t.\tq10;lowqual\t.\tGT:AD:DP:FREQ\t0/0:.,.:3:0%\t0/1:4:12:33.3%
1\t40\t.\tG\tT\t50\tPASS\tXF=.;XS=\tGT:AD\t./.\t0/1:-2,7
1\t50\t.\tG\tGT\t50\tPASS\tXF=2.5E2\tDP:GT:AF\t8:0/0\t9:0/1:0.123456789
"""


def test_query_frame_edge_cases(tmp_path):
    """Missing values, dropped trailing fields, FORMAT order changing per line, flags, END,
    exponents, a negative count, text in a numeric column: all as bcftools query prints them."""
    vcf = tmp_path / "edge.vcf"
    vcf.write_text(EDGE)
    normed = tmp_path / "normed.vcf"
    run_norm(vcf, normed, output_type="v")
    fmt_exprs, info_exprs = _exprs(_header_of(normed)[0])
    assert _compare(normed, fmt_exprs, info_exprs, 2, chunk=2) > 0
    assert _compare(normed, fmt_exprs, info_exprs, 2, chunk=100) > 0
    meta, chrom_line = _header_of(normed)
    body = b"".join(ln for ln in open(normed, "rb") if not ln.startswith(b"#"))
    cols = query_frame(Block(body, 11), ["AD{1}", "AF{0}", "FREQ"], ["END", "PRECISE"], 2)
    # values read by hand from the records above
    assert cols[5].tolist() == [10, 50, 31, 40, 50]  # END: INFO/END, else POS + len(REF) - 1
    assert np.isnan(cols[6][[0, 2, 3, 4]]).all() and cols[6][1] == 50  # INFO/END as given
    assert cols[7].tolist()[0] == 1.0 and np.isnan(cols[7][1])  # flag set / unset
    n_ad_alt, t_ad_alt = cols[8], cols[11]  # per sample: AD{1}, AF{0}, FREQ
    assert t_ad_alt[0] == 5 and t_ad_alt[1] == 6 and np.isnan(t_ad_alt[2]) and t_ad_alt[3] == 7
    assert n_ad_alt[0] == 0 and np.isnan(n_ad_alt[1]) and np.isnan(n_ad_alt[2])
    assert cols[13].tolist()[2] == "33.3%" and cols[10].tolist()[2] == "0%"


def test_lazy_text_compares_on_bytes():
    data = b"1\t5\t.\tA\tC\t.\tPASS\t.\n1\t6\t.\tA\t*\t.\tlow\t.\n1\t7\t.\tAT\t.\t.\tPASS\t.\n"
    blk = Block(data, 8)
    alt = LazyText(blk, *blk.column(4))
    filt = LazyText(blk, *blk.column(6))
    assert (alt == "*").tolist() == [False, True, False]
    assert (alt != ".").tolist() == [True, True, False]
    assert (filt == "PASS").tolist() == [True, False, True]
    assert alt[np.array([2, 0])].tolist() == [".", "C"]
    assert alt[1] == "*"
    assert np.asarray(LazyText(blk, *blk.column(3))).tolist() == ["A", "A", "AT"]


def test_block_rejects_a_short_line():
    with pytest.raises(ValueError, match="expected 8 columns"):
        Block(b"1\t5\t.\tA\tC\t.\tPASS\t.\n1\t6\t.\tA\n", 8)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.integers(-(10**15), 10**15).map(str),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: f"{x:.6g}"),
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(repr),
        st.sampled_from([".", "", "12%", "1e", "-", "+3", "1.5e-7", "0.000123", "7.", ".5"]),
    )
)
def test_numbers_parse_like_python(text):
    blk = Block(f"{text}\n".encode(), 1)
    s, e = blk.column(0)
    got = blk.number(s, e)
    try:
        want = float(text) if text not in (".", "") else None
    except ValueError:
        want = "text"
    if want is None:
        assert np.isnan(got[0]) if got.dtype == np.float64 else got[0] in (".", "")
    elif want == "text":
        assert got.dtype == object and got[0] == text
    else:
        assert got.dtype == np.float64 and got[0] == pytest.approx(want, rel=1e-15, abs=0)


def test_bgzf_writer_round_trip_and_index(tmp_path):
    """Output read back by gzip and htslib, indexed by tabix, ends with the EOF member; even
    incompressible data keeps every member under 64 KiB."""
    lines = [f"chr1\t{p}\t.\tA\tC\t.\tPASS\tX={p * 7919 % 1000003}\n" for p in range(1, 60001)]
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=100000>\n"
    header += '##INFO=<ID=X,Number=1,Type=Integer,Description="x">\n'
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    text = (header + "".join(lines)).encode()
    out = tmp_path / "t.vcf.gz"
    with BgzfWriter(out, threads=2, piece=3 * BLOCK) as w:
        for i in range(0, len(text), 100_003):  # writes that do not align with members
            w.write(text[i : i + 100_003])
    raw = out.read_bytes()
    assert raw.endswith(EOF)
    assert gzip.decompress(raw) == text
    pysam.tabix_index(str(out), preset="vcf", force=True)
    with pysam.TabixFile(str(out)) as tbx:
        got = list(tbx.fetch("chr1", 29_999, 30_002))
    assert [r.split("\t")[1] for r in got] == ["30000", "30001", "30002"]
    # members: each starts with the BGZF magic and declares its own size
    noise = np.random.default_rng(1).integers(0, 256, 3 * BLOCK, dtype=np.uint8).tobytes()
    out2 = tmp_path / "noise.gz"
    with BgzfWriter(out2, threads=0) as w:
        w.write(noise)
    raw = out2.read_bytes()
    k = 0
    sizes = []
    while k < len(raw):
        assert raw[k : k + 4] == b"\x1f\x8b\x08\x04" and raw[k + 12 : k + 14] == b"BC"
        size = int.from_bytes(raw[k + 16 : k + 18], "little") + 1
        sizes.append(size)
        k += size
    assert max(sizes) <= 0x10000 and len(sizes) == 4  # three full members, the EOF member
    assert zlib.decompress(raw, 31) == noise[:BLOCK]  # the first member alone
    assert gzip.decompress(raw) == noise


def test_bgzf_writer_on_error_leaves_no_eof_marker(tmp_path):
    out = tmp_path / "x.gz"
    with pytest.raises(RuntimeError), BgzfWriter(out) as w:
        w.write(b"abc\n")
        raise RuntimeError("boom")
    assert not out.read_bytes().endswith(EOF)


def test_reg2bin_matches_the_sam_specification():
    from ccevariants.tbi import reg2bin

    def ref(beg, end):  # the C function of the SAM specification, transcribed
        end -= 1
        if beg >> 14 == end >> 14:
            return ((1 << 15) - 1) // 7 + (beg >> 14)
        if beg >> 17 == end >> 17:
            return ((1 << 12) - 1) // 7 + (beg >> 17)
        if beg >> 20 == end >> 20:
            return ((1 << 9) - 1) // 7 + (beg >> 20)
        if beg >> 23 == end >> 23:
            return ((1 << 6) - 1) // 7 + (beg >> 23)
        if beg >> 26 == end >> 26:
            return ((1 << 3) - 1) // 7 + (beg >> 26)
        return 0

    rng = np.random.default_rng(3)
    beg = rng.integers(0, 1 << 29, 5000)
    end = beg + rng.choice([1, 2, 100, 20_000, 300_000, 5_000_000, 100_000_000], 5000)
    assert reg2bin(beg, end).tolist() == [ref(int(b), int(e)) for b, e in zip(beg, end, strict=True)]


def test_own_tabix_index_answers_like_htslibs(tmp_path, index_like_htslib):
    """The index written with the VCF (no second pass) answers region queries exactly like the
    index htslib builds for the same file: three contigs, long deletions (INFO/END), records
    sharing a position, empty 16 kb windows, many BGZF members."""
    from ccevariants.bgzf import BgzfWriter
    from ccevariants.tbi import TabixBuilder

    rng = np.random.default_rng(5)
    header = "##fileformat=VCFv4.2\n"
    header += "".join(f"##contig=<ID={c},length=30000000>\n" for c in ("chr1", "chr2", "chrX"))
    header += '##INFO=<ID=END,Number=1,Type=Integer,Description="e">\n'
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    out = tmp_path / "own.vcf.gz"
    index = TabixBuilder()
    with BgzfWriter(out, piece=2 * BLOCK) as w:
        w.write(header.encode())
        for chrom, n in (("chr1", 20000), ("chr2", 300), ("chrX", 5000)):
            pos = np.sort(rng.integers(1, 25_000_000, n))
            pos[10:20] = pos[10]  # records sharing a position
            span = np.where(rng.random(n) < 0.02, rng.integers(2, 400_000, n), 0)
            lines, ends = [], []
            for p, s in zip(pos.tolist(), span.tolist(), strict=True):
                info = f"END={p + s}" if s else "."
                ref = "ACGT"[p % 4] * (1 + p % 3)
                lines.append(f"{chrom}\t{p}\t.\t{ref}\t<DEL>\t.\tPASS\t{info}\n".encode())
                ends.append(p + s if s else p + len(ref) - 1)
            lens = np.array([len(x) for x in lines])
            uend = w.written + np.cumsum(lens)
            ustart = uend - lens
            index.add(np.array([chrom] * n, dtype=object), pos - 1, np.array(ends), ustart, uend)
            w.write(b"".join(lines))
    index.write(str(out) + ".tbi", w.member_sizes)
    regions = []
    for _ in range(1500):
        s = int(rng.integers(0, 26_000_000))
        regions.append(
            (
                ["chr1", "chr2", "chrX"][int(rng.integers(0, 3))],
                s,
                s + int(rng.choice([1, 50, 20_000, 2_000_000])),
            )
        )
    index_like_htslib(out, regions)
    with pysam.TabixFile(str(out)) as a:
        assert list(a.contigs) == ["chr1", "chr2", "chrX"]
        assert sum(1 for _ in a.fetch("chr1")) == 20000


def test_kernels_built_once_when_threads_ask_at_once(monkeypatch):
    """Two threads annotating chunks may both be first to ask for the compiled loops: the builders
    (which swap module globals for compiled functions) run through ``_numba.build_once``, under one
    lock, and publish the whole table in one step, so every caller gets all the loops and none jits
    a compiled function twice — also when a table is built again."""
    import threading

    import ccevariants.annotate as annotate_module
    from ccevariants import normbypass, normtext
    from ccevariants._numba import build_once

    def tables():
        return (
            dict(normtext._kernels()),
            dict(normbypass._kernels()),
            dict(build_once(annotate_module._CSQ_KERNEL, annotate_module._build_csq_kernel)),
        )

    tables()  # built once already (as in a test session): a rebuild
    monkeypatch.setattr(normtext, "_K", {})
    monkeypatch.setattr(normbypass, "_K", {})
    monkeypatch.setattr(annotate_module, "_CSQ_KERNEL", {})
    barrier = threading.Barrier(4)
    got, errors = [], []

    def first_use():
        try:
            barrier.wait()
            got.append(tables())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(got) == 4 and all(g == got[0] for g in got)
    text, bypass, csq = got[0]
    assert {"info_keys", "emit", "plain_decimal"} <= set(text) and set(bypass) == {
        "classify",
        "split",
        "merge",
        "canonical",
    }
    assert set(csq) == {"lines"}
