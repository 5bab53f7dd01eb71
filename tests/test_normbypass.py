"""Records that skip bcftools norm (ccevariants.normbypass): the rule checked against htslib itself,
the merge back into norm's order, and whole runs identical to running every record through norm.
"""

from __future__ import annotations

import gzip
import random
import re
from functools import partial
from pathlib import Path

import numpy as np
import pysam
import pytest
from test_callers import CALLER_FILES

import ccevariants.normalize as norm
from ccevariants import normbypass as nb
from ccevariants.normalize import normalize_vcf
from ccevariants.normtext import Block
from ccevariants.vcfutil import Header

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=100000>
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=q10,Description="low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="x">
##INFO=<ID=CNT,Number=.,Type=Integer,Description="x">
##INFO=<ID=AF,Number=A,Type=Float,Description="x">
##INFO=<ID=VALS,Number=.,Type=Float,Description="x">
##INFO=<ID=TAG,Number=1,Type=String,Description="x">
##INFO=<ID=CH,Number=1,Type=Character,Description="x">
##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="x">
##INFO=<ID=END,Number=1,Type=Integer,Description="x">
##FORMAT=<ID=GT,Number=1,Type=String,Description="x">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="x">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="x">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="x">
##FORMAT=<ID=FT,Number=1,Type=String,Description="x">
##FORMAT=<ID=Q,Number=1,Type=Float,Description="x">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR
"""

INFO_TYPES = {"DP": "i", "CNT": "i*", "AF": "f", "VALS": "f*", "TAG": "s", "CH": "s", "SOMATIC": "flag"}
FMT_TYPES = {"AD": "i*", "AF": "f", "DP": "i", "FT": "s", "Q": "f"}


def _float_token(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.8:  # the way callers usually write: a few decimals, no trailing zeros
        v = round(rnd.choice([rnd.random(), rnd.random() * 100, rnd.random() / 100]), rnd.randint(0, 4))
        text = f"{v:.4f}".rstrip("0").rstrip(".")
        if rnd.random() < 0.2:  # fixed decimals, as GATK writes them: 0.250, 6.00
            text = f"{v:.{rnd.randint(1, 3)}f}"
        return text if rnd.random() < 0.9 else "-" + text
    if kind < 0.9:  # trailing zeros, more digits than float32 keeps, large values
        v = rnd.choice([rnd.random(), rnd.random() * 1e5, rnd.random() / 1000])
        return f"{v:.{rnd.randint(0, 7)}f}"
    return rnd.choice(
        ["0", "-0", "0.0", "1", "1.0", "10", "100000", "999999", "1000000", "0.0001", "0.00001",
         "0.000999", "0.01", "0.1", "1e-3", "1E5", "-3.5", ".5", "5.", "123456.7", "0.1234567",
         "12.3450", "+1", "nan", "inf", ".", "0.25", "99.99", f"{rnd.uniform(0, 1e7):g}"]
    )  # fmt: skip


def _int_token(rnd: random.Random) -> str:
    if rnd.random() < 0.9:
        return str(rnd.choice([rnd.randint(0, 60), rnd.randint(-999, 999), rnd.randint(0, 10**9)]))
    return rnd.choice(["007", "+5", "-0", "2147483647", "999999999", "1000000000", ".", "1.5", "0"])


def _values(rnd: random.Random, typ: str) -> str:
    n = rnd.randint(1, 3) if typ.endswith("*") or typ == "f" else 1
    one = {"i": _int_token, "f": _float_token}.get(typ[0])
    if one is None:  # strings
        return rnd.choice(["abc", "x,y", "12", ".", "a=b", "0.50"])
    return ",".join(one(rnd) for _ in range(n))


def _gt(rnd: random.Random) -> str:
    if rnd.random() < 0.9:
        return rnd.choice(["0/1", "0|1", "0/0", "1/1", "./.", ".", "1", "1|0"])
    return rnd.choice(["0/2", "01/1", "|0/1", "0/1/1", "./1", "1/.", "0//1"])


def _record(rnd: random.Random, pos: int) -> str:
    ref = rnd.choice("ACGT") if rnd.random() < 0.85 else rnd.choice(["a", "N", "AC", "R"])
    alt = rnd.choice("ACGT") if rnd.random() < 0.85 else rnd.choice(["AT", "C,G", "*", ".", "<DEL>", ref])
    if alt == ref and rnd.random() < 0.8:
        alt = {"A": "C", "C": "G", "G": "T", "T": "A"}.get(ref, "A")
    pos_text = str(pos) if rnd.random() < 0.97 else f"0{pos}"
    ident = rnd.choice([".", ".", "rs123", "a;b", "x"])
    qual = "." if rnd.random() < 0.3 else _float_token(rnd)
    filt = rnd.choice(["PASS", "PASS", "q10", "PASS;q10", "."])
    if rnd.random() < 0.1:
        info = "."
    else:
        keys = rnd.sample(sorted(INFO_TYPES), rnd.randint(1, 4))
        items = [k if INFO_TYPES[k] == "flag" else f"{k}={_values(rnd, INFO_TYPES[k])}" for k in keys]
        odd = rnd.random()
        if odd < 0.04:
            items.append(items[0])  # a repeated key
        elif odd < 0.07:
            items.append(f"END={pos}")
        elif odd < 0.09:
            items.append("SOMATIC=1")
        info = ";".join(items)
    keys = ["GT"] + rnd.sample(sorted(FMT_TYPES), rnd.randint(0, 4))
    if rnd.random() < 0.05:
        keys = keys[1:] + keys[:1]  # GT not first
    samples = []
    for _ in range(2):
        fields = [_gt(rnd) if k == "GT" else _values(rnd, FMT_TYPES[k]) for k in keys]
        odd = rnd.random()
        if odd < 0.04 and len(fields) > 1:
            fields = fields[:-1]  # fewer sub-fields than FORMAT keys
        elif odd < 0.06:
            fields[-1] = ""
        samples.append(":".join(fields))
    return "\t".join(["chr1", pos_text, ident, ref, alt, qual, filt, info, ":".join(keys), *samples]) + "\n"


def _header() -> Header:
    meta = HEADER.splitlines()[:-1]
    return Header(meta=meta, samples=["NORMAL", "TUMOR"], n_columns=11, header_line_no=len(meta) + 1)


def _tables(header: Header):
    return (
        nb.KeyTable(nb.key_types(header.defined("INFO"), "INFO")),
        nb.KeyTable(nb.key_types(header.defined("FORMAT"), "FORMAT")),
    )


def _classify(body: bytes, header: Header, refb=None) -> np.ndarray:
    blk = Block(body, header.n_columns)  # line and tab offsets of any line (scan_records rejects some)
    arr, tabs, ends = blk.arr, blk.tabs, blk.ends
    if refb is None:  # the reference agrees with every one-base REF
        refb = np.where(tabs[:, 3] - tabs[:, 2] == 2, arr[tabs[:, 2] + 1], 0).astype(np.uint8)
    return nb.classify(arr, tabs, ends, refb, *_tables(header))


def _htslib_prints(lines: list[str], tmp_path: Path) -> list[str | None]:
    """Each line as htslib prints it after parsing (None where htslib refuses the record)."""
    out: list[str | None] = []
    vcf = tmp_path / "one.vcf"
    for line in lines:
        vcf.write_text(HEADER + line)
        try:
            with pysam.VariantFile(str(vcf)) as vf:
                out.append(str(next(iter(vf))))
        except (OSError, ValueError, StopIteration):
            out.append(None)
    return out


def _side_lines(body: bytes, header: Header, codes: np.ndarray) -> list[str]:
    """The side-file text of ``body``'s lines (ordinal prefixes removed) as the split kernel writes
    it: as written (code 1) or as htslib prints it (code 2)."""
    blk = Block(body, header.n_columns)
    info, fmt = _tables(header)
    n = len(codes)
    out_n = np.empty(len(body) + 24 * n, np.uint8)
    out_b = np.empty(len(body) + 24 * n, np.uint8)
    name = np.frombuffer(b"chr1", np.uint8)
    _, kb = nb._kernels()["split"](
        blk.arr, blk.starts, blk.tabs, blk.ends, codes, 0, np.zeros(n, np.int64), name,
        np.array([0, 4], np.int64), *info.arrays(), *fmt.arrays(), out_n, out_b,
    )  # fmt: skip
    lines = out_b[:kb].tobytes().decode().splitlines(True)
    return [ln.split("\t", 1)[1] for ln in lines]


def test_records_that_skip_norm_print_back_unchanged_in_htslib(tmp_path):
    """Thousands of random records in the forms callers write (and the odd forms they should
    not), each parsed and printed by htslib (the library norm uses): every record the rule lets
    skip norm as written (code 1) comes back byte for byte; every record it lets skip norm with
    trailing zeros dropped (code 2) is written exactly as htslib prints it; and the rule lets
    through a good share — so skipping norm cannot change a record's text."""
    rnd = random.Random(20261128)
    lines = [_record(rnd, 100 + 3 * i) for i in range(4000)]
    body = "".join(lines).encode()
    header = _header()
    codes = _classify(body, header)
    assert 0.15 * len(lines) < np.count_nonzero(codes == 1) < 0.9 * len(lines)
    assert np.count_nonzero(codes == 2) > 200
    printed = _htslib_prints(lines, tmp_path)
    taken = np.flatnonzero(codes > 0).tolist()
    written = _side_lines(body, header, codes)
    assert len(written) == len(taken)
    wrong = [(lines[i], w, printed[i]) for i, w in zip(taken, written, strict=True) if w != printed[i]]
    assert not wrong, wrong[:3]
    assert all(printed[i] == lines[i] for i in np.flatnonzero(codes == 1).tolist())
    changed = [i for i, (a, b) in enumerate(zip(lines, printed, strict=True)) if a != b]
    assert len(changed) > 500  # the generator does produce text htslib rewrites


def test_annotate_writes_records_with_trailing_zeros_as_htslib_prints_them(tmp_path):
    """``ccev annotate``'s record check (alleles not looked at): random records in the forms callers
    write; every record it takes as written (code 1) is what htslib prints, and ``canonical_block``
    writes every code-2 record (trailing zeros of floats: ``6.00``, ``0.250``) exactly as htslib
    prints it and every other line as it is — so such records need no htslib round trip."""
    rnd = random.Random(20261129)
    lines = [_record(rnd, 100 + 3 * i) for i in range(3000)]
    body = "".join(lines).encode()
    header = _header()
    blk = Block(body, header.n_columns)
    tables = _tables(header)
    codes = nb.printed_codes(body, blk.tabs, blk.ends, tables)
    assert np.count_nonzero(codes == 2) > 150 and np.count_nonzero(codes == 1) > 300
    out = nb.canonical_block(body, blk.starts, blk.tabs, blk.ends, codes, tables).decode().splitlines(True)
    assert len(out) == len(lines)
    printed = _htslib_prints(lines, tmp_path)
    wrong = [
        (lines[i], out[i], printed[i]) for i in np.flatnonzero(codes > 0).tolist() if out[i] != printed[i]
    ]
    assert not wrong, wrong[:3]
    assert all(out[i] == lines[i] for i in np.flatnonzero(codes != 2).tolist())
    assert sum(out[i] != lines[i] for i in np.flatnonzero(codes == 2).tolist()) > 150


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("qual", "50", 1),
        ("qual", "50.0", 2),
        ("qual", "0.0001", 1),
        ("qual", "1e-05", 0),
        ("qual", "-0", 0),
        ("qual", "-0.0", 0),
        ("qual", "1234567", 0),
        ("qual", "0.1234567", 0),
        ("qual", "0.12345670", 0),
        ("qual", "1,2", 0),
        ("info", "DP=7", 1),
        ("info", "DP=007", 0),
        ("info", "DP=7.0", 0),
        ("info", "DP=", 0),
        ("info", "AF=0.25,.", 1),
        ("info", "AF=0.250", 2),
        ("info", "AF=6.00,0.0", 2),
        ("info", "SOMATIC", 1),
        ("info", "SOMATIC=1", 0),
        ("info", "DP=7;DP=7", 0),
        ("info", "END=5", 0),
        ("info", "UNDECLARED=1", 0),
        ("info", "TAG=anything,goes", 1),
        ("gt", "0|1", 1),
        ("gt", "1/2", 0),
        ("gt", "10/1", 0),
        ("ref", "a", 0),
        ("ref", "N", 0),
        ("pos", "010", 0),
    ],
)
def test_rule_decisions(field, value, code):
    rec = {
        "pos": "10",
        "ref": "A",
        "qual": ".",
        "info": "DP=3",
        "gt": "0/1",
    }
    rec[field] = value
    line = f"chr1\t{rec['pos']}\t.\t{rec['ref']}\tC\t{rec['qual']}\tPASS\t{rec['info']}\tGT:AD\t0/0:3,0\t{rec['gt']}:1,2\n"
    assert int(_classify(line.encode(), _header())[0]) == code


def test_a_reference_mismatch_goes_through_norm():
    line = b"chr1\t10\t.\tA\tC\t.\tPASS\tDP=3\tGT\t0/0\t0/1\n"
    header = _header()
    for base, code in ((b"A", 1), (b"G", 0), (b"N", 0), (b"\0", 0)):
        assert int(_classify(line, header, np.frombuffer(base, np.uint8).copy())[0]) == code


def test_fasta_bases_are_compared_case_insensitively(tmp_path):
    fa = tmp_path / "r.fa"
    fa.write_text(">chr1\nACGTacgtNNRY\n")
    pysam.faidx(str(fa))
    with pysam.FastaFile(str(fa)) as f:
        got = nb.ref_bases(f, "chr1", np.array([1, 5, 6, 9, 11, 12], np.int64))
    assert got.tobytes() == b"AACNRY"


class _Pieces:
    """A followed file that hands out its text in small, uneven pieces."""

    def __init__(self, text: str, sizes=(1, 7, 30, 3)) -> None:
        self.data, self.sizes, self.k = text.encode(), sizes, 0

    def readline(self) -> bytes:
        cut = self.data.index(b"\n") + 1
        line, self.data = self.data[:cut], self.data[cut:]
        return line

    def read_some(self, n: int) -> bytes:
        size = min(n, self.sizes[self.k % len(self.sizes)])
        self.k += 1
        got, self.data = self.data[:size], self.data[size:]
        return got


def test_merge_restores_norm_order_and_the_text():
    """Norm's records (``ORDINAL:`` before the ID) and the records that skipped it
    (``ORDINAL<TAB>``) merge by contig (input order), POS, then input order — a left-aligned
    record after the skipped record at its new POS, split records together — prefixes removed."""
    normed = (
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
        "chr1\t5\t1:.\tA\tC\n"  # multi-allelic, split in two
        "chr1\t5\t1:.\tA\tG\n"
        "chr1\t8\t6:rs9\tCA\tC\n"  # written at POS 11, left-aligned to 8
        "chr2\t3\t9:x:y\tTT\tT\n"
    )
    side = (
        "0\tchr1\t5\t.\tA\tT\n"
        "2\tchr1\t7\t.\tG\tA\n"
        "3\tchr1\t8\t.\tC\tG\n"
        "4\tchr1\t9\t.\tT\tA\n"
        "5\tchr1\t10\t.\tT\tG\n"
        "7\tchr2\t1\t.\tA\tC\n"
        "8\tchr2\t3\t.\tT\tC\n"
        "10\tchr3\t1\t.\tG\tC\n"
    )
    for sizes in ((1, 7, 30, 3), (1 << 20,)):
        m = nb.Merged(_Pieces(normed, sizes), _Pieces(side, sizes))
        assert m.readline().startswith(b"##fileformat")
        assert m.readline().startswith(b"#CHROM")
        out = b"".join(iter(partial(m.read, 16), b"")).decode()
        assert out == (
            "chr1\t5\t.\tA\tT\nchr1\t5\t.\tA\tC\nchr1\t5\t.\tA\tG\nchr1\t7\t.\tG\tA\n"
            "chr1\t8\t.\tC\tG\nchr1\t8\trs9\tCA\tC\nchr1\t9\t.\tT\tA\nchr1\t10\t.\tT\tG\n"
            "chr2\t1\t.\tA\tC\nchr2\t3\t.\tT\tC\nchr2\t3\tx:y\tTT\tT\nchr3\t1\t.\tG\tC\n"
        )


def _merge_once(normed: str, side: str, state=(0, 1, 0), n_eof=False, b_eof=False):
    nbuf, bbuf = np.frombuffer(normed.encode(), np.uint8), np.frombuffer(side.encode(), np.uint8)
    st = np.array(state, np.int64)
    out = np.empty(len(nbuf) + len(bbuf), np.uint8)
    k, i, j, status = nb._kernels()["merge"](nbuf, bbuf, n_eof, b_eof, st, out)
    return out[:k].tobytes().decode(), i, j, status, st.tolist()


def test_merge_progress_marks_let_one_stream_run_ahead():
    """With neither stream finished: a record of norm goes out once the side file's mark says
    every record before it was handed on; side-file records go out before norm has written
    anything only while no record has gone to norm (C = 0), and only below the mark."""
    normed = "chr1\t9\t4:.\tAT\tA\nchr1\t30\t12:.\tAT\tA\n"
    # mark W=10: record 4 may go, record 12 must wait for the side file
    got, i, j, status, st = _merge_once(normed, "#10,1\n")
    assert got == "chr1\t9\t.\tAT\tA\n" and status == 2 and st == [10, 1, 0]
    # nothing from norm yet: side records wait while C > 0 ...
    side = "0\tchr1\t5\t.\tA\tC\n1\tchr1\t6\t.\tA\tG\n#2,1\n"
    got, i, j, status, st = _merge_once("", side)
    assert got == "" and status == 1
    # ... and go (below the mark) when nothing went to norm
    side = "0\tchr1\t5\t.\tA\tC\n1\tchr1\t6\t.\tA\tG\n#2,0\n2\tchr1\t8\t.\tC\tA\n"
    got, i, j, status, st = _merge_once("", side)
    assert got == "chr1\t5\t.\tA\tC\nchr1\t6\t.\tA\tG\n" and status == 1 and st == [2, 0, 2]


def test_merge_rejects_a_line_without_its_prefix():
    m = nb.Merged(_Pieces("#CHROM\tPOS\nchr1\t5\t.\tA\tC\n"), _Pieces("0\tchr1\t4\t.\tA\tT\n"))
    m.readline()
    with pytest.raises(ValueError, match="malformed line"):
        m.read(100)


# ------------------------------------------------------------------------------------------
# whole runs: streamed (with the records that skip norm) == every record through norm
# ------------------------------------------------------------------------------------------


_DEF = re.compile(r"^##(INFO|FORMAT)=<ID=([^,>]+)")


def _compacted(src: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The records of ``src`` on compact coordinates (gaps capped at 300 bp, order kept, no
    ##contig lines) and a FASTA holding their REF alleles (random bases elsewhere), so the real
    caller's text meets a matching reference."""
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt") as fh:
        lines = fh.read().splitlines(True)
    meta = [ln for ln in lines if ln.startswith("##") and not ln.startswith("##contig")]
    head = [ln for ln in lines if ln.startswith("#CHROM")]
    recs = [ln.rstrip("\n").split("\t") for ln in lines if not ln.startswith("#")]
    rng = np.random.default_rng(5)
    seqs: dict[str, list[str]] = {}
    last: dict[str, tuple[int, int]] = {}
    out = []
    for f in recs:
        chrom, pos = f[0], int(f[1])
        prev_in, prev_out = last.get(chrom, (pos, 100))
        new = prev_out + min(pos - prev_in, 300)
        last[chrom] = (pos, new)
        seq = seqs.setdefault(chrom, [])
        need = new + len(f[3]) + 400
        if len(seq) < need:
            seq.extend(rng.choice(list("ACGT"), size=need - len(seq)).tolist())
        for k, base in enumerate(f[3]):
            if base.upper() in "ACGT":
                seq[new - 1 + k] = base.upper()
        f[1] = str(new)
        out.append("\t".join(f) + "\n")
    # tags the caller uses without declaring them (Strelka, Pindel) get the definitions the
    # step-by-step path would add, so the run streams
    declared = {(m.group(1), m.group(2)) for m in map(_DEF.match, meta) if m}
    for f in recs:
        for key in f[8].split(":") if len(f) > 8 else []:
            if ("FORMAT", key) not in declared:
                declared.add(("FORMAT", key))
                number, typ, _ = norm.KNOWN_FORMAT.get(key, (".", "String", ""))
                meta.append(f'##FORMAT=<ID={key},Number={number},Type={typ},Description="x">\n')
        for item in f[7].split(";"):
            key = item.split("=")[0]
            if key != "." and ("INFO", key) not in declared:
                declared.add(("INFO", key))
                number, typ = (".", "String") if "=" in item else ("0", "Flag")
                meta.append(f'##INFO=<ID={key},Number={number},Type={typ},Description="x">\n')
    vcf = tmp_path / f"{src.name.split('.')[0]}.compact.vcf"
    vcf.write_text("".join(meta + head + out))
    fa = tmp_path / "compact.fa"
    with open(fa, "w") as fh:
        for chrom, seq in seqs.items():
            fh.write(f">{chrom}\n" + "".join(seq) + "\n")
    pysam.faidx(str(fa))
    return vcf, fa


def _skipped(monkeypatch) -> list[int]:
    got: list[int] = []
    real = norm._stream_all

    def spy(*a, **k):
        res = real(*a, **k)
        got.append(res[0].skipped_norm if res is not None else -1)
        return res

    monkeypatch.setattr(norm, "_stream_all", spy)
    return got


# (Delly's structural records: the compaction of _compacted does not map its breakend positions)
@pytest.mark.parametrize("name", [*(c for c in CALLER_FILES if c != "test_delly"), "T001"])
def test_stream_with_skips_equals_norm_on_every_record_real_callers(name, shared_data, tmp_path, monkeypatch):
    """The callers' own VCFs (and the real TCGA tumour): the streamed run, where records skip
    norm, writes byte for byte what running every record through norm writes."""
    if name == "T001":
        src = shared_data / "pcgr-T001-BRCA" / "T001-BRCA.grch38.vcf.gz"
    else:
        src = shared_data / "caller-vcfs" / f"{name}.vcf"
    vcf, fa = _compacted(src, tmp_path)
    skipped = _skipped(monkeypatch)
    opts = {"pass_only": False}
    if name == "T001":  # PCGR's custom tags (as in test_callers)
        tag_map = tmp_path / "pcgr.yaml"
        tag_map.write_text(
            "name: pcgr\ntumor:\n  depth: FORMAT/DPT\n  ad: FORMAT/ADT\n"
            "normal:\n  depth: FORMAT/DPC\n  ad: FORMAT/ADC\n  same_column: true\n"
        )
        opts["tag_map"] = tag_map
    doc_a = normalize_vcf(vcf, tmp_path / "a.vcf.gz", reference=fa, **opts)
    doc_b = normalize_vcf(vcf, tmp_path / "b.vcf.gz", reference=fa, stream=False, **opts)
    with gzip.open(tmp_path / "a.vcf.gz", "rt") as a, gzip.open(tmp_path / "b.vcf.gz", "rt") as b:
        assert a.read() == b.read()
    assert doc_a == doc_b
    assert len(skipped) == 1 and skipped[0] >= 0  # streamed, not restarted
    if name in ("test_strelka", "test_muse", "test_sniper"):  # written the way htslib prints
        assert skipped[0] > 0.9 * doc_a["records_in"]
    if name == "test_varscan":  # 9.98E-34: every record goes through norm, as a whole (MIN_SHARE)
        assert skipped[0] == 0


def test_ties_duplicates_and_moves_across_the_two_paths(tmp_path, monkeypatch):
    """Records at one POS split between norm and the side file keep input order; a deletion
    left-aligned onto a skipped SNV's POS comes after it; an exact duplicate across the two
    paths is removed; an SNV with trailing zeros skips norm written as htslib prints it; an SNV
    with an exponent and a REF mismatch go through norm. Same output as every record through
    norm."""
    rng = np.random.default_rng(3)
    seq = list(rng.choice(list("ACGT"), size=2000))
    seq[499:506] = list("CAAAAAG")  # 500 C, 501-505 A, 506 G
    fa = tmp_path / "r.fa"
    fa.write_text(">chr1\n" + "".join(seq) + "\n")
    pysam.faidx(str(fa))
    b = {p: seq[p - 1] for p in (300, 700, 800, 900, 950, 990)}
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    fmt = "GT:AD:AF\t0/0:30,0:0\t0/1:20,10:0.333"
    rows = [
        f"chr1\t300\t.\t{b[300]}\t{other[b[300]]}\t.\tPASS\tDP=3\t{fmt}",
        f"chr1\t500\trsA\tC\tT\t.\tPASS\tDP=3\t{fmt}",
        "chr1\t504\trsDel\tAA\tA\t.\tPASS\tDP=3\tGT:AD:AF\t0/0:30,0:0\t0/1:20,10:0.333",
        f"chr1\t700\t.\t{b[700]}\t{other[b[700]]}\t.\tPASS\tDP=3\t{fmt}",
        f"chr1\t700\tmulti\t{b[700]}\t{other[other[b[700]]]},{other[other[other[b[700]]]]}\t.\tPASS\tDP=3"
        "\tGT:AD:AF\t0/0:30,0,0:0,0\t1/2:10,10,10:0.3,0.3",
        f"chr1\t800\t.\t{b[800]}\t{other[b[800]]}\t5e1\tPASS\tDP=3\t{fmt}",
        f"chr1\t900\tm2\t{b[900]}\t{other[b[900]]},{other[other[b[900]]]}\t.\tPASS\tDP=3"
        "\tGT:AD:AF\t0/0:30,0,0:0,0\t1/2:10,10,10:0.3,0.3",
        f"chr1\t900\tdup\t{b[900]}\t{other[b[900]]}\t.\tPASS\tDP=3\t{fmt}",
        f"chr1\t950\tbadref\t{other[b[950]]}\t{b[950]}\t.\tPASS\tDP=3\t{fmt}",
        f"chr1\t990\t.\t{b[990]}\t{other[b[990]]}\t50.0\tPASS\tDP=3\tGT:AD:AF\t0/0:30,0:0.00\t0/1:20,10:0.3330",
    ]
    header = (
        "##fileformat=VCFv4.2\n##source=Mutect2\n##tumor_sample=TUMOR\n##normal_sample=NORMAL\n"
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="x">\n'
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="x">\n'
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="x">\n'
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="x">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR\n"
    )
    vcf = tmp_path / "t.vcf"
    vcf.write_text(header + "\n".join(rows) + "\n")
    skipped = _skipped(monkeypatch)
    doc_a = normalize_vcf(vcf, tmp_path / "a.vcf.gz", reference=fa)
    doc_b = normalize_vcf(vcf, tmp_path / "b.vcf.gz", reference=fa, stream=False)
    text_a = gzip.open(tmp_path / "a.vcf.gz", "rt").read()
    assert text_a == gzip.open(tmp_path / "b.vcf.gz", "rt").read() and doc_a == doc_b
    assert skipped == [5]  # the SNVs at 300, 500, 700, 900 (the duplicate) and 990 (rewritten)
    assert "\t50\tPASS\tDP=3;T_DP=30" in text_a and ":0.333\n" in text_a
    ids = [(ln.split("\t")[1], ln.split("\t")[2]) for ln in text_a.splitlines() if not ln.startswith("#")]
    assert ids == [
        ("300", "."), ("500", "rsA"), ("500", "rsDel"), ("700", "."), ("700", "multi"), ("700", "multi"),
        ("800", "."), ("900", "m2"), ("900", "m2"), ("990", "."),
    ]  # fmt: skip
    assert doc_a["removed"] == {"duplicate": 1, "ref_mismatch": 1}


def test_kernels_load_after_normtext_compiled_its_helpers():
    """normtext replaces its ``_put_int`` by the compiled one when its kernels load; normbypass,
    imported afterwards in the same process (a test run, a long-lived worker), still compiles."""
    import subprocess
    import sys

    code = (
        "from ccevariants import normtext; normtext._kernels()\n"
        "from ccevariants import normbypass as nb\n"
        "import numpy as np\n"
        "k = nb._kernels()['split']\n"
        "out = np.zeros(8, np.uint8); print(nb._put_int(out, 0, 42), bytes(out[:2]))\n"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert got.returncode == 0, got.stderr[-500:]
    assert got.stdout.strip() == "2 b'42'"
