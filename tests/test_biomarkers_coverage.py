"""Depth at loci from a BAM (biomarkers.coverage) on a BAM written by pysam."""

from __future__ import annotations

import pysam
import pytest

from ccevariants.biomarkers.coverage import locus_depths
from ccevariants.errors import InputError


@pytest.fixture()
def bam(tmp_path):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": 1000}]}
    path = tmp_path / "t.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        # 30 reads of 50 bp starting at 0-based 100 (1-based 101-150); 10 more at 0-based 140 (141-190)
        for i, start in enumerate([100] * 30 + [140] * 10):
            read = pysam.AlignedSegment()
            read.query_name = f"r{i}"
            read.reference_id = 0
            read.reference_start = start
            read.mapping_quality = 60
            read.cigarstring = "50M"
            read.query_sequence = "A" * 50
            read.query_qualities = pysam.qualitystring_to_array("I" * 50)
            read.flag = 0
            out.write(read)
    pysam.index(str(path))
    return path


def test_locus_depths(bam):
    got = locus_depths(
        bam,
        [("chr1", 101), ("chr1", 100), ("chr1", 145), ("1", 150), ("chr1", 151), ("chr1", 190), ("chr9", 5)],
    )
    assert [(d["pos"], d["depth"], d["adequate"]) for d in got] == [
        (101, 30, True),
        (100, 0, False),
        (145, 40, True),
        (150, 40, True),
        (151, 10, False),
        (190, 10, False),
        (5, None, False),
    ]


def test_unindexed_or_missing_bam(tmp_path, bam):
    copy = tmp_path / "noindex.bam"
    copy.write_bytes(bam.read_bytes())
    with pytest.raises(InputError, match="noindex.bam: expected a BAM/CRAM index"):
        locus_depths(copy, [("chr1", 101)])
    with pytest.raises(InputError, match="missing.bam: expected a readable, indexed BAM/CRAM"):
        locus_depths(tmp_path / "missing.bam", [("chr1", 101)])


def write_bam(path, contig, length, reads):
    """``reads``: (0-based start, read length) pairs, written sorted and indexed."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": contig, "LN": length}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, (start, n) in enumerate(sorted(reads)):
            read = pysam.AlignedSegment()
            read.query_name = f"q{i}"
            read.reference_id = 0
            read.reference_start = start
            read.mapping_quality = 60
            read.cigarstring = f"{n}M"
            read.query_sequence = "C" * n
            read.query_qualities = pysam.qualitystring_to_array("I" * n)
            out.write(read)
    pysam.index(str(path))
    return path


GFF3 = """##gff-version 3
chr1\tt\tgene\t1001\t3100\t.\t+\t.\tID=gene:GA;Name=GENEA;biotype=protein_coding
chr1\tt\tmRNA\t1001\t3100\t.\t+\t.\tID=transcript:TA;Parent=gene:GA;biotype=protein_coding
chr1\tt\texon\t1001\t1100\t.\t+\t.\tParent=transcript:TA
chr1\tt\texon\t2001\t2100\t.\t+\t.\tParent=transcript:TA
chr1\tt\texon\t3001\t3100\t.\t+\t.\tParent=transcript:TA
chr1\tt\tCDS\t1051\t1100\t.\t+\t0\tParent=transcript:TA
chr1\tt\tCDS\t2001\t2100\t.\t+\t1\tParent=transcript:TA
chr1\tt\tCDS\t3001\t3060\t.\t+\t0\tParent=transcript:TA
chr1\tt\tgene\t10001\t13100\t.\t-\t.\tID=gene:GB;Name=GENEB;biotype=protein_coding
chr1\tt\tmRNA\t10001\t13100\t.\t-\t.\tID=transcript:TB;Parent=gene:GB;biotype=protein_coding
chr1\tt\texon\t10001\t13100\t.\t-\t.\tParent=transcript:TB
chr1\tt\tCDS\t10041\t13050\t.\t-\t0\tParent=transcript:TB
chr5\tt\tgene\t101\t400\t.\t+\t.\tID=gene:GF;Name=GENEF;biotype=protein_coding
chr5\tt\tmRNA\t101\t400\t.\t+\t.\tID=transcript:TF;Parent=gene:GF;biotype=protein_coding
chr5\tt\texon\t101\t400\t.\t+\t.\tParent=transcript:TF
chr5\tt\tCDS\t101\t400\t.\t+\t0\tParent=transcript:TF
"""


@pytest.fixture()
def genes(tmp_path):
    from ccevariants.biomarkers._genes import GeneModel
    from ccevariants.transcripts import load_annotation

    path = tmp_path / "g.gff3"
    path.write_text(GFF3)
    return GeneModel(load_annotation(path, use_cache=False))


def test_gene_coverage_by_hand(tmp_path, genes):
    from ccevariants.biomarkers._regions import from_arrays
    from ccevariants.biomarkers.coverage import gene_coverage

    # BAM contig spelled "1" (annotation says chr1). GENEA CDS: [1050,1100) [2000,2100) [3000,3060)
    reads = [(1000, 150)] * 30 + [(1990, 150)] * 30 + [(3000, 100)] * 10
    bam = write_bam(tmp_path / "g.bam", "1", 20000, reads)
    rows = gene_coverage(bam, genes)
    by_gene = {r["gene"]: r for r in rows}
    assert sorted(by_gene) == ["GENEA", "GENEB", "GENEF"]
    a = by_gene["GENEA"]
    # depth sum 50*30 + 100*30 + 60*10 = 5100 over 210 coding bases; 150 bases at >= 25
    assert (a["cds_bases"], a["mean_depth"], a["fraction_at_threshold"], a["adequate"]) == (
        210,
        round(5100 / 210, 2),
        round(150 / 210, 4),
        False,
    )
    assert a["transcript"] == "TA" and a["threshold"] == 25
    b = by_gene["GENEB"]
    assert (b["cds_bases"], b["mean_depth"], b["fraction_at_threshold"], b["adequate"]) == (
        3010,
        0.0,
        0.0,
        False,
    )
    f = by_gene["GENEF"]  # chr5 is not in the BAM: not assessable, never "0x"
    assert (f["mean_depth"], f["fraction_at_threshold"], f["adequate"]) == (None, None, False)
    lenient = gene_coverage(bam, genes, gene_names=["GENEA"], min_fraction=0.7)
    assert [(r["gene"], r["adequate"]) for r in lenient] == [("GENEA", True)]
    shallow = gene_coverage(bam, genes, gene_names=["GENEA"], min_depth=10)
    assert shallow[0]["fraction_at_threshold"] == 1.0 and shallow[0]["adequate"] is True
    panel = gene_coverage(bam, genes, regions=from_arrays(["chr1"], [0], [5000]))
    assert [r["gene"] for r in panel] == ["GENEA"]
    with pytest.raises(InputError, match="expected a gene of the annotation; found 'NOPE'"):
        gene_coverage(bam, genes, gene_names=["NOPE"])


def test_cli_coverage_in_biomarkers_json(tmp_path, monkeypatch):
    import json

    import pandas as pd

    from ccevariants.cli import main

    monkeypatch.setenv("CCEV_CACHE_DIR", str(tmp_path / "cache"))
    gff = tmp_path / "g.gff3"
    gff.write_text(GFF3)
    bam = write_bam(
        tmp_path / "g.bam", "chr1", 20000, [(1000, 150)] * 30 + [(1990, 150)] * 30 + [(3000, 100)] * 30
    )
    table = pd.DataFrame(
        {
            "variant_id": ["chr1:1060:A:G"],
            "chrom": ["chr1"],
            "pos": [1060],
            "ref": ["A"],
            "alt": ["G"],
            "filter": ["PASS"],
            "t_dp": [60],
            "t_af": [0.3],
            "consequence": ["missense_variant"],
            "pick": [True],
        }
    )
    parquet = tmp_path / "v.parquet"
    table.to_parquet(parquet)
    out = tmp_path / "b.json"
    args = ["biomarkers", "--variants", str(parquet), "--output", str(out), "--annotation", str(gff)]
    cov_args = ["--bam", str(bam), "--coverage-genes", "GENEA,GENEB"]
    assert main([*args, *cov_args, "--coverage-min-depth", "25"]) == 0
    coverage = json.loads(out.read_text())["coverage"]
    assert [(c["gene"], c["mean_depth"], c["adequate"]) for c in coverage] == [
        ("GENEA", 30.0, True),
        ("GENEB", 0.0, False),
    ]
    # without --coverage-min-depth the panel default (100x) applies: 30x is not adequate
    assert main([*args, *cov_args]) == 0
    coverage = json.loads(out.read_text())["coverage"]
    assert [(c["gene"], c["threshold"], c["adequate"]) for c in coverage] == [
        ("GENEA", 100, False),
        ("GENEB", 100, False),
    ]
    out2 = tmp_path / "b2.json"
    assert main(["biomarkers", "--variants", str(parquet), "--output", str(out2), "--bam", str(bam)]) == 2
    assert not out2.exists()
    assert main([*args[:4], str(out2), *args[5:], "--bam", str(bam), "--coverage-min-fraction", "2"]) == 2
    assert not out2.exists()


# --------------------------------------------------------------------------------------------------
# assess_coverage on the simulated demo BAMs (truth: truth.json "bam" blocks)


@pytest.fixture(scope="module")
def demo_cov(tmp_path_factory):
    from ccevariants.biomarkers import load_gene_model
    from ccevariants.demo import write_demo
    from ccevariants.kb import build_snapshot, snapshot_from_document
    from ccevariants.oncotree import OncoTree

    out = tmp_path_factory.mktemp("covdemo") / "demo"
    truth = write_demo(out, seed=7)
    genes = load_gene_model(out / "reference" / "genes.gff3")
    statements = snapshot_from_document(build_snapshot([])).statements
    return out, truth, genes, statements, OncoTree.load()


def _samtools_depth(bam, chrom, start1, end1):
    text = pysam.samtools.depth("-a", "-r", f"{chrom}:{start1}-{end1}", str(bam))
    return [int(line.split("\t")[2]) for line in text.splitlines()]


@pytest.mark.parametrize("patient", ["CCE-P03", "CCE-P06"])
def test_depth_engine_equals_samtools_depth(demo_cov, patient):
    """Base-for-base equality with `samtools depth -a` (indels in the MSI-high tumour, supplementary
    split reads in the fusion tumour)."""
    from ccevariants.biomarkers.coverage import depth_over

    out, truth, *_ = demo_cov
    bam = out / truth["patients"][patient]["bam"]["tumor_bam"]
    regions = [
        (x["chrom"], x["start"] - 150, x["end"] + 150) for x in truth["patients"][patient]["bam"]["loci"]
    ]
    fusion = truth["patients"]["CCE-P06"]["fusions"][0]
    regions.append((fusion["chrom3"], fusion["pos3"] - 400, fusion["pos3"] + 400))
    with pysam.AlignmentFile(str(bam)) as handle:
        for chrom, s1, e1 in regions[::3]:
            ours = depth_over(handle, chrom, s1 - 1, e1).tolist()
            assert ours == _samtools_depth(bam, chrom, s1, e1)


def _entries(result):
    return {g["gene"]: g for g in result["genes"]}


def test_colorectal_uncovered_kras_exon3(demo_cov):
    from ccevariants.biomarkers._regions import read_bed
    from ccevariants.biomarkers.coverage import assess_coverage

    out, truth, genes, statements, tree = demo_cov
    info = truth["patients"]["CCE-P03"]["bam"]
    result = assess_coverage(
        out / info["tumor_bam"],
        genes,
        lineage=tree.lineage("COAD"),
        statements=statements,
        regions=read_bed(out / info["panel_bed"]),
        assay="panel",
    )
    assert result["threshold"] == 100
    by_gene = _entries(result)
    assert {"KRAS", "NRAS", "BRAF"} <= set(by_gene) and "EGFR" not in by_gene
    kras = by_gene["KRAS"]
    codons = {x["codon"]: x for x in kras["loci"] if x["kind"] == "codon"}
    assert sorted(codons) == [12, 13, 59, 61, 117, 146]
    # truth: KRAS exon 3 (codons 38-97) has no reads at all; the other exons ~200x
    assert [(c, codons[c]["min_depth"], codons[c]["adequate"]) for c in (59, 61)] == [
        (59, 0, False),
        (61, 0, False),
    ]
    for c in (12, 13, 117, 146):
        assert codons[c]["adequate"] and abs(codons[c]["mean_depth"] - info["depth"]) <= 0.2 * info["depth"]
    assert kras["adequate"] is False and kras["min_depth"] == 0
    assert by_gene["NRAS"]["adequate"] is True and by_gene["NRAS"]["min_depth"] >= 100
    braf = by_gene["BRAF"]
    assert braf["adequate"] and [x["codon"] for x in braf["loci"]] == [600]
    # codon 600 sits on 3 genomic bases of chr7; span reported 1-based inclusive
    v600 = braf["loci"][0]
    assert v600["chrom"] == "chr7" and v600["end"] - v600["start"] == 2 and v600["bases"] == 3
    qc = result["qc"]
    assert qc["basis"] == "callable_region" and qc["bases"] == info["panel_bp"]
    assert abs(qc["median_depth"] - info["depth"]) <= 0.1 * info["depth"]
    # the dropped exon (~180 coding bases + margins) is the only part below 100x
    assert 0.95 < qc["fraction_at_threshold"] < 1.0


def test_covered_sample_and_amplified_gene(demo_cov):
    from ccevariants.biomarkers.coverage import assess_coverage

    out, truth, genes, statements, tree = demo_cov
    p02 = truth["patients"]["CCE-P02"]["bam"]
    result = assess_coverage(
        out / p02["tumor_bam"], genes, lineage=tree.lineage("COAD"), statements=statements
    )
    assert _entries(result)["KRAS"]["adequate"] is True
    assert result["qc"]["basis"] == "actionable_loci"
    strict = assess_coverage(out / p02["tumor_bam"], genes, lineage=tree.lineage("COAD"), min_depth=400)
    assert not any(g["adequate"] for g in strict["genes"])
    p05 = truth["patients"]["CCE-P05"]["bam"]
    breast = assess_coverage(
        out / p05["tumor_bam"], genes, lineage=tree.lineage("IDC"), statements=statements
    )
    by_gene = _entries(breast)
    # ERBB2 CN 14 at purity 0.6: 4.6x the 200x diploid depth on its panel exons
    erbb2_exons = [x for x in p05["loci"] if x["gene"] == "ERBB2"]
    erbb2 = assess_coverage(out / p05["tumor_bam"], genes, gene_names=["ERBB2"])["genes"][0]
    covered = [x for x in erbb2["loci"] if x["mean_depth"]]
    assert erbb2_exons and covered
    for locus in covered:
        inside = any(e["start"] <= locus["start"] and locus["end"] <= e["end"] for e in erbb2_exons)
        if inside:
            assert abs(locus["mean_depth"] - 920) <= 0.15 * 920
    # whole-gene breast negatives (BRCA1, BRCA2 ...) on a hotspot panel: not adequately covered
    assert by_gene["BRCA2"]["adequate"] is False and by_gene["BRCA2"]["scope"] == "cds"
    assert by_gene["PIK3CA"]["adequate"] is False  # whole CDS required by the breast table


def test_scopes_follow_the_tumour_type(demo_cov):
    from ccevariants.biomarkers.coverage import actionable_scopes

    *_, statements, tree = demo_cov
    lung = actionable_scopes(tree.lineage("LUAD"), statements)
    assert {18, 19, 20, 21} <= lung["EGFR"].exons and {790, 858} <= lung["EGFR"].codons
    assert lung["MET"].exons == {14} and "NRAS" not in lung
    assert lung["KRAS"].codons == {12}  # NSCLC table: KRAS G12C
    crc = actionable_scopes(tree.lineage("COAD"), statements)
    assert crc["KRAS"].codons == {12, 13, 59, 61, 117, 146} and "EGFR" not in crc
    assert any(s.startswith("KB CCEV-") for s in crc["KRAS"].sources)
    everything = actionable_scopes(None, statements)
    assert {"EGFR", "KRAS", "NRAS", "IDH1", "KIT"} <= set(everything)


def test_report_negatives_and_matcher_wildtype_use_the_loci(demo_cov):
    from ccevariants.biomarkers.coverage import assess_coverage
    from ccevariants.kb.wildtype import assess
    from ccevariants.report import document

    out, truth, genes, statements, tree = demo_cov
    ras_wt = next(
        s.biomarker for s in statements if s.biomarker.type == "wildtype" and "KRAS" in s.biomarker.genes()
    )
    verdicts = {}
    for patient in ("CCE-P02", "CCE-P03"):
        info = truth["patients"][patient]["bam"]
        cov = assess_coverage(
            out / info["tumor_bam"], genes, lineage=tree.lineage("COAD"), statements=statements
        )
        biomarkers = {"coverage": cov["genes"], "msi": {}, "tmb": {}}
        negatives = document._pertinent_negatives(
            tree.lineage("COAD"), [], biomarkers, {}, document._coverage_by_gene(biomarkers)
        )
        items = {i["label"]: i for i in negatives["items"]}
        verdicts[patient] = (
            items["KRAS mutation (exon 2-4)"]["status"],
            items["NRAS mutation (exon 2-4)"]["status"],
            assess(ras_wt, biomarkers).assessable,
        )
        if patient == "CCE-P03":
            assert "coverage below threshold" in items["KRAS mutation (exon 2-4)"]["detail"]
            problems = assess(ras_wt, biomarkers).problems
            assert problems == [
                "KRAS codons 12, 13, 59, 61, 117, 146: codon(s) 59, 61 not adequately covered"
            ]
    assert verdicts == {
        "CCE-P02": ("not_detected", "not_detected", True),
        "CCE-P03": ("not_assessable", "not_detected", False),
    }


def test_assess_coverage_errors(demo_cov, tmp_path, genes):
    from ccevariants.biomarkers.coverage import assess_coverage, min_depth_for
    from ccevariants.errors import ConfigError

    out, truth, demo_genes, *_ = demo_cov
    bam = out / truth["patients"]["CCE-P02"]["bam"]["tumor_bam"]
    assert (min_depth_for(None), min_depth_for("panel"), min_depth_for("wes"), min_depth_for("wgs")) == (
        100,
        100,
        50,
        20,
    )
    assert min_depth_for("wgs", 60) == 60
    with pytest.raises(ConfigError, match="expected a minimum depth >= 1; found 0"):
        assess_coverage(bam, demo_genes, min_depth=0)
    with pytest.raises(ConfigError, match="expected assay panel, wes or wgs; found 'amplicon'"):
        assess_coverage(bam, demo_genes, assay="amplicon")
    with pytest.raises(ConfigError, match="expected a coverage fraction in"):
        assess_coverage(bam, demo_genes, min_fraction=1.5)
    with pytest.raises(InputError, match="expected a gene of the annotation; found 'NOPE'"):
        assess_coverage(bam, demo_genes, gene_names=["KRAS", "NOPE"])
    with pytest.raises(InputError, match="nothere.bam: expected a readable, indexed BAM/CRAM"):
        assess_coverage(tmp_path / "nothere.bam", demo_genes)
    # a gene on a contig the BAM lacks: not assessable, never "0x"
    hand = write_bam(tmp_path / "h.bam", "chr1", 20000, [(1000, 150)] * 120)
    row = assess_coverage(hand, genes, gene_names=["GENEF"])["genes"][0]
    assert (row["mean_depth"], row["adequate"], row["loci"][0]["chrom"]) == (None, False, None)
    row = assess_coverage(hand, genes, gene_names=["GENEA"])["genes"][0]
    # GENEA CDS [1050,1100) [2000,2100) [3000,3060): only the first 50 bases see the 120 reads
    assert (row["bases"], row["min_depth"], row["mean_depth"], row["fraction_at_threshold"]) == (
        210,
        0,
        round(120 * 50 / 210, 2),
        round(50 / 210, 4),
    )


def test_gene_coverage_carries_codon_loci_for_the_matcher(demo_cov):
    from ccevariants.biomarkers.coverage import gene_coverage

    out, truth, genes, *_ = demo_cov
    bam = out / truth["patients"]["CCE-P03"]["bam"]["tumor_bam"]
    (kras,) = gene_coverage(bam, genes, gene_names=["KRAS"])
    # whole-CDS rule at the historical 25x floor: the truth's covered KRAS panel exons (2 and 4;
    # exon 3 dropped, exon 5 not on the panel) are the bases at >= 25x, plus a few margin bases
    covered = sum(
        x["end"] - x["start"] + 1
        for x in truth["patients"]["CCE-P03"]["bam"]["loci"]
        if x["gene"] == "KRAS" and x["covered"]
    )
    assert kras["adequate"] is False and kras["min_depth"] == 0 and kras["cds_bases"] == 570
    assert covered / 570 <= kras["fraction_at_threshold"] <= (covered + 2 * 30) / 570
    bad = sorted(x["codon"] for x in kras["loci"] if not x["adequate"])
    assert bad == [59, 61]
    assert sorted(x["codon"] for x in kras["loci"]) == [12, 13, 59, 61, 117, 146]


def test_depth_at_loci_batched_equals_samtools(demo_cov):
    from ccevariants.biomarkers.coverage import depth_at_loci

    out, truth, *_ = demo_cov
    bam = out / truth["patients"]["CCE-P05"]["bam"]["tumor_bam"]
    loci = [(x["chrom"], (x["start"] + x["end"]) // 2) for x in truth["patients"]["CCE-P05"]["bam"]["loci"]]
    loci += [("chr17", 5), ("chrZ", 100)]  # far from the panel: 0; a contig the BAM lacks: -1
    got = depth_at_loci(bam, [c for c, _ in loci], [p for _, p in loci])
    expected = [_samtools_depth(bam, c, p, p)[0] for c, p in loci[:-1]] + [-1]
    assert got.tolist() == expected
    assert got[-2] == 0 and min(got[:-2]) >= 150  # every truth exon midpoint is covered in P05
    with pytest.raises(InputError, match=r"expected positions within chr1 \(1\.\.\d+\); found 0"):
        depth_at_loci(bam, ["chr1"], [0])
