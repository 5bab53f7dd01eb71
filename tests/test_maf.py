"""MAF input → the same normalised VCF (ccevariants.maf).

Real MAFs from ../shared/data/maf-inputs (OncoKB annotator examples, cBioPortal study_es_0) and a
small MAF written here against a tiny reference built here (expected VCF alleles worked out by hand
from the GDC MAF conventions: insertions sit between Start and Start+1 with Reference_Allele '-',
deletions start at the first deleted base; VCF adds the preceding reference base).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import cyvcf2
import pysam
import pytest

from ccevariants.errors import InputError, ReferenceMismatchError
from ccevariants.maf import looks_like_maf, maf_to_vcf, normalize_maf
from ccevariants.normalize import normalize_vcf

#                 1234567890123456789012345678901234567890
CHR1 = "ACGTTGCAAGGCTTAACCGGTTAAGCTTGCAAGTTCCGGAATTCCAAGGTTCCAAGGTTACGT"

MAF_HEADER = [
    "Hugo_Symbol",
    "NCBI_Build",
    "Chromosome",
    "Start_Position",
    "End_Position",
    "Variant_Classification",
    "Reference_Allele",
    "Tumor_Seq_Allele1",
    "Tumor_Seq_Allele2",
    "Tumor_Sample_Barcode",
    "Matched_Norm_Sample_Barcode",
    "HGVSp_Short",
    "Transcript_ID",
    "t_depth",
    "t_ref_count",
    "t_alt_count",
    "n_depth",
    "n_ref_count",
    "n_alt_count",
]


def _reference(tmp_path: Path, fai_length: int | None = None) -> Path:
    fa = tmp_path / "ref.fa"
    fa.write_text(">chr1\n" + CHR1 + "\n")
    if fai_length is None:
        pysam.faidx(str(fa))
    else:  # an index that claims another length (build check happens before any fetch)
        Path(str(fa) + ".fai").write_text(f"chr1\t{fai_length}\t6\t{len(CHR1)}\t{len(CHR1) + 1}\n")
    return fa


def _maf(tmp_path: Path, rows: list[list[str]], name="in.maf", build="GRCh38") -> Path:
    path = tmp_path / name
    lines = ["#version 2.4", "\t".join(MAF_HEADER)]
    for r in rows:
        lines.append("\t".join([r[0], build, *r[1:]]))
    path.write_text("\n".join(lines) + "\n")
    return path


ROWS = [
    # insertion of GG between 5 (T) and 6 (G) -> VCF 5 T>TGG
    [
        "GENE1",
        "1",
        "5",
        "6",
        "Frame_Shift_Ins",
        "-",
        "-",
        "GG",
        "P1-T",
        "P1-N",
        "p.X1fs",
        "ENST1",
        "40",
        "30",
        "10",
        "20",
        "20",
        "0",
    ],
    # deletion of 8-9 (AA), preceded by 7 (C) -> VCF 7 CAA>C
    [
        "GENE2",
        "chr1",
        "8",
        "9",
        "Frame_Shift_Del",
        "AA",
        "AA",
        "-",
        "P1-T",
        "P1-N",
        "p.K2fs",
        "ENST2",
        "50",
        "45",
        "5",
        "30",
        "30",
        "0",
    ],
    # SNV at 10 (G>A), allele 2 is the tumour allele
    [
        "GENE3",
        "1",
        "10",
        "10",
        "Missense_Mutation",
        "G",
        "G",
        "A",
        "P1-T",
        "P1-N",
        "p.G3S",
        "ENST3",
        "50",
        "40",
        "10",
        "30",
        "30",
        "0",
    ],
    # protein-only row: no coordinates
    [
        "GENE4",
        "",
        "",
        "",
        "Missense_Mutation",
        "",
        "",
        "",
        "P1-T",
        "P1-N",
        "p.V600E",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    # another tumour sample in the same MAF
    [
        "GENE5",
        "1",
        "12",
        "12",
        "Missense_Mutation",
        "C",
        "C",
        "T",
        "P2-T",
        "P2-N",
        "p.A4V",
        "ENST5",
        "9",
        "9",
        "0",
        "",
        "",
        "",
    ],
]


def test_synthetic_maf_indels_anchored_and_counts(tmp_path):
    assert CHR1[4] == "T" and CHR1[6:9] == "CAA" and CHR1[9] == "G"
    fa = _reference(tmp_path)
    maf = _maf(tmp_path, ROWS)
    assert looks_like_maf(maf)
    out = tmp_path / "out" / "P1.vcf.gz"
    tsv = tmp_path / "out" / "P1.tsv"
    # the ordinary entry point recognises the MAF
    doc = normalize_vcf(maf, out, reference=fa, tumor_sample="P1-T", filtered=tsv)
    recs = {(v.CHROM, v.POS, v.REF, v.ALT[0]): v for v in cyvcf2.Reader(str(out))}
    assert sorted(recs) == [("chr1", 5, "T", "TGG"), ("chr1", 7, "CAA", "C"), ("chr1", 10, "G", "A")]
    snv = recs[("chr1", 10, "G", "A")]
    assert (snv.INFO["T_DP"], tuple(snv.INFO["T_AD"]), snv.INFO["T_AF"]) == (50, (40, 10), pytest.approx(0.2))
    assert (snv.INFO["N_DP"], tuple(snv.INFO["N_AD"])) == (30, (30, 0))
    assert snv.INFO["MAF_Hugo_Symbol"] == "GENE3"
    assert snv.INFO["MAF_HGVSp_Short"] == "p.G3S"
    assert snv.INFO["MAF_Transcript_ID"] == "ENST3"
    assert snv.INFO["MAF_Variant_Classification"] == "Missense_Mutation"
    assert recs[("chr1", 7, "CAA", "C")].INFO["T_AF"] == pytest.approx(5 / 50)
    assert doc["input_format"] == "maf"
    assert (doc["records_in"], doc["records_out"], doc["maf_skipped"]) == (4, 3, 1)
    assert (doc["tumor_sample"], doc["normal_sample"]) == ("P1-T", "P1-N")
    assert doc["removed"] == {"maf_no_coordinates": 1}
    with open(tsv) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert rows == [
        {
            "chrom": ".",
            "pos": "0",
            "ref": ".",
            "alt": ".",
            "filter": "Hugo_Symbol=GENE4;HGVSp_Short=p.V600E",
            "reason": "maf_no_coordinates",
        }
    ]


def test_maf_needs_sample_choice_and_reference_for_indels(tmp_path):
    fa = _reference(tmp_path)
    maf = _maf(tmp_path, ROWS)
    outdir = tmp_path / "o"
    with pytest.raises(InputError, match="tumor_sample"):
        normalize_maf(maf, outdir / "x.vcf.gz", reference=fa)
    with pytest.raises(InputError, match="expected Tumor_Sample_Barcode 'P9-T'"):
        normalize_maf(maf, outdir / "x.vcf.gz", reference=fa, tumor_sample="P9-T")
    with pytest.raises(InputError, match="expected --reference") as err:
        normalize_maf(maf, outdir / "x.vcf.gz", tumor_sample="P1-T", stats=outdir / "s.json")
    assert err.value.line == 3  # first indel row (after '#version' and the header)
    assert not outdir.exists() or list(outdir.iterdir()) == []


def test_maf_build_mismatch(tmp_path):
    fa = _reference(tmp_path, fai_length=248956422)  # index says GRCh38 chr1
    maf = _maf(tmp_path, ROWS[2:3], build="GRCh37")
    with pytest.raises(
        ReferenceMismatchError, match="expected MAF NCBI_Build to match the reference \\(GRCh38"
    ):
        normalize_maf(maf, tmp_path / "o" / "x.vcf.gz", reference=fa)


def test_maf_bad_rows(tmp_path):
    fa = _reference(tmp_path)
    bad = [r[:] for r in ROWS[2:3]]
    bad[0][2] = "ten"
    with pytest.raises(InputError, match="expected Start_Position as a positive integer") as err:
        maf_to_vcf(_maf(tmp_path, bad, "a.maf"), tmp_path / "a.vcf", fa)
    assert err.value.line == 3
    bad = [r[:] for r in ROWS[2:3]]
    bad[0][5] = bad[0][6] = bad[0][7] = "G"
    with pytest.raises(InputError, match="different Tumor_Seq_Allele"):
        maf_to_vcf(_maf(tmp_path, bad, "b.maf"), tmp_path / "b.vcf", fa)
    nohdr = tmp_path / "c.maf"
    nohdr.write_text("Hugo_Symbol\tChromosome\nX\t1\n")
    with pytest.raises(InputError, match="expected MAF columns"):
        maf_to_vcf(nohdr, tmp_path / "c.vcf", fa)


def test_oncokb_example_maf(shared_data, tmp_path):
    maf = shared_data / "maf-inputs" / "oncokb-annotator-examples" / "example_maf.txt"
    with pytest.raises(InputError, match="found 4"):
        normalize_maf(maf, tmp_path / "x.vcf.gz")
    out = tmp_path / "k.vcf.gz"
    tsv = tmp_path / "k.tsv"
    doc = normalize_maf(maf, out, tumor_sample="TCGA-05-4417-01", filtered=tsv)
    # rows of TCGA-05-4417-01: 9; with coordinates: KRAS C>A, KRAS CA>AG (G12C as an MNV), TERT promoter
    recs = [(v.CHROM, v.POS, v.REF, v.ALT[0], v.INFO.get("MAF_Hugo_Symbol")) for v in cyvcf2.Reader(str(out))]
    assert recs == [
        ("5", 1295228, "G", "A", "TERT"),
        ("12", 25398285, "C", "A", "KRAS"),
        ("12", 25398285, "CA", "AG", "KRAS"),
    ]
    assert (doc["maf_rows"], doc["maf_skipped"], doc["records_out"]) == (9, 6, 3)
    skipped = [r["filter"] for r in csv.DictReader(open(tsv), delimiter="\t")]
    assert "Hugo_Symbol=AKT3;HGVSp_Short=p.E182*" in skipped
    assert "Hugo_Symbol=MYD88;HGVSp_Short=M232T" in skipped
    text = gzip.open(out, "rt").read()
    assert "##ccev_caller=maf" in text and "##ccev_tumor_sample=TCGA-05-4417-01" in text


def test_cbioportal_maf(shared_data, tmp_path):
    maf = shared_data / "maf-inputs" / "cbioportal-study_es_0" / "data_mutations_extended.maf"
    # TCGA-A1-A0SB-01 has deletions: the reference is required and the error names the first one
    with pytest.raises(InputError, match="expected --reference"):
        normalize_maf(maf, tmp_path / "a.vcf.gz", tumor_sample="TCGA-A1-A0SB-01")
    # an SNV-only sample converts without a reference: 17 41243581 G>A (BRCA1), t_depth 0 in the file
    out = tmp_path / "b.vcf.gz"
    doc = normalize_maf(maf, out, tumor_sample="TEST_SAMPLE_SOMATIC_HOMOZYGOUS")
    recs = list(cyvcf2.Reader(str(out)))
    assert [(v.CHROM, v.POS, v.REF, v.ALT[0]) for v in recs] == [("17", 41243581, "G", "A")]
    assert recs[0].INFO["MAF_Hugo_Symbol"] == "BRCA1"
    assert doc["tumor_sample"] == "TEST_SAMPLE_SOMATIC_HOMOZYGOUS"


def test_cli_maf_flag(tmp_path):
    from ccevariants.cli import main as ccev_main

    fa = _reference(tmp_path)
    maf = _maf(tmp_path, ROWS)
    out = tmp_path / "cli" / "P1.vcf.gz"
    st = tmp_path / "cli" / "P1.json"
    rc = ccev_main(
        [
            "normalize",
            "--maf",
            str(maf),
            "--reference",
            str(fa),
            "--output",
            str(out),
            "--tumor-sample",
            "P1-T",
        ]
        + ["--stats", str(st)]
    )
    assert rc == 0
    import json

    doc = json.loads(st.read_text())
    assert (doc["input_format"], doc["records_out"], doc["maf_skipped"]) == ("maf", 3, 1)
