"""Copy-number input formats and gene-level amplification / deletion calls."""

from __future__ import annotations

import pytest

from ccevariants.biomarkers._genes import GeneModel
from ccevariants.biomarkers.cna import call_genes, log2_to_copy_number, read_copy_number
from ccevariants.errors import ConfigError, InputError

# GENEA (+) chr1:1001-3100, GENEB (-) chr1:10001-13100, LNC (lncRNA) chr1:20001-21000; ERBB2 at its
# GRCh38 position chr17:39,687,914-39,730,426 (Ensembl ENSG00000141736) for the real PCGR segments.
GFF3 = """##gff-version 3
chr1\tt\tgene\t1001\t3100\t.\t+\t.\tID=gene:GA;Name=GENEA;biotype=protein_coding
chr1\tt\tmRNA\t1001\t3100\t.\t+\t.\tID=transcript:TA;Parent=gene:GA;biotype=protein_coding
chr1\tt\texon\t1001\t3100\t.\t+\t.\tParent=transcript:TA
chr1\tt\tCDS\t1051\t3060\t.\t+\t0\tParent=transcript:TA
chr1\tt\tgene\t10001\t13100\t.\t-\t.\tID=gene:GB;Name=GENEB;biotype=protein_coding
chr1\tt\tmRNA\t10001\t13100\t.\t-\t.\tID=transcript:TB;Parent=gene:GB;biotype=protein_coding
chr1\tt\texon\t10001\t13100\t.\t-\t.\tParent=transcript:TB
chr1\tt\tCDS\t10041\t13050\t.\t-\t0\tParent=transcript:TB
chr1\tt\tncRNA_gene\t20001\t21000\t.\t+\t.\tID=gene:LN;Name=LNC;biotype=lncRNA
chr1\tt\tlnc_RNA\t20001\t21000\t.\t+\t.\tID=transcript:TL;Parent=gene:LN;biotype=lncRNA
chr1\tt\texon\t20001\t21000\t.\t+\t.\tParent=transcript:TL
chr17\tt\tgene\t39687914\t39730426\t.\t+\t.\tID=gene:ENSG00000141736;Name=ERBB2;biotype=protein_coding
chr17\tt\tmRNA\t39687914\t39730426\t.\t+\t.\tID=transcript:TE;Parent=gene:ENSG00000141736;biotype=protein_coding
chr17\tt\texon\t39687914\t39730426\t.\t+\t.\tParent=transcript:TE
chr17\tt\tCDS\t39688000\t39730000\t.\t+\t0\tParent=transcript:TE
"""


@pytest.fixture()
def genes(tmp_path):
    from ccevariants.transcripts import load_annotation

    path = tmp_path / "genes.gff3"
    path.write_text(GFF3)
    return GeneModel(load_annotation(path, use_cache=False))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pcgr_real_segments(shared_data, genes):
    path = shared_data / "pcgr-T001-BRCA" / "T001-BRCA.grch38.cna.tsv"
    table = read_copy_number(path)
    seg = table.segments
    assert table.format == "pcgr"
    assert len(seg) == 260
    first = seg.iloc[0]
    assert (first.chrom, first.start, first.end, first.copy_number) == ("1", 809641, 37651942, 1.0)
    # counted independently with awk on nMajor+nMinor: 17 segments >= 6, 6 segments == 0
    assert int((seg.copy_number >= 6).sum()) == 17
    assert int((seg.copy_number == 0).sum()) == 6
    assert int((seg.chrom == "X").sum()) == 13
    calls, summary = call_genes(table, genes)
    erbb2 = [c for c in calls if c["gene"] == "ERBB2"]
    # 17:39600010-40000000 has nMajor 8 + nMinor 1
    assert erbb2 == [
        {
            "gene": "ERBB2",
            "alteration": "amplification",
            "copy_number": 9.0,
            "max_copy_number": 9.0,
            "chrom": "17",
            "start": 39600010,
            "end": 40000000,
            "gene_id": "ENSG00000141736",
            "source": "pcgr",
        }
    ]
    assert summary["segments"] == 260


def test_simple_tsv_gene_level_and_segments(tmp_path, genes):
    path = write(
        tmp_path,
        "cn.tsv",
        "chrom\tstart\tend\tcopy_number\tgene\n"
        "chr3\t100\t200\t12\tMYC\n"  # gene-level row: called directly
        "chr1\t1\t2000\t8\t\n"  # covers half of GENEA
        "chr1\t2001\t5000\t7\t\n"  # rest of GENEA → min 7 → amplified
        "chr1\t10001\t11000\t0.2\t\n"  # part of GENEB homozygously lost
        "chr1\t11001\t30000\t2\t\n"  # LNC is not protein-coding: never called
        "chr1\t30001\t30100\tNA\t\n",
    )
    table = read_copy_number(path)
    assert table.format == "simple" and table.skipped == {"missing_copy_number": 1}
    calls, summary = call_genes(table, genes)
    got = [
        (c["gene"], c["alteration"], c["copy_number"], c["max_copy_number"], c["start"], c["end"])
        for c in calls
    ]
    assert got == [
        ("GENEA", "amplification", 7.0, 8.0, 2001, 5000),
        ("GENEB", "deletion", 0.2, 2.0, 10001, 11000),
        ("MYC", "amplification", 12.0, 12.0, 100, 200),
    ]
    # without an annotation only the gene-level row can be called
    calls, summary = call_genes(table, None)
    assert [c["gene"] for c in calls] == ["MYC"]
    assert summary["unmapped_segments"] == 4


def test_thresholds_are_configurable(tmp_path, genes):
    path = write(tmp_path, "cn.tsv", "chrom\tstart\tend\tcopy_number\nchr1\t1\t5000\t5\n")
    assert call_genes(read_copy_number(path), genes)[0] == []
    calls, _ = call_genes(read_copy_number(path), genes, amp_threshold=4.5)
    assert [c["gene"] for c in calls] == ["GENEA"]


def test_cnvkit_log2_and_purity(tmp_path, genes):
    assert log2_to_copy_number(0.0) == 2.0
    assert log2_to_copy_number(1.0) == 4.0
    assert log2_to_copy_number(1.0, purity=0.5) == pytest.approx(6.0)  # (4 - 2*0.5) / 0.5
    assert log2_to_copy_number(-3.0, purity=0.5) == 0.0  # clipped
    path = write(
        tmp_path,
        "s.cns",
        "chromosome\tstart\tend\tgene\tlog2\tdepth\tprobes\tweight\n"
        "chr1\t1000\t3100\tGENEA\t1.0\t300\t10\t9\n"
        "chr1\t10000\t13100\tGENEB\t0.0\t100\t10\t9\n",
    )
    raw = read_copy_number(path)
    assert raw.format == "cnvkit"
    assert raw.segments.start.tolist() == [1001, 10001]  # BED start → 1-based
    assert call_genes(raw, genes)[0] == []  # CN 4 < 6
    adjusted = read_copy_number(path, purity=0.5)
    assert adjusted.purity_adjusted
    calls, _ = call_genes(adjusted, genes)
    assert [(c["gene"], c["alteration"], c["copy_number"]) for c in calls] == [
        ("GENEA", "amplification", 6.0)
    ]
    # without annotation the CNVkit gene column names the genes
    calls, _ = call_genes(adjusted, None)
    assert [c["gene"] for c in calls] == ["GENEA"]
    with pytest.raises(ConfigError, match="purity"):
        read_copy_number(path, purity=0)
    # `cnvkit call` output: the integer cn column is used, not re-adjusted
    called = write(
        tmp_path,
        "c.call.cns",
        "chromosome\tstart\tend\tgene\tlog2\tcn\tdepth\nchr1\t1000\t3100\tGENEA\t1.0\t7\t300\n",
    )
    table = read_copy_number(called, purity=0.5)
    assert table.segments.copy_number.tolist() == [7.0] and not table.purity_adjusted


def test_purple_gene_and_segment_tables(tmp_path, genes):
    gene = write(
        tmp_path,
        "p.purple.cnv.gene.tsv",
        "chromosome\tstart\tend\tgene\tminCopyNumber\tmaxCopyNumber\n"
        "17\t39687914\t39730426\tERBB2\t25.3\t30.1\n"
        "9\t21967752\t21995301\tCDKN2A\t-0.02\t1.2\n"
        "7\t55019017\t55211628\tEGFR\t2.1\t2.3\n",
    )
    table = read_copy_number(gene)
    assert table.format == "purple_gene"
    calls, _ = call_genes(table, genes)
    assert [(c["gene"], c["alteration"], c["copy_number"]) for c in calls] == [
        ("CDKN2A", "deletion", 0.0),
        ("ERBB2", "amplification", 25.3),
    ]
    seg = write(
        tmp_path,
        "p.purple.cnv.somatic.tsv",
        "chromosome\tstart\tend\tcopyNumber\tbafCount\nchr1\t1\t4000\t6.5\t10\n",
    )
    calls, _ = call_genes(read_copy_number(seg), genes)
    assert [(c["gene"], c["copy_number"]) for c in calls] == [("GENEA", 6.5)]


def test_cnv_vcf(tmp_path, genes):
    path = write(
        tmp_path,
        "cnv.vcf",
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=50000>\n"
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="t">\n'
        '##INFO=<ID=END,Number=1,Type=Integer,Description="e">\n'
        '##FORMAT=<ID=CN,Number=1,Type=Integer,Description="c">\n'
        '##FILTER=<ID=LowQual,Description="l">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n"
        "chr1\t999\tc1\tN\t<DUP>\t.\tPASS\tSVTYPE=DUP;END=3200\tCN\t9\n"
        "chr1\t10500\tc2\tN\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=10800\tCN\t0\n"
        "chr1\t20000\tc3\tN\t<DEL>\t.\tLowQual\tSVTYPE=DEL;END=20800\tCN\t0\n",
    )
    table = read_copy_number(path)
    assert table.format == "vcf"
    assert table.segments[["start", "end"]].values.tolist() == [[1000, 3200], [10501, 10800]]
    assert table.skipped == {"not_pass": 1}
    calls, _ = call_genes(table, genes)
    assert [(c["gene"], c["alteration"]) for c in calls] == [
        ("GENEA", "amplification"),
        ("GENEB", "deletion"),
    ]


def test_bad_copy_number_files(tmp_path):
    unknown = write(tmp_path, "seg.tsv", "chr\tfrom\tto\tratio\n1\t1\t100\t0.3\n")
    with pytest.raises(InputError) as err:
        read_copy_number(unknown)
    message = str(err.value)
    assert message.startswith(f"{unknown}:1: expected the columns of a known copy-number format")
    assert "simple: chrom start end copy_number" in message and "cnvkit: chromosome start end log2" in message
    assert message.endswith("found chr from to ratio")
    bad_value = write(tmp_path, "v.tsv", "chrom\tstart\tend\tcopy_number\n1\t1\t100\tmany\n")
    with pytest.raises(InputError, match=r"v.tsv:2: expected a number in column 'copy_number'; found 'many'"):
        read_copy_number(bad_value)
    short = write(tmp_path, "s.tsv", "chrom\tstart\tend\tcopy_number\n1\t1\t100\n")
    with pytest.raises(InputError, match=r"s.tsv:2: expected 4 tab-separated fields"):
        read_copy_number(short)
    reversed_ = write(tmp_path, "r.tsv", "chrom\tstart\tend\tcopy_number\n1\t500\t100\t3\n")
    with pytest.raises(InputError, match=r"r.tsv:2: expected start <= end"):
        read_copy_number(reversed_)
    negative = write(tmp_path, "n.tsv", "chrom\tstart\tend\tcopy_number\n1\t1\t100\t-3\n")
    with pytest.raises(InputError, match=r"n.tsv:2: expected a copy number >= 0"):
        read_copy_number(negative)
    empty = write(tmp_path, "e.tsv", "")
    with pytest.raises(InputError, match="e.tsv: expected a header line"):
        read_copy_number(empty)
    with pytest.raises(InputError, match="expected an existing copy-number file"):
        read_copy_number(tmp_path / "missing.tsv")


def test_ascat_sequenza_facets_gatk_segments(tmp_path, genes):
    ascat = write(
        tmp_path,
        "ascat.segments.txt",
        "sample\tchr\tstartpos\tendpos\tnMajor\tnMinor\nT1\t1\t1\t5000\t5\t2\nT1\t1\t9000\t12000\t0\t0\n",
    )
    sequenza = write(
        tmp_path,
        "s_segments.txt",
        "chromosome\tstart.pos\tend.pos\tBf\tN.BAF\tdepth.ratio\tCNt\tA\tB\n"
        "chr1\t1\t5000\t0.3\t100\t2.1\t7\t5\t2\nchr1\t9000\t12000\t0.5\t100\t0.1\t0\t0\t0\n",
    )
    facets = write(
        tmp_path,
        "facets.cncf.tsv",
        "chrom\tseg\tnum.mark\tstart\tend\tcf.em\ttcn.em\tlcn.em\n1\t1\t50\t1\t5000\t0.6\t7\t2\n23\t2\t40\t1\t900\t0.6\t1\t0\n",
    )
    gatk = write(
        tmp_path,
        "t.called.seg",
        "@HD\tVN:1.6\n@SQ\tSN:chr1\tLN:50000\n@RG\tID:GATKCopyNumber\tSM:T1\n"
        "CONTIG\tSTART\tEND\tNUM_POINTS_COPY_RATIO\tMEAN_LOG2_COPY_RATIO\tCALL\n"
        "chr1\t1\t5000\t40\t1.0\t+\nchr1\t9000\t12000\t30\t-5.0\t-\n",
    )
    got = {}
    for path in (ascat, sequenza, facets, gatk):
        table = read_copy_number(path, purity=0.5)
        calls, _ = call_genes(table, genes)
        got[table.format] = [(c["gene"], c["alteration"], c["copy_number"]) for c in calls]
        if table.format == "facets":
            assert table.segments.chrom.tolist() == ["1", "X"]
    assert got == {
        "ascat": [("GENEA", "amplification", 7.0), ("GENEB", "deletion", 0.0)],
        "sequenza": [("GENEA", "amplification", 7.0), ("GENEB", "deletion", 0.0)],
        "facets": [("GENEA", "amplification", 7.0)],
        # log2 1.0 → 4 copies observed; purity 0.5 → (4 - 1) / 0.5 = 6; log2 -5 → clipped at 0
        "gatk": [("GENEA", "amplification", 6.0), ("GENEB", "deletion", 0.0)],
    }
