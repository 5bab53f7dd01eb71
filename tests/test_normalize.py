"""ccev normalize: the end-to-end normalisation path, bad input, and bcftools' own norm cases.

Reference FASTAs are built here in tmp_path (a few hundred random bases with hand-placed motifs);
the bcftools-norm cases are copied from ../shared/data into tmp_path before use (htslib writes a
.fai beside a FASTA, and shared data is read-only input).
"""

from __future__ import annotations

import csv
import gzip
import json
import shlex
import shutil
from pathlib import Path

import cyvcf2
import numpy as np
import pysam
import pysam.bcftools
import pytest

from ccevariants.cli import main as ccev_main
from ccevariants.errors import InputError, ReferenceMismatchError
from ccevariants.normalize import DuplicateTracker, exact_duplicates, normalize_vcf, run_norm

# ------------------------------------------------------------------------------------------
# a small reference with known motifs (1-based positions in the comments)
# ------------------------------------------------------------------------------------------


def _sequence(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return list(rng.choice(list("ACGT"), size=n))


def make_reference(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    chr1 = _sequence(1000, 1)
    # chr1:200 = C, chr1:201-205 = AAAAA, chr1:206 = G  -> a 1-base deletion in the run left-aligns
    # to POS 200 REF CA ALT C
    chr1[199] = "C"
    chr1[200:205] = list("AAAAA")
    chr1[205] = "G"
    seqs = {"chr1": "".join(chr1), "chr2": "".join(_sequence(600, 2)), "chrM": "".join(_sequence(300, 3))}
    fa = tmp_path / "ref" / "genome.fa"
    fa.parent.mkdir(parents=True, exist_ok=True)
    with open(fa, "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name} synthetic test contig\n")
            for i in range(0, len(s), 60):
                fh.write(s[i : i + 60] + "\n")
    pysam.faidx(str(fa))
    return fa, seqs


HEADER = """##fileformat=VCFv4.2
##source=Mutect2
##tumor_sample=TUMOR
##normal_sample=NORMAL
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=weak_evidence,Description="weak">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR
"""


def rec(chrom, pos, ref, alt, normal, tumour, filt="PASS"):
    return f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t{filt}\t.\tGT:AD:DP:AF\t{normal}\t{tumour}\n"


def make_vcf(tmp_path: Path, seqs: dict[str, str], name="in.vcf") -> Path:
    c1, c2, cm = seqs["chr1"], seqs["chr2"], seqs["chrM"]
    b = lambda s, p: s[p - 1]  # noqa: E731  (1-based base)
    alt_for = lambda r: "T" if r != "T" else "G"  # noqa: E731
    alt2_for = lambda r: "C" if r not in "CT" else "A"  # noqa: E731
    lines = [
        # contig spelled "2" (reference: chr2), listed first: input is unsorted
        rec("2", 50, b(c2, 50), alt_for(b(c2, 50)), "0/0:40,0:40:0.0", "0/1:30,10:40:0.25"),
        # multi-allelic: AD split per allele
        rec(
            "1",
            20,
            b(c1, 20),
            f"{alt_for(b(c1, 20))},{alt2_for(b(c1, 20))}",
            "0/0:30,0,0:30:0,0",
            "1/2:20,5,3:28:0.18,0.11",
        ),
        # deletion written at the right end of the AAAAA run (chr1:204 AA>A) -> left-aligned to 200 CA>C
        rec("1", 204, "AA", "A", "0/0:25,0:25:0.0", "0/1:15,5:20:0.25"),
        # the same deletion already left-aligned: an exact duplicate after normalisation
        rec("1", 200, "CA", "C", "0/0:25,0:25:0.0", "0/1:15,5:20:0.25"),
        rec(
            "1",
            300,
            b(c1, 300),
            alt_for(b(c1, 300)),
            "0/0:30,0:30:0.0",
            "0/1:25,5:30:0.17",
            filt="weak_evidence",
        ),
        rec("1", 400, b(c1, 400), alt_for(b(c1, 400)), "0/0:30,0:30:0.0", "0/1:3,2:5:0.4"),
        rec("1", 500, b(c1, 500), alt_for(b(c1, 500)), "0/0:30,0:30:0.0", "0/1:98,2:100:0.02"),
        rec("MT", 10, b(cm, 10), alt_for(b(cm, 10)), "0/0:50,0:50:0.0", "0/1:50,50:100:0.5"),
    ]
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines))
    return path


@pytest.fixture
def ref_and_vcf(tmp_path):
    fa, seqs = make_reference(tmp_path)
    return fa, seqs, make_vcf(tmp_path, seqs)


def _records(path):
    return [
        (
            v.CHROM,
            v.POS,
            v.REF,
            ",".join(v.ALT),
            {k: v.INFO.get(k) for k in ("T_DP", "T_AD", "T_AF", "N_DP", "N_AD", "N_AF")},
        )
        for v in cyvcf2.Reader(str(path))
    ]


def test_end_to_end(ref_and_vcf, tmp_path):
    fa, seqs, vcf = ref_and_vcf
    out = tmp_path / "out" / "P1.vcf.gz"
    filt = tmp_path / "out" / "P1.filtered.tsv"
    st = tmp_path / "out" / "P1.stats.json"
    doc = normalize_vcf(vcf, out, reference=fa, min_depth=10, min_vaf=0.05, filtered=filt, stats=st)

    c1 = seqs["chr1"]
    r20 = c1[19]
    a1 = "T" if r20 != "T" else "G"
    a2 = "C" if r20 not in "CT" else "A"
    recs = _records(out)
    keys = [(c, p, r, a) for c, p, r, a, _ in recs]
    # sorted in reference order, contigs renamed, multi-allelic split, deletion left-aligned
    assert keys == [
        ("chr1", 20, r20, a1),
        ("chr1", 20, r20, a2),
        ("chr1", 200, "CA", "C"),
        ("chr2", 50, seqs["chr2"][49], "T" if seqs["chr2"][49] != "T" else "G"),
        ("chrM", 10, seqs["chrM"][9], "T" if seqs["chrM"][9] != "T" else "G"),
    ]
    info = {k[:2] + (k[3],): r[4] for k, r in zip(keys, recs, strict=True)}
    # Mutect2 rule: DP, AD (ref,alt); split keeps per-allele AD; VAF from the counts
    assert info[("chr1", 20, a1)]["T_DP"] == 28
    assert tuple(info[("chr1", 20, a1)]["T_AD"]) == (20, 5)
    assert info[("chr1", 20, a1)]["T_AF"] == pytest.approx(5 / 28, abs=1e-6)  # alt / site DP
    assert tuple(info[("chr1", 20, a2)]["T_AD"]) == (20, 3)
    assert info[("chr1", 20, a2)]["T_AF"] == pytest.approx(3 / 28, abs=1e-6)
    assert tuple(info[("chr1", 20, a2)]["N_AD"]) == (30, 0)
    assert info[("chr1", 200, "C")]["T_DP"] == 20
    assert tuple(info[("chrM", 10, keys[-1][3])]["T_AD"]) == (50, 50)

    with open(filt) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [(r["chrom"], r["pos"], r["ref"], r["alt"], r["filter"], r["reason"]) for r in rows] == [
        ("chr1", "200", "CA", "C", "PASS", "duplicate"),
        ("chr1", "300", c1[299], "T" if c1[299] != "T" else "G", "weak_evidence", "filter:weak_evidence"),
        ("chr1", "400", c1[399], "T" if c1[399] != "T" else "G", "PASS", "min_depth"),
        ("chr1", "500", c1[499], "T" if c1[499] != "T" else "G", "PASS", "min_vaf"),
    ]
    assert json.loads(st.read_text()) == doc
    assert doc["records_in"] == 8
    assert doc["records_out"] == 5
    assert doc["removed"] == {"duplicate": 1, "filter:weak_evidence": 1, "min_depth": 1, "min_vaf": 1}
    assert (doc["caller"], doc["tumor_sample"], doc["normal_sample"]) == ("mutect2", "TUMOR", "NORMAL")
    assert doc["multiallelic_split"] == 1
    assert doc["realigned"] == 1
    assert doc["contigs_renamed"] == {"1": "chr1", "2": "chr2", "MT": "chrM"}

    header = [ln for ln in gzip.open(out, "rt") if ln.startswith("##")]
    assert "##ccev_caller=mutect2\n" in header
    assert "##ccev_tumor_sample=TUMOR\n" in header
    assert "##ccev_normal_sample=NORMAL\n" in header
    for tag, number, typ in [
        ("T_DP", "1", "Integer"),
        ("T_AD", "2", "Integer"),
        ("T_AF", "1", "Float"),
        ("N_AD", "2", "Integer"),
    ]:
        assert any(ln.startswith(f"##INFO=<ID={tag},Number={number},Type={typ}") for ln in header)
    # tabix index usable
    with pysam.VariantFile(str(out)) as vf:
        assert [r.pos for r in vf.fetch("chr1", 150, 250)] == [200]


def test_plain_gzip_and_bgzip_inputs_give_identical_output(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    gz = tmp_path / "in.vcf.gz"
    with open(vcf, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    bgz = tmp_path / "in.bgz.vcf.gz"
    pysam.tabix_compress(str(vcf), str(bgz))
    outs = []
    for i, src in enumerate((vcf, gz, bgz)):
        out = tmp_path / f"o{i}.vcf.gz"
        doc = normalize_vcf(src, out, reference=fa)
        outs.append(gzip.open(out, "rt").read())
        assert doc["input_compression"] == ("plain", "gzip", "bgzf")[i]
    assert outs[0] == outs[1] == outs[2]


def test_without_reference_warns_and_splits_only(ref_and_vcf, tmp_path):
    _, _, vcf = ref_and_vcf
    out = tmp_path / "noref.vcf.gz"
    doc = normalize_vcf(vcf, out)
    text = gzip.open(out, "rt").read()
    assert "##ccev_warning=" in text
    assert doc["warnings"] and "no reference" in doc["warnings"][0]
    keys = [(c, p, r, a) for c, p, r, a, _ in _records(out)]
    assert ("1", 204, "AA", "A") in keys  # not left-aligned without a reference
    assert doc["multiallelic_split"] == 1
    assert doc["records_out"] == 8  # 8 in, +1 split, -1 non-PASS


def test_keep_nonpass(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    doc = normalize_vcf(vcf, tmp_path / "k.vcf.gz", reference=fa, pass_only=False)
    assert doc["removed"] == {"duplicate": 1}
    assert doc["records_out"] == 8


def test_single_ref_mismatch_is_excluded_not_fatal(tmp_path):
    fa, seqs = make_reference(tmp_path)
    c1 = seqs["chr1"]
    lines = [
        rec("chr1", p, c1[p - 1], "T" if c1[p - 1] != "T" else "G", "0/0:9,0:9:0", "0/1:5,5:10:0.5")
        for p in range(10, 400, 20)
    ]
    wrong = "A" if c1[604] != "A" else "C"
    lines.append(rec("chr1", 605, wrong, "G" if wrong != "G" else "T", "0/0:9,0:9:0", "0/1:5,5:10:0.5"))
    vcf = tmp_path / "one_bad.vcf"
    vcf.write_text(HEADER + "".join(lines))
    filt = tmp_path / "f.tsv"
    doc = normalize_vcf(vcf, tmp_path / "o.vcf.gz", reference=fa, filtered=filt)
    assert doc["removed"] == {"ref_mismatch": 1}
    assert doc["records_out"] == len(lines) - 1
    assert "chr1\t605\t" + wrong in filt.read_text()


def test_empty_vcf_is_valid(tmp_path):
    fa, _ = make_reference(tmp_path)
    vcf = tmp_path / "empty.vcf"
    vcf.write_text(HEADER)
    out = tmp_path / "e.vcf.gz"
    filt = tmp_path / "e.tsv"
    doc = normalize_vcf(vcf, out, reference=fa, filtered=filt, stats=tmp_path / "e.json")
    assert out.exists() and Path(str(out) + ".tbi").exists()
    assert _records(out) == []
    assert (doc["records_in"], doc["records_out"], doc["removed"]) == (0, 0, {})
    assert filt.read_text() == "chrom\tpos\tref\talt\tfilter\treason\n"


# ------------------------------------------------------------------------------------------
# bad input: exception + message + nothing written
# ------------------------------------------------------------------------------------------


def _no_outputs(outdir: Path):
    left = [p.name for p in outdir.iterdir()] if outdir.exists() else []
    assert left == [], f"partial output left behind: {left}"


def _run_bad(tmp_path, vcf, exc_type, pattern, **kwargs):
    outdir = tmp_path / "bad_out"
    with pytest.raises(exc_type, match=pattern) as info:
        normalize_vcf(vcf, outdir / "o.vcf.gz", filtered=outdir / "o.tsv", stats=outdir / "o.json", **kwargs)
    _no_outputs(outdir)
    return info.value


def test_undecodable_bytes_name_their_line(ref_and_vcf, tmp_path):
    """A Latin-1 byte in a record: the error names that line (not the start of the file)."""
    fa, _, vcf = ref_and_vcf
    lines = vcf.read_bytes().splitlines(True)
    k = len(lines) - 2  # 0-based index of a record line
    lines[k] = lines[k].replace(b"\t.\t", b"\trs\xe9\t", 1)
    bad = tmp_path / "latin1.vcf"
    bad.write_bytes(b"".join(lines))
    err = _run_bad(tmp_path, bad, InputError, "expected UTF-8 text", reference=fa)
    assert err.line == k + 1 and str(bad) in str(err)


def test_truncated_gzip(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    big = vcf.read_text() + "".join(vcf.read_text().splitlines(True)[-1:] * 2000)
    gz = tmp_path / "trunc.vcf.gz"
    data = gzip.compress(big.encode())
    gz.write_bytes(data[: len(data) // 2])
    err = _run_bad(tmp_path, gz, InputError, "truncated or corrupt", reference=fa)
    assert err.path == str(gz)


def test_missing_chrom_line(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    lines = vcf.read_text().splitlines(True)
    bad = tmp_path / "nochrom.vcf"
    bad.write_text("".join(ln for ln in lines if not ln.startswith("#CHROM")))
    n_meta = sum(1 for ln in lines if ln.startswith("##"))
    err = _run_bad(tmp_path, bad, InputError, "expected the '#CHROM' header line", reference=fa)
    assert err.line == n_meta + 1


def test_wrong_column_count(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    lines = vcf.read_text().splitlines(True)
    lines[-3] = "\t".join(lines[-3].split("\t")[:-1]) + "\n"  # drop the TUMOR column
    bad = tmp_path / "cols.vcf"
    bad.write_text("".join(lines))
    err = _run_bad(tmp_path, bad, InputError, "expected 11 tab-separated columns.*found 10", reference=fa)
    assert err.line == len(lines) - 2
    assert f"{bad}:{len(lines) - 2}:" in str(err)


def test_ref_not_matching_reference(tmp_path):
    fa, seqs = make_reference(tmp_path)
    c1 = seqs["chr1"]
    comp = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lines = [
        rec("chr1", p, comp[c1[p - 1]], comp[comp[c1[p - 1]]], "0/0:9,0:9:0", "0/1:5,5:10:0.5")
        for p in (10, 30, 50)
    ]
    vcf = tmp_path / "wrongref.vcf"
    vcf.write_text(HEADER + "".join(lines))
    err = _run_bad(
        tmp_path,
        vcf,
        ReferenceMismatchError,
        "expected REF alleles to match reference genome.fa",
        reference=fa,
    )
    assert "3 of 3" in str(err)
    assert f"chr1:10 REF {comp[c1[9]]} vs reference {c1[9]}" in str(err)


def test_contig_not_in_reference(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    bad = tmp_path / "contig.vcf"
    bad.write_text(vcf.read_text() + rec("chr9", 5, "A", "G", "0/0:9,0:9:0", "0/1:5,5:10:0.5"))
    err = _run_bad(tmp_path, bad, ReferenceMismatchError, "expected contig 'chr9'", reference=fa)
    assert err.line == len(bad.read_text().splitlines())


def test_wrong_build_contig_lengths(tmp_path):
    """GRCh37 VCF against a GRCh38 reference: named from the chr1 lengths (249250621 vs 248956422).
    The reference is a tiny FASTA whose index declares the GRCh38 chr1 length (only the index is
    read before the check fails)."""
    fa = tmp_path / "grch38.fa"
    fa.write_text(">chr1\nACGT\n")
    Path(str(fa) + ".fai").write_text("chr1\t248956422\t6\t4\t5\n")
    vcf = tmp_path / "grch37.vcf"
    vcf.write_text(
        HEADER.replace("##source", "##contig=<ID=1,length=249250621>\n##source")
        + rec("1", 3, "G", "A", "0/0:9,0:9:0", "0/1:5,5:10:0.5")
    )
    err = _run_bad(tmp_path, vcf, ReferenceMismatchError, "length 248956422", reference=fa)
    assert "GRCh37" in str(err) and "GRCh38" in str(err) and "249250621" in str(err)


def test_vcf_without_samples(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    lines = vcf.read_text().splitlines(True)
    cut = [
        "\t".join(ln.rstrip("\n").split("\t")[:8]) + "\n" if not ln.startswith("##") else ln for ln in lines
    ]
    bad = tmp_path / "sites.vcf"
    bad.write_text("".join(cut))
    _run_bad(tmp_path, bad, InputError, "expected at least one sample column", reference=fa)


def test_tumour_sample_not_found(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    err = _run_bad(
        tmp_path, vcf, InputError, "expected tumour sample 'P1-T'", reference=fa, tumor_sample="P1-T"
    )
    assert "NORMAL" in str(err) and "TUMOR" in str(err)


def test_ambiguous_samples_ask_for_sheet_column(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    text = vcf.read_text().replace("##tumor_sample=TUMOR\n##normal_sample=NORMAL\n", "")
    text = text.replace("\tNORMAL\tTUMOR", "\tS1\tS2")
    bad = tmp_path / "amb.vcf"
    bad.write_text(text)
    _run_bad(tmp_path, bad, InputError, "tumor_sample", reference=fa)
    # resolved by the explicit argument
    doc = normalize_vcf(bad, tmp_path / "amb.vcf.gz", reference=fa, tumor_sample="S2", normal_sample="S1")
    assert (doc["tumor_sample"], doc["normal_sample"]) == ("S2", "S1")


def test_missing_fileformat_and_bad_pos(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    bad = tmp_path / "nofmt.vcf"
    bad.write_text("\n".join(vcf.read_text().splitlines()[1:]) + "\n")
    _run_bad(tmp_path, bad, InputError, "##fileformat=VCFv4.x", reference=fa)
    lines = vcf.read_text().splitlines(True)
    lines[-1] = lines[-1].replace("\t10\t", "\tten\t", 1)
    bad2 = tmp_path / "pos.vcf"
    bad2.write_text("".join(lines))
    err = _run_bad(tmp_path, bad2, InputError, "expected POS as a positive integer", reference=fa)
    assert err.line == len(lines)


def test_cli_error_is_one_line_exit_2(ref_and_vcf, tmp_path, capsys):
    fa, _, vcf = ref_and_vcf
    out = tmp_path / "cli" / "o.vcf.gz"
    rc = ccev_main(
        [
            "normalize",
            "--input",
            str(vcf),
            "--reference",
            str(fa),
            "--output",
            str(out),
            "--tumor-sample",
            "X",
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("ccev normalize: error:")
        and "expected tumour sample 'X'" in err[0]
    )
    assert not out.exists()


def test_cli_success(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    out = tmp_path / "cli" / "o.vcf.gz"
    st = tmp_path / "cli" / "o.json"
    rc = ccev_main(
        [
            "normalize",
            "--input",
            str(vcf),
            "--reference",
            str(fa),
            "--output",
            str(out),
            "--stats",
            str(st),
            "--min-depth",
            "10",
            "--keep-nonpass",
        ]
    )
    assert rc == 0
    doc = json.loads(st.read_text())
    assert doc["removed"] == {"duplicate": 1, "min_depth": 1}
    assert Path(str(out) + ".tbi").exists()


# ------------------------------------------------------------------------------------------
# bcftools' own norm test cases (samtools/bcftools test/norm*), options we use
# ------------------------------------------------------------------------------------------

#: option sets that are a subset of what the pipeline runs: -m -any / -m- split, -f left-align,
#: -c x / -c e REF check, -d exact duplicate removal, or none (left-align only)
OUR_OPTIONS = {"-m-", "-m -", "-m -any", "-cx", "-c e", "-d exact", "(none)", "(none: empty args)"}


def _norm_cases():
    tsv = Path(__file__).resolve().parents[2] / "shared" / "data" / "bcftools-norm" / "norm_tests.tsv"
    if not tsv.exists():
        return [pytest.param(None, id="shared-data-absent")]
    with open(tsv) as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["options"] in OUR_OPTIONS]
    return [pytest.param(r, id=f"{r['test_pl_line']}:{r['input_vcf']}:{r['options']}") for r in rows]


def _body(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln and not ln.startswith("##")]


@pytest.mark.parametrize("case", _norm_cases())
def test_bcftools_norm_cases(case, shared_data, tmp_path):
    src_dir = shared_data / "bcftools-norm"
    for name in (case["input_vcf"], case["reference_fasta"], case["expected_output"]):
        if name != "-":
            shutil.copy(src_dir / name, tmp_path / name)
    opts = case["options"].replace("(none: empty args)", "").replace("(none)", "")
    options = tuple(shlex.split(opts))
    ref = None if case["reference_fasta"] == "-" else tmp_path / case["reference_fasta"]
    out = tmp_path / "out.vcf"
    run_norm(tmp_path / case["input_vcf"], out, reference=ref, options=options, output_type="v")
    assert _body(out.read_text()) == _body((tmp_path / case["expected_output"]).read_text())


@pytest.mark.parametrize(
    ("vcf", "fasta", "expected", "n_dups"),
    [
        ("norm.rmdup.vcf", None, "norm.rmdup.5.out", 3),  # -d exact: ALT order ignored
        ("norm.rmdup.2.vcf", None, "norm.rmdup.2.1.out", 0),  # -d exact: same POS, other ALT kept
        # -d exact -f: <DEL> compared by SVLEN; CCC>CC and CC>C identical after realignment
        ("norm.rmdup.3.vcf", "norm.rmdup.3.fa", "norm.rmdup.3.1.out", 7),
    ],
)
def test_duplicate_rule_equals_bcftools_d_exact(vcf, fasta, expected, n_dups, shared_data, tmp_path):
    """Our DuplicateTracker (used in the pipeline so every removed duplicate can be reported)
    keeps exactly the records ``bcftools norm -d exact`` keeps."""
    src_dir = shared_data / "bcftools-norm"
    shutil.copy(src_dir / vcf, tmp_path / vcf)
    src = tmp_path / vcf
    if fasta:
        shutil.copy(src_dir / fasta, tmp_path / fasta)
        src = tmp_path / "realigned.vcf"
        run_norm(tmp_path / vcf, src, reference=tmp_path / fasta, options=(), output_type="v")
    lines = _body(src.read_text())[1:]
    fields = [ln.split("\t") for ln in lines]
    chrom = np.array([f[0] for f in fields], dtype=object)
    pos = np.array([int(f[1]) for f in fields], dtype=np.int64)
    ref = np.array([f[3] for f in fields], dtype=object)
    alt = np.array([f[4] for f in fields], dtype=object)
    svlen = [[int(x[6:]) for x in f[7].split(";") if x.startswith("SVLEN=")] for f in fields]
    end = np.array([p + (abs(s[0]) if s else len(r) - 1) for p, s, r in zip(pos, svlen, ref, strict=True)])
    exp = _body((src_dir / expected).read_text())[1:]
    # the pipeline's vectorised rule, whole and in chunks of 2 (duplicates across chunk boundaries)
    dup = exact_duplicates(chrom, pos, ref, alt, end)
    assert [ln for ln, d in zip(lines, dup, strict=True) if not d] == exp
    carry: list = []
    chunked = np.concatenate(
        [
            exact_duplicates(
                chrom[i : i + 2], pos[i : i + 2], ref[i : i + 2], alt[i : i + 2], end[i : i + 2], carry
            )
            for i in range(0, len(lines), 2)
        ]
    )
    assert chunked.tolist() == dup.tolist()
    # and its per-record twin
    tracker = DuplicateTracker()
    twin = [
        tracker.seen(c, int(p), r, a, int(e - p + 1))
        for c, p, r, a, e in zip(chrom, pos, ref, alt, end, strict=True)
    ]
    assert twin == dup.tolist()
    assert int(dup.sum()) == n_dups


@pytest.mark.parametrize(("chunk", "stream"), [(1, True), (150, True), (700, False)])
def test_chunk_boundaries_do_not_change_output(ref_and_vcf, tmp_path, monkeypatch, chunk, stream):
    """Duplicates and sort checks carry across blocks: tiny blocks (one record each, or a few),
    streamed through the concurrent pipeline or step by step, give the same result."""
    import ccevariants.normalize as norm

    fa, _, vcf = ref_and_vcf
    ref_out, ref_tsv = tmp_path / "a.vcf.gz", tmp_path / "a.tsv"
    doc_a = normalize_vcf(vcf, ref_out, reference=fa, min_depth=10, filtered=ref_tsv)
    monkeypatch.setattr(norm, "CHUNK_BYTES", chunk)
    out, tsv = tmp_path / "b.vcf.gz", tmp_path / "b.tsv"
    doc_b = normalize_vcf(vcf, out, reference=fa, min_depth=10, filtered=tsv, stream=stream)
    assert gzip.open(out, "rt").read() == gzip.open(ref_out, "rt").read()
    assert tsv.read_text() == ref_tsv.read_text()
    assert doc_a == doc_b
    assert doc_b["removed"]["duplicate"] == 1


def test_pre_annotated_vcf_keeps_csq_as_src_csq(ref_and_vcf, tmp_path):
    """A VEP-annotated input keeps its CSQ as INFO/SRC_CSQ (the annotate stage writes its own CSQ)."""
    fa, _, vcf = ref_and_vcf
    text = vcf.read_text()
    text = text.replace(
        "##FORMAT=<ID=GT",
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
        'Format: Allele|Consequence|SYMBOL">\n##FORMAT=<ID=GT',
    )
    lines = text.splitlines(True)
    f = lines[-1].split("\t")
    f[7] = "CSQ=T|missense_variant|GENE1,G|synonymous_variant|GENE1"
    lines[-1] = "\t".join(f)
    src = tmp_path / "vep.vcf"
    src.write_text("".join(lines))
    out = tmp_path / "vep.out.vcf.gz"
    doc = normalize_vcf(src, out, reference=fa)
    assert doc["info_renamed"] == {"CSQ": "SRC_CSQ"}
    body = gzip.open(out, "rt").read()
    assert "##INFO=<ID=SRC_CSQ,Number=.,Type=String" in body
    assert "ID=CSQ," not in body
    rec = [v for v in cyvcf2.Reader(str(out)) if v.CHROM == "chrM"][0]
    assert rec.INFO["SRC_CSQ"] == "T|missense_variant|GENE1,G|synonymous_variant|GENE1"
    assert rec.INFO.get("CSQ") is None


def _write_bam(tmp_path: Path, seqs: dict[str, str], reads: list[tuple]) -> Path:
    """A coordinate-sorted, indexed BAM of hand-made reads: (chrom, start0, sequence, cigar, mapq)."""
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": n, "LN": len(s)} for n, s in seqs.items()]}
    unsorted = tmp_path / "unsorted.bam"
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as out:
        for i, (chrom, start0, seq, cigar, mapq) in enumerate(reads):
            a = pysam.AlignedSegment(out.header)
            a.query_name = f"read{i}"
            a.flag = 0
            a.reference_id = out.get_tid(chrom)
            a.reference_start = start0
            a.mapping_quality = mapq
            a.cigartuples = cigar
            a.query_sequence = seq
            a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
            out.write(a)
    bam = tmp_path / "tumour.bam"
    pysam.sort("-o", str(bam), str(unsorted))
    pysam.index(str(bam))
    return bam


def test_bam_fallback_counts_missing_read_support(tmp_path):
    fa, seqs = make_reference(tmp_path)
    c1 = seqs["chr1"]
    alt300 = "T" if c1[299] != "T" else "G"
    snv_ref = c1[279:329]
    snv_alt = snv_ref[:20] + alt300 + snv_ref[21:]  # 0-based 299 = read offset 20
    reads = [("chr1", 279, snv_ref, [(0, 50)], 60)] * 30 + [("chr1", 279, snv_alt, [(0, 50)], 60)] * 10
    reads += [("chr1", 279, snv_alt, [(0, 50)], 5)] * 2  # MAPQ 5: ignored
    # one A of the run chr1:201-205 deleted, written leftmost (after the anchor chr1:200)
    reads += [("chr1", 180, c1[180:200] + c1[201:230], [(0, 20), (2, 1), (0, 29)], 60)] * 8
    reads += [("chr1", 180, c1[180:230], [(0, 50)], 60)] * 12
    bam = _write_bam(tmp_path, seqs, reads)
    vcf = tmp_path / "noad.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n"
        f"chr1\t200\t.\tCA\tC\t.\tPASS\t.\tGT\t0/1\n"
        f"chr1\t300\t.\t{c1[299]}\t{alt300}\t.\tPASS\t.\tGT\t0/1\n"
        f"chr1\t700\t.\t{c1[699]}\t{'T' if c1[699] != 'T' else 'G'}\t.\tPASS\t.\tGT\t0/1\n"
    )
    out = tmp_path / "bam.vcf.gz"
    no_bam = normalize_vcf(vcf, tmp_path / "nobam.vcf.gz", reference=fa)
    assert no_bam["bam_counted"] == 0
    assert all(r[4]["T_DP"] is None for r in _records(tmp_path / "nobam.vcf.gz"))
    doc = normalize_vcf(vcf, out, reference=fa, bam=bam)
    info = {(p, r, a): i for _, p, r, a, i in _records(out)}
    d = info[(200, "CA", "C")]
    assert (d["T_DP"], tuple(d["T_AD"]), d["T_AF"]) == (20, (12, 8), pytest.approx(0.4))
    s = info[(300, c1[299], alt300)]
    assert (s["T_DP"], tuple(s["T_AD"]), s["T_AF"]) == (40, (30, 10), pytest.approx(0.25))
    z = info[(700, c1[699], "T" if c1[699] != "T" else "G")]
    assert (z["T_DP"], tuple(z["T_AD"]), z["T_AF"]) == (0, (0, 0), None)  # no reads: depth 0, no VAF
    assert doc["bam_counted"] == 3


def test_bam_missing_is_an_input_error(ref_and_vcf, tmp_path):
    fa, _, vcf = ref_and_vcf
    _run_bad(
        tmp_path, vcf, InputError, "expected an existing tumour BAM", reference=fa, bam=tmp_path / "no.bam"
    )


def test_unsorted_after_norm_is_resorted(ref_and_vcf, tmp_path, monkeypatch):
    """If bcftools norm ever emits records out of order (left shifts beyond its window), the
    annotation pass notices and the records are sorted before writing: same output as usual."""
    import ccevariants.normalize as norm

    fa, _, vcf = ref_and_vcf
    expected = tmp_path / "a.vcf.gz"
    normalize_vcf(vcf, expected, reference=fa)
    real = norm.run_norm

    def shuffled(src, dst, *args, **kwargs):
        result = real(src, dst, *args, **kwargs)
        # norm writes BCF (or VCF text): reverse the records, keep the format
        lines = pysam.bcftools.view("--no-version", str(dst), catch_stdout=True).splitlines(True)
        head = [ln for ln in lines if ln.startswith("#")]
        body = [ln for ln in lines if not ln.startswith("#")]
        text = Path(str(dst) + ".txt")
        text.write_text("".join(head + body[::-1]))
        kind = "u" if str(dst).endswith(".bcf") else "v"
        pysam.bcftools.view("--no-version", "-O", kind, "-o", str(dst), str(text), catch_stdout=False)
        text.unlink()
        return result

    monkeypatch.setattr(norm, "run_norm", shuffled)
    out = tmp_path / "b.vcf.gz"
    doc = normalize_vcf(vcf, out, reference=fa)
    got, exp = _records(out), _records(expected)
    # same records and read support (same-POS records may come in allele order; of the two
    # duplicates the other one may be kept first, so CCEV_ORIG provenance is not compared)
    assert sorted(got, key=str) == sorted(exp, key=str)
    keys = [(r[0], r[1]) for r in got]
    order = {"chr1": 0, "chr2": 1, "chrM": 2}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1]))
    assert doc["records_out"] == 7  # 8 in, +1 split, -1 duplicate, -1 non-PASS
    assert doc["removed"] == {"filter:weak_evidence": 1, "duplicate": 1}


def test_idempotent(ref_and_vcf, tmp_path):
    """Normalising ccev's own output again changes no record and no read support."""
    fa, _, vcf = ref_and_vcf
    once = tmp_path / "once.vcf.gz"
    normalize_vcf(vcf, once, reference=fa)
    twice = tmp_path / "twice.vcf.gz"
    doc = normalize_vcf(once, twice, reference=fa)
    assert _records(twice) == _records(once)
    assert doc["removed"] == {} and doc["realigned"] == 0 and doc["multiallelic_split"] == 0
    header = [ln for ln in gzip.open(twice, "rt") if ln.startswith("##ccev_caller")]
    assert header == ["##ccev_caller=mutect2\n"]  # not duplicated


def test_bcf_input_is_named(ref_and_vcf, tmp_path):
    fa, seqs, _ = ref_and_vcf
    vcf = tmp_path / "contigs.vcf"
    vcf.write_text(
        HEADER.replace("##source", "##contig=<ID=chr1,length=1000>\n##source")
        + rec("chr1", 10, seqs["chr1"][9], "N", "0/0:9,0:9:0", "0/1:5,5:10:0.5")
    )
    bcf = tmp_path / "in.bcf"
    pysam.bcftools.view("-O", "b", "-o", str(bcf), str(vcf), catch_stdout=False)
    err = _run_bad(tmp_path, bcf, InputError, "found BCF", reference=fa)
    assert err.line == 1


def test_tag_map_tag_missing_from_header_and_unknown_caller(ref_and_vcf, tmp_path):
    from ccevariants.errors import ConfigError

    fa, _, vcf = ref_and_vcf
    tm = {"name": "x", "tumor": {"depth": "FORMAT/DPT", "ad": "FORMAT/ADT"}}
    _run_bad(
        tmp_path, vcf, InputError, "expected FORMAT/DPT \\(tag map tumor.depth\\)", reference=fa, tag_map=tm
    )
    _run_bad(tmp_path, vcf, ConfigError, "expected a caller name", reference=fa, caller="nosuch")


# ------------------------------------------------------------------------------------------------
# columnar fast paths (pre-pass over byte blocks, INFO splicing) against the line-by-line code
# ------------------------------------------------------------------------------------------------


def _both_prepasses(src: Path, fa: Path | None, tmp_path: Path):
    """(fast facts, fast body, line-by-line facts, line-by-line body) for one input."""
    from ccevariants.normalize import Reference, _prepass, _prepass_fast
    from ccevariants.vcfutil import iter_text_lines, read_header

    ref = Reference.open(fa) if fa else None
    lines = iter_text_lines(src)
    header = read_header(lines, src)
    fast = _prepass_fast(header, ref, src, tmp_path / "fast.body")
    slow = _prepass(lines, header, ref, src, tmp_path / "slow.body")
    fast_body = (tmp_path / "fast.body").read_bytes() if fast is not None else None
    return fast, fast_body, slow, (tmp_path / "slow.body").read_bytes()


@pytest.mark.parametrize("compress", ["plain", "gzip", "bgzip"])
def test_fast_prepass_equals_line_by_line(ref_and_vcf, tmp_path, monkeypatch, compress):
    """Renamed contigs (2->chr2, 1->chr1, MT->chrM), unsorted input, a multi-allelic record, small
    blocks (records spanning block ends): the columnar pre-pass finds the same facts and writes the
    same body as the per-line pass, from plain, gzip and BGZF input."""
    import ccevariants.vcfutil as vcfutil

    fa, _, vcf = ref_and_vcf
    monkeypatch.setattr(vcfutil, "BLOCK_BYTES", 150)  # ~2 records per block
    src = vcf
    if compress == "gzip":
        src = tmp_path / "in.vcf.gz"
        src.write_bytes(gzip.compress(vcf.read_bytes()))
    elif compress == "bgzip":
        src = tmp_path / "in.bgz.vcf.gz"
        pysam.tabix_compress(str(vcf), str(src), force=True)
    fast, fast_body, slow, slow_body = _both_prepasses(src, fa, tmp_path)
    assert fast is not None
    assert fast == slow
    assert fast_body == slow_body
    assert fast.renamed == {"2": "chr2", "1": "chr1", "MT": "chrM"}
    assert (fast.records, fast.multiallelic, fast.sorted) == (8, 1, False)
    assert fast.format_tags == {"GT", "AD", "DP", "AF"}
    assert b"\nchr1\t204\t.\tAA\tA\t" in fast_body and b"\n1\t" not in fast_body


def test_fast_prepass_equals_line_by_line_on_caller_vcfs(shared_data, tmp_path):
    """Every real caller VCF (undeclared tags, flags, many samples): same facts and body."""
    files = sorted((shared_data / "caller-vcfs").glob("*.vcf"))
    assert len(files) >= 8
    fast_count = 0
    for vcf in files:
        fast, fast_body, slow, slow_body = _both_prepasses(vcf, None, tmp_path)
        if fast is None:
            continue
        fast_count += 1
        assert fast == slow, vcf.name
        assert fast_body == slow_body, vcf.name
    assert fast_count >= len(files) - 1  # the columnar path is the normal path


@pytest.mark.parametrize(
    "bad, message",
    [
        ("chr1\t12\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n", "expected 11 tab-separated columns"),
        ("chr1\t0\t.\tA\tC\t.\tPASS\t.\tGT\t0/0\t0/1\n", "expected POS as a positive integer"),
        ("chr1\t12\t.\tA-\tC\t.\tPASS\t.\tGT\t0/0\t0/1\n", "expected REF as bases"),
        ("chrZ\t12\t.\tA\tC\t.\tPASS\t.\tGT\t0/0\t0/1\n", "expected contig 'chrZ'"),
        ("chr1\t5000\t.\tA\tC\t.\tPASS\t.\tGT\t0/0\t0/1\n", "expected POS <= 1000"),
    ],
)
def test_bad_record_deep_in_a_large_file_names_its_line(ref_and_vcf, tmp_path, monkeypatch, bad, message):
    """The columnar pre-pass declines a block with a bad record; the per-line pass then names the
    file and the exact line (here line 3 + 14 header lines, after blocks that were fine)."""
    import ccevariants.vcfutil as vcfutil

    fa, seqs, _ = ref_and_vcf
    monkeypatch.setattr(vcfutil, "BLOCK_BYTES", 64)
    good = [rec("chr1", p, seqs["chr1"][p - 1], "N", "0/0:9,0:9:0", "0/1:5,4:9:0.4") for p in (10, 11)]
    src = tmp_path / "bad.vcf"
    src.write_text(HEADER + "".join(good) + bad + good[0])
    header_lines = HEADER.count("\n")
    with pytest.raises((InputError, ReferenceMismatchError)) as err:
        normalize_vcf(src, tmp_path / "o.vcf.gz", reference=fa)
    assert message in str(err.value)
    assert f"bad.vcf:{header_lines + 3}:" in str(err.value)
    assert not (tmp_path / "o.vcf.gz").exists()


def test_small_blocks_give_the_same_output(ref_and_vcf, tmp_path, monkeypatch):
    """Blocks of a few records in the pre-pass and the INFO writer: byte-identical output."""
    import ccevariants.vcfutil as vcfutil

    fa, _, vcf = ref_and_vcf
    a = tmp_path / "a.vcf.gz"
    doc_a = normalize_vcf(vcf, a, reference=fa)
    monkeypatch.setattr(vcfutil, "BLOCK_BYTES", 100)
    b = tmp_path / "b.vcf.gz"
    doc_b = normalize_vcf(vcf, b, reference=fa)
    assert gzip.open(b, "rt").read() == gzip.open(a, "rt").read()
    assert doc_a == doc_b
    body = [ln for ln in gzip.open(b, "rt").read().splitlines() if not ln.startswith("#")]
    # CCEV_ORIG kept first on a split record; split multi-allelic VAF = ALT/depth = 5/28
    orig, added = body[0].split("\t")[7].split(";", 1)
    assert orig.startswith("CCEV_ORIG=chr1|20|")
    assert added == "T_DP=28;T_AD=20,5;T_AF=0.178571;N_DP=30;N_AD=30,0;N_AF=0"
    # INFO '.' replaced by the additions
    assert all("T_DP=" in ln.split("\t")[7] and not ln.split("\t")[7].startswith(".") for ln in body)


def test_gather_segments():
    from ccevariants.vcfutil import gather_segments

    arr = np.frombuffer(b"abcdefghij", dtype=np.uint8)
    got = gather_segments(arr, [1, 0, 8, 5], [3, 0, 2, 1])
    assert got.tobytes() == b"bcdijf"
    assert gather_segments(arr, [0, 4], [2, 3], sep=10).tobytes() == b"ab\nefg\n"
    assert gather_segments(arr, [0, 4], [0, 0], sep=10).tobytes() == b"\n\n"
    assert gather_segments(arr, [3], [0]).tobytes() == b""
    # segments longer than the byte loop's 16 bytes are copied as slices: same bytes
    long = np.frombuffer(bytes(range(65, 123)) * 3, dtype=np.uint8)
    starts, lens = [40, 0, 100, 7, 7], [30, 17, 16, 0, 58]
    want = b"".join(long[a : a + n].tobytes() for a, n in zip(starts, lens, strict=True))
    assert gather_segments(long, starts, lens).tobytes() == want
    assert gather_segments(long, starts, lens, sep=10).tobytes().split(b"\n")[:-1] == [
        long[a : a + n].tobytes() for a, n in zip(starts, lens, strict=True)
    ]
    # a writable source (the others here are read-only) is read through a read-only view: the same
    # bytes, one compiled specialisation (each one more costs seconds of a cold start)
    from ccevariants.vcfutil import _GATHER

    assert gather_segments(long.copy(), starts, lens).tobytes() == want
    assert len(_GATHER["gather"].signatures) == 1


def test_strip_info_values_equals_the_regex():
    import re

    from ccevariants.vcfutil import strip_info_values

    text = b"DP=80;SOMATIC;CSQ=A|b=c|d;X=1=2\n.\n\nFLAG\nA=;B=x\n"
    got = strip_info_values(np.frombuffer(text, dtype=np.uint8))
    assert got == b"DP=;SOMATIC;CSQ=;X=\n.\n\nFLAG\nA=;B=\n"
    assert got == re.sub(rb"=[^;\n]*", b"=", text)


def test_scan_records_facts_and_rejections():
    from ccevariants.vcfutil import scan_records

    block = (
        b"chr1\t10\t.\tA\tC,G\t.\tPASS\t.\tGT\t0/1\n"
        b"chr1\t9\t.\tAC\tA\t.\tPASS\t.\tGT\t0/1\n"
        b"chr10\t123456789012\t.\tN\t<DEL>\t.\tPASS\t.\tGT\t0/1\n"
    )
    starts, tabs, pos, multi, new_chrom = scan_records(block, 10)
    assert starts.tolist() == [0, block.index(b"chr1\t9"), block.index(b"chr10")]
    assert tabs.shape == (3, 9) and block[tabs[2, 0] - 5 : tabs[2, 0]] == b"chr10"
    assert pos.tolist() == [10, 9, 123456789012]
    assert multi.tolist() == [True, False, False]
    assert new_chrom.tolist() == [True, False, True]
    good = b"chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n"
    for bad in (
        b"chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\n",  # a column short
        b"chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/1\n",  # a column too many
        b"chr1\t010\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n",  # leading zero
        b"chr1\t1x\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n",
        b"chr1\t10\t.\tA1\tC\t.\tPASS\t.\tGT\t0/1\n",  # REF not letters
        b"chr1\t10\t.\t\tC\t.\tPASS\t.\tGT\t0/1\n",  # empty REF
        b"chr1\t10\t.\tA\t\t.\tPASS\t.\tGT\t0/1\n",  # empty ALT
        b"\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n",  # empty CHROM
        b"\n",  # blank line
    ):
        assert scan_records(good + bad, 10) is None, bad


def test_renormalising_own_output_keeps_read_support(ref_and_vcf, tmp_path, monkeypatch):
    """Input that already carries T_/N_ keys has them removed before the new ones are added; the
    values must be recomputed, not doubled."""
    import ccevariants.normalize as norm

    fa, _seqs, vcf = ref_and_vcf
    first = tmp_path / "first.vcf.gz"
    normalize_vcf(vcf, first, reference=fa)
    calls = []
    strip = norm._without_own_keys
    monkeypatch.setattr(norm, "_without_own_keys", lambda *a, **k: calls.append(1) or strip(*a, **k))
    second = tmp_path / "second.vcf.gz"
    normalize_vcf(first, second, reference=fa)
    assert calls == [1]
    assert _records(second) == _records(first)
    assert any(r[4]["T_DP"] is not None for r in _records(second))
    with gzip.open(second, "rt") as handle:
        body = [line for line in handle if not line.startswith("#")]
    assert all(line.split("\t")[7].count("T_DP=") <= 1 for line in body)


@pytest.mark.parametrize("stream", [True, False])
def test_undeclared_filter_gets_a_definition(ref_and_vcf, tmp_path, stream):
    """A FILTER value missing from the header (htslib cannot write such a record) is declared
    by the pre-pass, in the streamed and the step-by-step path; the record is then filtered by
    the FILTER policy with its reason, not lost to an error."""
    fa, _seqs, vcf = ref_and_vcf
    lines = vcf.read_text().splitlines(True)
    f = lines[-1].split("\t")
    f[6] = "my_filter;PASSish"
    lines[-1] = "\t".join(f)
    bad = tmp_path / "undeclared.vcf"
    bad.write_text("".join(lines))
    out, tsv = tmp_path / "o.vcf.gz", tmp_path / "o.tsv"
    doc = normalize_vcf(bad, out, reference=fa, filtered=tsv, pass_only=True, stream=stream)
    assert doc["removed"].get("filter:my_filter;PASSish") == 1
    kept = normalize_vcf(bad, tmp_path / "k.vcf.gz", reference=fa, pass_only=False, stream=stream)
    by_filter = sum(v for k, v in doc["removed"].items() if k.startswith("filter:"))
    assert kept["records_out"] == doc["records_out"] + by_filter
    with gzip.open(tmp_path / "k.vcf.gz", "rt") as fh:
        text = fh.read()
    assert (
        '##FILTER=<ID=my_filter,Description="Undeclared in the input header (added by ccevariants)">' in text
    )
    assert "\tmy_filter;PASSish\t" in text


# ------------------------------------------------------------------------------------------
# the concurrent pipeline (pre-pass | bcftools norm | writer) and its step-by-step twin
# ------------------------------------------------------------------------------------------


def _sorted_vcf(tmp_path, seqs, n=400, extra_info=None):
    """A sorted Mutect2-style VCF on the reference's contig names: SNVs every few bases, a
    multi-allelic site, a deletion that left-aligns, non-PASS records."""
    c1 = seqs["chr1"]
    lines = []
    for i, p in enumerate(range(2, 2 + 2 * n, 2)):
        p = p % 990 + 1 if p > 990 else p
        if p in (200, 201, 202, 203, 204, 205):
            continue
        r = c1[p - 1]
        a = "T" if r != "T" else "G"
        info = extra_info(i) if extra_info else "."
        filt = "weak_evidence" if i % 7 == 0 else "PASS"
        lines.append(
            (
                p,
                f"chr1\t{p}\t.\t{r}\t{a}\t.\t{filt}\t{info}\tGT:AD:DP:AF\t0/0:30,0:30:0\t0/1:{20 + i % 9},{1 + i % 5}:30:0.2\n",
            )
        )
    lines.append((204, "chr1\t204\t.\tAA\tA\t.\tPASS\t.\tGT:AD:DP:AF\t0/0:25,0:25:0\t0/1:15,5:20:0.25\n"))
    lines.sort(key=lambda x: x[0])
    path = tmp_path / "sorted.vcf"
    path.write_text(HEADER + "".join(text for _, text in lines))
    return path


def _outputs(path):
    with gzip.open(path, "rt") as fh:
        return fh.read()


def test_stream_and_steps_give_identical_output(tmp_path, monkeypatch, index_like_htslib):
    """A sorted input takes the concurrent path (no restart), the same input step by step gives
    byte-identical VCF, filtered table and stats; the index answers like htslib's."""
    import ccevariants.normalize as norm

    fa, seqs = make_reference(tmp_path)
    vcf = _sorted_vcf(tmp_path, seqs)
    prepared = []
    real = norm._prepare
    monkeypatch.setattr(norm, "_prepare", lambda *a, **k: prepared.append(1) or real(*a, **k))
    a, ta = tmp_path / "a.vcf.gz", tmp_path / "a.tsv"
    doc_a = normalize_vcf(vcf, a, reference=fa, filtered=ta)
    assert prepared == []  # streamed all the way
    b, tb = tmp_path / "b.vcf.gz", tmp_path / "b.tsv"
    doc_b = normalize_vcf(vcf, b, reference=fa, filtered=tb, stream=False)
    assert prepared == [1]
    assert _outputs(a) == _outputs(b)
    assert ta.read_text() == tb.read_text()
    assert doc_a == doc_b
    assert doc_a["records_out"] > 300 and doc_a["realigned"] == 1
    assert doc_a["removed"]["filter:weak_evidence"] > 40
    index_like_htslib(a, [("chr1", s, s + 50) for s in range(0, 1000, 37)])


def test_late_undeclared_tag_restarts_step_by_step(tmp_path, monkeypatch):
    """An INFO key first used without a definition after the first block: the streamed header
    would be wrong, so the run restarts step by step; the definition is added."""
    import ccevariants.normalize as norm
    import ccevariants.vcfutil as vu

    fa, seqs = make_reference(tmp_path)
    vcf = _sorted_vcf(tmp_path, seqs, extra_info=lambda i: "LATE=1" if i > 300 else ".")
    monkeypatch.setattr(vu, "BLOCK_BYTES", 4096)
    prepared = []
    real = norm._prepare
    monkeypatch.setattr(norm, "_prepare", lambda *a, **k: prepared.append(1) or real(*a, **k))
    out = tmp_path / "o.vcf.gz"
    normalize_vcf(vcf, out, reference=fa)
    assert prepared == [1]
    text = _outputs(out)
    assert '##INFO=<ID=LATE,Number=.,Type=String,Description="Undeclared in the input header' in text
    assert text.count("LATE=1") > 50


def _children() -> set[int]:
    """PIDs of this process's live or unreaped children (Linux /proc)."""
    out: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(x) for x in text)
    return out


def _no_children_left(before: set[int]):
    assert _children() <= before  # the pre-pass and norm processes were stopped and reaped


def test_norm_failure_in_the_stream(tmp_path, monkeypatch):
    """bcftools norm failing inside the concurrent pipeline: its own message, exit code 2 from the
    CLI, no output, no process left behind."""
    import ccevariants.normalize as norm

    fa, seqs = make_reference(tmp_path)
    vcf = _sorted_vcf(tmp_path, seqs)
    monkeypatch.setattr(norm, "NORM_SPLIT", ("-m", "-any", "--no-such-option"))
    out = tmp_path / "out" / "o.vcf.gz"
    before = _children()
    with pytest.raises(InputError, match="expected input bcftools norm accepts"):
        normalize_vcf(vcf, out, reference=fa)
    assert not out.exists() and not Path(str(out) + ".tbi").exists()
    assert list(out.parent.iterdir()) == []
    _no_children_left(before)


def test_writer_failure_stops_norm(tmp_path, monkeypatch):
    """An error in the writer stops the norm and pre-pass processes; nothing is left."""
    import ccevariants.normalize as norm

    fa, seqs = make_reference(tmp_path)
    vcf = _sorted_vcf(tmp_path, seqs)

    def broken(fh, *args, **kwargs):
        fh.read(100)
        raise RuntimeError("writer broke")

    monkeypatch.setattr(norm, "_consume", broken)
    out = tmp_path / "out" / "o.vcf.gz"
    before = _children()
    with pytest.raises(RuntimeError, match="writer broke"):
        normalize_vcf(vcf, out, reference=fa)
    assert list(out.parent.iterdir()) == []
    _no_children_left(before)


def test_wrong_build_found_by_the_streaming_pre_pass(tmp_path):
    """Most REF alleles disagree with the reference: the pre-pass process reports the build error
    with file and line although norm and the writer were already running."""
    fa, seqs = make_reference(tmp_path)
    vcf = _sorted_vcf(tmp_path, seqs)
    flip = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lines = vcf.read_text().splitlines(True)
    for k, line in enumerate(lines):
        if not line.startswith("#"):
            f = line.split("\t")
            if len(f[3]) == 1:
                f[3] = flip[f[3]]
                f[4] = flip[f[3]] if f[4] == f[3] else f[4]
            lines[k] = "\t".join(f)
    vcf.write_text("".join(lines))
    out = tmp_path / "out" / "o.vcf.gz"
    before = _children()
    with pytest.raises(ReferenceMismatchError, match=r"sorted.vcf:\d+: expected REF alleles to match"):
        normalize_vcf(vcf, out, reference=fa)
    assert list(out.parent.iterdir()) == []
    _no_children_left(before)


@pytest.mark.parametrize("announced", [True, False])
def test_streamed_contig_renames(tmp_path, monkeypatch, announced):
    """Records on ``1`` against a ``chr1`` reference, whether or not the header's ##contig lines
    announce the contig: the stream renames each record on the way (to norm or around it) and
    never restarts; the output is the step-by-step output."""
    import ccevariants.normalize as norm

    fa, seqs = make_reference(tmp_path)
    vcf = _sorted_vcf(tmp_path, seqs)
    text = vcf.read_text().replace("\nchr1\t", "\n1\t")
    if announced:
        text = text.replace("##source=Mutect2\n", "##source=Mutect2\n##contig=<ID=1,length=1000>\n")
    vcf.write_text(text)
    prepared = []
    real = norm._prepare
    monkeypatch.setattr(norm, "_prepare", lambda *a, **k: prepared.append(1) or real(*a, **k))
    a = tmp_path / "a.vcf.gz"
    doc_a = normalize_vcf(vcf, a, reference=fa)
    assert prepared == []
    b = tmp_path / "b.vcf.gz"
    doc_b = normalize_vcf(vcf, b, reference=fa, stream=False)
    assert _outputs(a) == _outputs(b)
    assert doc_a == doc_b and doc_a["contigs_renamed"] == {"1": "chr1"}
    assert "\nchr1\t" in _outputs(a) and "\n1\t" not in _outputs(a)


def test_cli_threads_below_one_is_a_config_error(ref_and_vcf, tmp_path, capsys):
    fa, _, vcf = ref_and_vcf
    out = tmp_path / "o.vcf.gz"
    rc = ccev_main(
        ["normalize", "--input", str(vcf), "--reference", str(fa), "--output", str(out), "--threads", "0"]
    )
    assert rc == 2 and "expected --threads >= 1; found 0" in capsys.readouterr().err
    assert not out.exists()
