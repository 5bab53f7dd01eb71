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
    assert main([*args, "--bam", str(bam), "--coverage-genes", "GENEA,GENEB"]) == 0
    coverage = json.loads(out.read_text())["coverage"]
    assert [(c["gene"], c["mean_depth"], c["adequate"]) for c in coverage] == [
        ("GENEA", 30.0, True),
        ("GENEB", 0.0, False),
    ]
    out2 = tmp_path / "b2.json"
    assert main(["biomarkers", "--variants", str(parquet), "--output", str(out2), "--bam", str(bam)]) == 2
    assert not out2.exists()
    assert main([*args[:4], str(out2), *args[5:], "--bam", str(bam), "--coverage-min-fraction", "2"]) == 2
    assert not out2.exists()
