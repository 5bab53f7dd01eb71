"""Transcript index: GFF3/GTF parsers on real Ensembl chr21 files and bcftools-csq GFFs; defects."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from ccevariants.errors import InputError
from ccevariants.transcripts import load_annotation


def _gff_counts(path):
    """Independent count: top-level ID rows are genes, other ID rows with a Parent (not CDS) transcripts."""
    genes = transcripts = exons = 0
    skip = {"chromosome", "biological_region"}
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            attrs = dict(kv.split("=", 1) for kv in f[8].split(";") if "=" in kv)
            if f[2] == "exon":
                exons += len(attrs["Parent"].split(","))
            elif f[2] in skip or f[2] in ("CDS", "five_prime_UTR", "three_prime_UTR"):
                continue
            elif "ID" in attrs and "Parent" not in attrs:
                genes += 1
            elif "ID" in attrs:
                transcripts += 1
    return genes, transcripts, exons


def test_ensembl_gff3_chr21(shared_data, tmp_path):
    path = shared_data / "ensembl-chr21-annotation" / "test.gff.gz"
    idx = load_annotation(path, cache_dir=tmp_path)
    genes, transcripts, exons = _gff_counts(path)
    assert (len(idx.genes), len(idx.transcripts), len(idx.exons)) == (genes, transcripts, exons)
    assert (genes, transcripts) == (835, 2414)
    # every coding transcript's CDS length is a whole number of codons after its 5' phase
    coding = np.flatnonzero(idx.transcripts.cds_start >= 0)
    assert len(coding) > 100
    # transcripts sorted by (chrom, start)
    assert np.all(np.diff(idx.transcripts.start) >= 0)
    # cache: a second load gives the same tables
    again = load_annotation(path, cache_dir=tmp_path)
    assert list(tmp_path.glob("*.npz"))
    assert np.array_equal(again.exons.start, idx.exons.start)
    assert list(again.transcripts.transcript_id) == list(idx.transcripts.transcript_id)


def test_ensembl_gtf_chr21_matches_gff_structure(shared_data):
    path = shared_data / "ensembl-chr21-annotation" / "test.gtf.gz"
    idx = load_annotation(path, use_cache=False)
    tids, genes, exon_rows = set(), set(), 0
    with gzip.open(path, "rt") as handle:
        for line in handle:
            f = line.split("\t")
            if len(f) < 9:
                continue
            if f[2] == "gene":
                genes.add(f[8].split('gene_id "')[1].split('"')[0])
            if "transcript_id" in f[8] and f[2] in ("transcript", "exon", "CDS"):
                tids.add(f[8].split('transcript_id "')[1].split('"')[0])
            exon_rows += f[2] == "exon"
    assert len(idx.transcripts) == len(tids)
    assert len(idx.genes) >= len(genes)
    # transcripts without exon rows get their span as one exon
    assert len(idx.exons) >= exon_rows
    gff = load_annotation(shared_data / "ensembl-chr21-annotation" / "test.gff.gz", use_cache=False)
    # the same coding transcript in GTF and GFF3 has the same CDS bounds (GTF stop codon merged in)
    common = 0
    for i, tid in enumerate(idx.transcripts.transcript_id):
        if idx.transcripts.cds_start[i] < 0:
            continue
        try:
            j = gff.transcript_index(str(tid))
        except KeyError:
            continue
        common += 1
        assert (idx.transcripts.cds_start[i], idx.transcripts.cds_end[i]) == (
            gff.transcripts.cds_start[j],
            gff.transcripts.cds_end[j],
        ), tid
    assert common >= 20


def test_bcftools_gffs_parse(shared_data):
    root = shared_data / "bcftools-csq"
    idx = load_annotation(root / "csq.gff3", use_cache=False)
    t = idx.transcript_index("ENST00000000002")
    assert idx.transcripts.strand[t] == -1
    # exon numbering in transcript direction: the highest genomic exon is exon 1 on the minus strand
    rows = idx.exon_rows(t)
    assert list(idx.exons.exon_number[rows]) == [4, 3, 2, 1]
    assert idx.exon_at(t, 160) == ("exon", 1)  # 1-based 161 in exon 160-200
    assert idx.exon_at(t, 115) == ("intron", 3)  # between exons 80-110 (4) and 120-130 (3)
    assert idx.cds_to_protein_pos(4) == 2
    assert idx.genes_overlapping("2", 150, 151) == [int(np.flatnonzero(idx.genes.name == "ABC")[0])]


GTF = """\
1\tt\tgene\t1\t300\t.\t+\t.\tgene_id "G1"; gene_name "GENEA"; gene_biotype "protein_coding";
1\tt\ttranscript\t1\t300\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; gene_name "GENEA"; transcript_biotype "protein_coding";
1\tt\texon\t1\t300\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; exon_number "1";
1\tt\tCDS\t11\t280\t.\t+\t0\tgene_id "G1"; transcript_id "T1";
1\tt\tstop_codon\t281\t283\t.\t+\t0\tgene_id "G1"; transcript_id "T1";
1\tt\ttranscript\t1\t200\t.\t+\t.\tgene_id "G1"; transcript_id "T2"; gene_name "GENEA"; transcript_biotype "protein_coding"; tag "basic"; tag "MANE_Select"; tag "Ensembl_canonical";
1\tt\texon\t1\t200\t.\t+\t.\tgene_id "G1"; transcript_id "T2";
1\tt\tCDS\t11\t100\t.\t+\t0\tgene_id "G1"; transcript_id "T2";
"""


def test_gtf_tags_stop_codon_and_pick(tmp_path):
    p = tmp_path / "a.gtf"
    p.write_text(GTF)
    idx = load_annotation(p, use_cache=False)
    t1 = idx.transcript_index("T1")
    assert (idx.transcripts.cds_start[t1], idx.transcripts.cds_end[t1]) == (10, 283)
    t2 = idx.transcript_index("T2")
    assert idx.transcripts.mane[t2] and idx.transcripts.canonical[t2]
    assert idx.transcript_for_gene("GENEA") == t2  # MANE beats the longer CDS
    assert idx.transcript_for_gene("GENEA", pick_order=("length",)) == t1


GFF_OK = """##gff-version 3
1\t.\tgene\t1\t100\t.\t+\t.\tID=gene:G1;Name=A;biotype=protein_coding
1\t.\tmRNA\t1\t100\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding
1\t.\texon\t1\t100\t.\t+\t.\tParent=transcript:T1
1\t.\tCDS\t10\t90\t.\t+\t0\tParent=transcript:T1
"""


@pytest.mark.parametrize(
    ("edit", "line", "fragment"),
    [
        (
            lambda s: s.replace("Parent=transcript:T1\n1", "Parent=transcript:T9\n1"),
            4,
            "parent transcript 'T9'",
        ),
        (lambda s: s.replace("CDS\t10\t90", "CDS\t10\t190"), 5, "inside one of its exons"),
        (lambda s: s.replace("+\t0\tParent", "+\t5\tParent"), 5, "expected CDS phase"),
        (lambda s: s + "1\t.\tgene\t1\t100\t.\t+\t.\tID=gene:G1;Name=B\n", 6, "unique gene IDs"),
        (
            lambda s: s + "1\t.\tmRNA\t1\t100\t.\t+\t.\tID=transcript:T1;Parent=gene:G1\n",
            6,
            "unique transcript IDs",
        ),
        (lambda s: s.replace("Parent=gene:G1", "Parent=gene:G7"), 3, "parent gene 'G7'"),
        (lambda s: s.replace("exon\t1\t100", "exon\t1\tx"), 4, "integer start/end"),
    ],
)
def test_gff3_defects_name_file_and_line(tmp_path, edit, line, fragment):
    p = tmp_path / "bad.gff3"
    p.write_text(edit(GFF_OK))
    with pytest.raises(InputError) as err:
        load_annotation(p, use_cache=False)
    assert f"bad.gff3:{line}:" in str(err.value)
    assert fragment in str(err.value)


def test_gtf_missing_gene_id_is_an_error(tmp_path):
    p = tmp_path / "bad.gtf"
    p.write_text(GTF.replace('gene_id "G1"; transcript_id "T2";', 'transcript_id "T2";', 1))
    with pytest.raises(InputError, match=r"bad.gtf:6: expected a gene_id"):
        load_annotation(p, use_cache=False)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="expected an existing GFF3/GTF"):
        load_annotation(tmp_path / "nope.gff3")
