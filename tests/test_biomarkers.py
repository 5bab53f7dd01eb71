"""Biomarkers stage: TMB, callable territory, MSI estimate, compute_biomarkers and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.biomarkers import _regions, compute_biomarkers
from ccevariants.biomarkers._genes import GeneModel
from ccevariants.biomarkers.msi import compute_msi, is_microsatellite, repeat_context
from ccevariants.biomarkers.tmb import compute_tmb, one_row_per_variant, variant_class
from ccevariants.cli import main
from ccevariants.errors import ConfigError, InputError

# GENEA (+, chr1): exons 1001-1100, 2001-2100, 3001-3100; CDS 1051-1100, 2001-2100, 3001-3060 (210 bp)
# GENEB (-, chr1): exons 10001-10100, 11001-11100, 13001-13100; CDS 10041-10100, 11001-11100, 13001-13050
GFF3 = """##gff-version 3
chr1\tt\tgene\t1001\t3100\t.\t+\t.\tID=gene:GA;Name=GENEA;biotype=protein_coding
chr1\tt\tmRNA\t1001\t3100\t.\t+\t.\tID=transcript:TA;Parent=gene:GA;biotype=protein_coding;tag=MANE_Select
chr1\tt\texon\t1001\t1100\t.\t+\t.\tParent=transcript:TA
chr1\tt\texon\t2001\t2100\t.\t+\t.\tParent=transcript:TA
chr1\tt\texon\t3001\t3100\t.\t+\t.\tParent=transcript:TA
chr1\tt\tCDS\t1051\t1100\t.\t+\t0\tParent=transcript:TA
chr1\tt\tCDS\t2001\t2100\t.\t+\t1\tParent=transcript:TA
chr1\tt\tCDS\t3001\t3060\t.\t+\t0\tParent=transcript:TA
chr1\tt\tgene\t10001\t13100\t.\t-\t.\tID=gene:GB;Name=GENEB;biotype=protein_coding
chr1\tt\tmRNA\t10001\t13100\t.\t-\t.\tID=transcript:TB;Parent=gene:GB;biotype=protein_coding;tag=MANE_Select
chr1\tt\texon\t10001\t10100\t.\t-\t.\tParent=transcript:TB
chr1\tt\texon\t11001\t11100\t.\t-\t.\tParent=transcript:TB
chr1\tt\texon\t13001\t13100\t.\t-\t.\tParent=transcript:TB
chr1\tt\tCDS\t10041\t10100\t.\t-\t0\tParent=transcript:TB
chr1\tt\tCDS\t11001\t11100\t.\t-\t1\tParent=transcript:TB
chr1\tt\tCDS\t13001\t13050\t.\t-\t0\tParent=transcript:TB
"""


@pytest.fixture()
def gff(tmp_path):
    path = tmp_path / "genes.gff3"
    path.write_text(GFF3)
    return path


@pytest.fixture()
def genes(gff):
    from ccevariants.transcripts import load_annotation

    return GeneModel(load_annotation(gff, use_cache=False))


def variant_table(records: list[dict]) -> pd.DataFrame:
    """A contracts §3 table; each record gives chrom/pos/ref/alt and overrides."""
    rows = []
    for rec in records:
        row = {
            "variant_id": f"{rec['chrom']}:{rec['pos']}:{rec['ref']}:{rec['alt']}",
            "chrom": rec["chrom"],
            "pos": rec["pos"],
            "ref": rec["ref"],
            "alt": rec["alt"],
            "filter": "PASS",
            "t_dp": 100,
            "t_ad_ref": 80,
            "t_ad_alt": 20,
            "n_dp": 60,
            "n_ad_ref": 60,
            "n_ad_alt": 0,
            "t_af": 0.2,
            "n_af": 0.0,
            "gene": "GENEA",
            "gene_id": "GA",
            "transcript": "TA",
            "biotype": "protein_coding",
            "strand": 1,
            "consequence": "missense_variant",
            "impact": "MODERATE",
            "exon": "",
            "intron": "",
            "hgvsc": "",
            "hgvsp": "",
            "hgvsp_short": "",
            "cds_position": -1,
            "protein_position": -1,
            "amino_acids": "",
            "codons": "",
            "pick": True,
            "mane": True,
            "canonical": True,
        }
        row.update({k: v for k, v in rec.items() if k not in ("chrom", "pos", "ref", "alt")})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["pos"] = table["pos"].astype(np.int64)
    table["strand"] = table["strand"].astype(np.int8)
    for col in (
        "t_dp",
        "t_ad_ref",
        "t_ad_alt",
        "n_dp",
        "n_ad_ref",
        "n_ad_alt",
        "cds_position",
        "protein_position",
    ):
        table[col] = table[col].astype(np.int64)
    return table


def v(chrom, pos, ref, alt, **kw):
    return {"chrom": chrom, "pos": pos, "ref": ref, "alt": alt, **kw}


# ------------------------------------------------------------------------------ intervals
def test_merge_joins_overlapping_and_abutting_intervals():
    s, e = _regions.merge(np.array([10, 0, 5, 30, 20]), np.array([15, 6, 8, 40, 30]))
    assert s.tolist() == [0, 10, 20]
    assert e.tolist() == [8, 15, 40]


def test_intersect_and_contains_by_hand():
    a = _regions.from_arrays(["1", "1"], [0, 100], [50, 200])
    b = _regions.from_arrays(["1", "1", "2"], [40, 150, 0], [120, 160, 10])
    inter = _regions.intersect(a, b)
    assert {k: (s.tolist(), e.tolist()) for k, (s, e) in inter.items()} == {
        "1": ([40, 100, 150], [50, 120, 160])
    }
    assert _regions.total_length(inter) == 10 + 20 + 10
    mask = _regions.contains(
        inter, np.array(["1", "chr1", "1", "2"], dtype=object), np.array([40, 49, 50, 5])
    )
    assert mask.tolist() == [True, True, False, False]


def test_read_bed_errors(tmp_path):
    empty = tmp_path / "empty.bed"
    empty.write_text("track name=x\n# nothing\n")
    with pytest.raises(InputError, match="empty.bed: expected at least one BED interval"):
        _regions.read_bed(empty)
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t10\t20\nchr1\t30\t30\n")
    with pytest.raises(InputError, match=r"bad.bed:2: expected 0 <= start < end"):
        _regions.read_bed(bad)
    text = tmp_path / "text.bed"
    text.write_text("chr1\tten\t20\n")
    with pytest.raises(InputError, match=r"text.bed:1: expected integer BED start and end"):
        _regions.read_bed(text)
    other = tmp_path / "other.bed"
    other.write_text("chr1\t10\t20\nchrUn_x\t1\t5\n")
    with pytest.raises(
        InputError, match=r"other.bed:2: expected a contig of the reference .*found 'chrUn_x'"
    ):
        _regions.read_bed(other, {"chr1": 1000})
    long = tmp_path / "long.bed"
    long.write_text("1\t10\t2000\n")
    with pytest.raises(InputError, match=r"long.bed:1: expected end <= 1000"):
        _regions.read_bed(long, {"chr1": 1000})


def test_read_bed_harmonises_contig_names(tmp_path):
    bed = tmp_path / "c.bed"
    bed.write_text("1\t10\t20\n1\t15\t30\n")
    regions = _regions.read_bed(bed, {"chr1": 1000})
    assert list(regions) == ["chr1"]
    assert _regions.total_length(regions) == 20


# ------------------------------------------------------------------------------ TMB
def test_variant_class():
    ref = pd.Series(["A", "AC", "A", "AT", "A", "A", "A"])
    alt = pd.Series(["G", "GT", "AT", "A", "<DEL>", "A[chr2:5[", "*"])
    assert variant_class(ref, alt).tolist() == ["snv", "mnv", "indel", "indel", "other", "other", "other"]


def test_tmb_eligibility_rules_and_value():
    table = variant_table(
        [
            v("chr1", 1060, "A", "G"),  # eligible
            v("chr1", 1070, "C", "T", consequence="synonymous_variant"),  # eligible (synonymous)
            v("chr1", 2010, "AT", "A", consequence="frameshift_variant"),  # eligible indel
            v("chr1", 1500, "A", "G", consequence="intron_variant"),  # not coding
            v("chr1", 1080, "A", "G", filter="LowQual"),  # not PASS
            v("chr1", 1090, "A", "<DEL>", consequence="coding_sequence_variant"),  # symbolic
            v("chr1", 2020, "G", "A", t_dp=20),  # low depth
            v("chr1", 2030, "G", "A", t_af=0.03),  # low VAF
            v("chr1", 2040, "G", "A", t_dp=-1, t_af=float("nan")),  # no read support
        ]
    )
    tmb = compute_tmb(table, callable_mb=0.25)
    assert tmb["eligible_variants"] == 3
    assert tmb["value"] == 12.0
    assert tmb["status"] == "high"
    assert tmb["callable_source"] == "assay"
    assert tmb["excluded"] == {
        "not_pass": 1,
        "not_snv_mnv_indel": 1,
        "not_coding": 1,
        "missing_read_support": 1,
        "low_depth": 1,
        "low_vaf": 1,
    }
    assert tmb["validated"] is False
    low = compute_tmb(table, callable_mb=1.0)
    assert (low["value"], low["status"]) == (3.0, "low")


def test_tmb_tumor_only_excludes_likely_germline():
    table = variant_table(
        [
            v("chr1", 1060, "A", "G", t_af=0.50),
            v("chr1", 1061, "A", "G", t_af=0.45),
            v("chr1", 1062, "A", "G", t_af=0.97),
            v("chr1", 1063, "A", "G", t_af=0.44),
            v("chr1", 1064, "A", "G", t_af=0.56),
        ]
    )
    paired = compute_tmb(table, callable_mb=1.0)
    single = compute_tmb(table, callable_mb=1.0, tumor_only=True)
    assert paired["eligible_variants"] == 5
    assert single["eligible_variants"] == 2
    assert single["excluded"]["likely_germline_tumor_only"] == 3
    assert "tumour-only" in single["definition"]


def test_tmb_uses_pick_row_and_coding_of_any_row():
    table = variant_table(
        [
            v("chr1", 1060, "A", "G", consequence="non_coding_transcript_exon_variant", pick=True),
            v("chr1", 1060, "A", "G", consequence="missense_variant", pick=False, transcript="TA2"),
            v("chr1", 5000, "A", "G", consequence="intergenic_variant", gene="", transcript=""),
        ]
    )
    rows = one_row_per_variant(table)
    assert len(rows) == 2
    assert rows.loc[rows["pos"] == 1060, "transcript"].item() == "TA"
    assert rows["coding"].tolist() == [True, False]
    assert compute_tmb(table, callable_mb=1.0)["eligible_variants"] == 1


def test_tmb_callable_bed_intersected_with_cds(genes):
    # BED [1000, 2100) covers CDS 1050-1100 and 2000-2100 of GENEA → 150 coding bases
    bed = _regions.from_arrays(["chr1"], [1000], [2100])
    table = variant_table(
        [
            v("chr1", 1060, "A", "G"),
            v("chr1", 3010, "A", "G"),  # coding but outside the BED
        ]
    )
    tmb = compute_tmb(table, callable_bed=bed, cds=genes.cds_intervals())
    assert tmb["callable_source"] == "bed"
    assert tmb["callable_mb"] == pytest.approx(150e-6)
    assert tmb["eligible_variants"] == 1
    assert tmb["excluded"]["outside_callable"] == 1
    assert tmb["value"] == pytest.approx(round(1 / 150e-6, 2))
    # without an annotation the BED size is the territory
    plain = compute_tmb(table, callable_bed=bed)
    assert plain["callable_mb"] == pytest.approx(1100e-6)


def test_tmb_denominator_sources(genes):
    table = variant_table([v("chr1", 1060, "A", "G")])
    panel = compute_tmb(table, assay="panel")
    assert (panel["status"], panel["value"], panel["callable_source"], panel["callable_mb"]) == (
        "not_assessable",
        None,
        "none",
        None,
    )
    wes = compute_tmb(table, assay="wes", cds=genes.cds_intervals())
    assert wes["callable_source"] == "assay"
    assert wes["callable_mb"] == pytest.approx((210 + 210) / 1e6)
    declared = compute_tmb(table, assay="panel", assay_callable_mb={"panel": 0.8})
    assert (declared["callable_mb"], declared["value"]) == (0.8, 1.25)
    with pytest.raises(ConfigError, match="callable megabases > 0"):
        compute_tmb(table, callable_mb=0)


def test_tmb_not_assessable_without_read_support():
    table = variant_table([v("chr1", 1060, "A", "G", t_dp=-1, t_af=float("nan"))])
    tmb = compute_tmb(table, callable_mb=1.0)
    assert (tmb["status"], tmb["value"]) == ("not_assessable", None)


# ------------------------------------------------------------------------------ MSI
def test_repeat_context_by_hand():
    assert repeat_context("A", "AAAAAAGC") == (1, 6)
    assert repeat_context("CA", "CACACAGT") == (2, 3)
    assert repeat_context("CAC", "CACACAGT") == (3, 1)  # CAC is its own unit: one copy
    assert repeat_context("ACG", "ACGT") == (3, 1)
    assert repeat_context("AC", "GGGG") == (0, 0)
    assert repeat_context("T", "GTTT") == (0, 0)  # repeat must start right after the anchor
    assert is_microsatellite(1, 5) and not is_microsatellite(1, 4)
    assert is_microsatellite(2, 3) and not is_microsatellite(2, 2)


@pytest.fixture()
def fasta(tmp_path):
    import pysam

    seq = "GCGTACGTTG" + "AAAAAAA" + "GCTAGCATCG" + "CACACACA" + "GTCAGTCCGATGCATGCTAGCTTGACGATCG" * 3
    path = tmp_path / "ref.fa"
    path.write_text(">chr1\n" + seq + "\n")
    pysam.faidx(str(path))
    return path, seq


def test_msi_estimate_is_not_assessable(fasta):
    path, seq = fasta
    # 1-based: anchor G at 10, poly-A 11-17; anchor G at 27 (0-based 26) before CA repeat 28-35
    assert seq[9] == "G" and seq[10:17] == "AAAAAAA" and seq[27:35] == "CACACACA"
    table = variant_table(
        [
            v("chr1", 10, "GA", "G", consequence="intron_variant"),  # homopolymer contraction
            v("chr1", 27, "G", "GCA", consequence="intron_variant"),  # dinucleotide expansion
            v("chr1", 40, "CAG", "C", consequence="intron_variant"),  # no repeat
            v("chr1", 45, "C", "T"),  # SNV: not counted
        ]
    )
    assert seq[26] == "G"
    rows = one_row_per_variant(table)
    msi = compute_msi(rows, path, callable_mb=0.5)
    assert msi["sites"] == 3
    assert msi["repeat_indels"] == 2
    assert msi["score"] == pytest.approx(0.6667)
    assert msi["repeat_indels_per_mb"] == 4.0
    assert msi["status"] == "not_assessable"
    assert "not validated" in msi["method"]
    researched = compute_msi(rows, path, callable_mb=0.5, score_threshold=0.5, min_repeat_indels_per_mb=1.0)
    assert researched["status"] == "msi_high" and researched["validated"] is False
    # the callable BED's microsatellites: the poly-A (7) and (CA)x4 tracts only
    bed = _regions.from_arrays(["chr1"], [0], [len(seq)])
    assert compute_msi(rows, path, callable_regions=bed)["microsatellites_in_callable"] == 2
    no_ref = compute_msi(rows, None)
    assert (no_ref["score"], no_ref["indels"]) == (None, 3)


# ------------------------------------------------------------------------------ whole stage + CLI
def test_compute_biomarkers_writes_contract_json(tmp_path, gff, monkeypatch):
    monkeypatch.setenv("CCEV_CACHE_DIR", str(tmp_path / "cache"))
    table = variant_table([v("chr1", 1060, "A", "G"), v("chr1", 2010, "A", "T")])
    parquet = tmp_path / "annotated.parquet"
    table.to_parquet(parquet)
    cnv = tmp_path / "cnv.tsv"
    cnv.write_text("chrom\tstart\tend\tcopy_number\n1\t500\t3500\t9\n1\t9000\t12000\t0\n")
    bed = tmp_path / "callable.bed"
    bed.write_text("chr1\t0\t20000\n")
    out = tmp_path / "out" / "biomarkers.json"
    doc = compute_biomarkers(parquet, out, annotation=gff, cnv=cnv, callable_bed=bed, assay="wes")
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(doc))
    assert set(written) >= {"tmb", "msi", "cna", "fusions"}
    tmb = written["tmb"]
    assert {
        "value",
        "eligible_variants",
        "callable_mb",
        "callable_source",
        "definition",
        "threshold",
        "status",
    } <= set(tmb)
    assert tmb["eligible_variants"] == 2 and tmb["callable_mb"] == pytest.approx(420e-6)
    assert [(c["gene"], c["alteration"], c["copy_number"]) for c in written["cna"]] == [
        ("GENEA", "amplification", 9.0),
        ("GENEB", "deletion", 0.0),
    ]
    assert written["cna"][0]["start"] == 500 and written["cna"][0]["end"] == 3500
    assert written["msi"]["status"] == "not_assessable"
    assert written["fusions"] == []


def test_cli_biomarkers_and_bad_input_leave_no_output(tmp_path, capsys):
    table = variant_table([v("chr1", 1060, "A", "G")])
    parquet = tmp_path / "annotated.parquet"
    table.to_parquet(parquet)
    out = tmp_path / "b.json"
    assert main(["biomarkers", "--variants", str(parquet), "--output", str(out), "--callable-mb", "0.5"]) == 0
    doc = json.loads(out.read_text())
    assert (doc["tmb"]["value"], doc["tmb"]["status"]) == (2.0, "low")

    bad_cnv = tmp_path / "seg.tsv"
    bad_cnv.write_text("chr\tfrom\tto\tratio\n1\t1\t100\t0.3\n")
    out2 = tmp_path / "b2.json"
    code = main(["biomarkers", "--variants", str(parquet), "--output", str(out2), "--cnv", str(bad_cnv)])
    assert code == 2
    err = capsys.readouterr().err
    assert "seg.tsv:1: expected the columns of a known copy-number format" in err
    assert "\n" not in err.strip()
    assert not out2.exists()
    assert list(tmp_path.glob(".b2.json*")) == []

    empty_bed = tmp_path / "e.bed"
    empty_bed.write_text("")
    assert (
        main(
            [
                "biomarkers",
                "--variants",
                str(parquet),
                "--output",
                str(out2),
                "--callable-bed",
                str(empty_bed),
            ]
        )
        == 2
    )
    assert not out2.exists()


def test_bed_contig_not_in_reference_is_an_error(tmp_path, fasta):
    path, _ = fasta
    table = variant_table([v("chr1", 20, "A", "G")])
    bed = tmp_path / "x.bed"
    bed.write_text("chr1\t0\t50\nchr7\t0\t10\n")
    out = tmp_path / "x.json"
    with pytest.raises(InputError, match=r"x.bed:2: expected a contig of the reference"):
        compute_biomarkers(table, out, reference=path, callable_bed=bed)
    assert not out.exists()


def test_bad_arguments_and_tables(tmp_path):
    table = variant_table([v("chr1", 20, "A", "G")])
    with pytest.raises(ConfigError, match="purity in \\(0, 1\\]"):
        compute_biomarkers(table, None, purity=1.5)
    with pytest.raises(ConfigError, match="assay panel, wes or wgs"):
        compute_biomarkers(table, None, assay="amplicon")
    with pytest.raises(InputError, match="found none of t_dp"):
        compute_biomarkers(table.drop(columns=["t_dp"]), None)
    notparquet = tmp_path / "v.parquet"
    notparquet.write_text("chrom\tpos\n")
    with pytest.raises(InputError, match="v.parquet: expected a Parquet variant table"):
        compute_biomarkers(notparquet, None)
    assert math.isfinite(compute_biomarkers(table, None, callable_mb=1)["tmb"]["value"])


# ------------------------------------------------------------------------------ interval properties
_intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 15)), max_size=12)


def _bases(pairs):
    return {b for s, n in pairs for b in range(s, s + n)}


@settings(deadline=None, max_examples=150)
@given(_intervals, _intervals, st.lists(st.integers(0, 80), max_size=20))
def test_interval_ops_match_base_sets(a, b, probes):
    set_a = _regions.from_arrays(["c"] * len(a), [s for s, _ in a], [s + n for s, n in a])
    set_b = _regions.from_arrays(["c"] * len(b), [s for s, _ in b], [s + n for s, n in b])
    assert _regions.total_length(set_a) == len(_bases(a))
    inter = _regions.intersect(set_a, set_b)
    assert _regions.total_length(inter) == len(_bases(a) & _bases(b))
    if "c" in set_a:
        s, e = set_a["c"]
        assert np.all(s[1:] > e[:-1])  # merged: sorted, disjoint, non-abutting
    probes_arr = np.asarray(probes, dtype=np.int64)
    chroms = np.asarray(["c"] * len(probes), dtype=object)
    assert _regions.contains(set_a, chroms, probes_arr).tolist() == [p in _bases(a) for p in probes]
    hit = _regions.overlaps_any(set_a, chroms, probes_arr, probes_arr + 3)
    assert hit.tolist() == [bool({p, p + 1, p + 2} & _bases(a)) for p in probes]
