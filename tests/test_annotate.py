"""``ccev annotate`` end to end: VCF with CSQ, Parquet table (contract §3), picks, errors."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.annotate import CSQ_FIELDS, trim_allele
from ccevariants.cli import main
from ccevariants.transcripts import load_annotation

CDS = "ATGGAAGAAGAAAAACTGTGGCCAGCATTGGCGAGCCTGGAAATATAA"  # MEEEKLWPALASLEI*


def _build(tmp_path):
    """chr1: gene GENE (+ strand, exons [30,60) [80,113), MANE transcript T1 and a longer-CDS T2);
    gene MINUS on the minus strand at [200, 260); chr2: no annotation."""
    exon1 = "CCCCC" + CDS[:25]
    exon2 = CDS[25:] + "GGGGGGGGGG"
    left = "A" * 30 + exon1 + "GTAAGTTTTTTTTTTTTCAG" + exon2
    minus_mrna = "ATGAAACCCGGGTTTTAA"  # MKPGF*
    body = left + "T" * (200 - len(left))
    rc = minus_mrna[::-1].translate(str.maketrans("ACGT", "TGCA"))
    body += "C" * 21 + rc + "C" * 21 + "A" * 10000
    (tmp_path / "g.fa").write_text(">chr1\n" + body + "\n>chr2\n" + "ACGT" * 50 + "\n")
    pysam.faidx(str(tmp_path / "g.fa"))
    m0, m1 = 200 + 21, 200 + 21 + len(minus_mrna)
    gff = [
        "##gff-version 3",
        "chr1\t.\tgene\t31\t113\t.\t+\t.\tID=gene:G1;Name=GENE;biotype=protein_coding",
        "chr1\t.\tmRNA\t31\t113\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding;tag=MANE_Select,Ensembl_canonical",
        "chr1\t.\texon\t31\t60\t.\t+\t.\tParent=transcript:T1",
        "chr1\t.\texon\t81\t113\t.\t+\t.\tParent=transcript:T1",
        "chr1\t.\tCDS\t36\t60\t.\t+\t0\tParent=transcript:T1",
        "chr1\t.\tCDS\t81\t103\t.\t+\t2\tParent=transcript:T1",
        "chr1\t.\tmRNA\t31\t113\t.\t+\t.\tID=transcript:T2;Parent=gene:G1;biotype=protein_coding",
        "chr1\t.\texon\t31\t113\t.\t+\t.\tParent=transcript:T2",
        "chr1\t.\tCDS\t31\t111\t.\t+\t0\tParent=transcript:T2",
        f"chr1\t.\tgene\t{m0 - 20}\t{m1 + 20}\t.\t-\t.\tID=gene:G2;Name=MINUS;biotype=protein_coding",
        f"chr1\t.\tmRNA\t{m0 - 20}\t{m1 + 20}\t.\t-\t.\tID=transcript:T3;Parent=gene:G2;biotype=protein_coding",
        f"chr1\t.\texon\t{m0 - 20}\t{m1 + 20}\t.\t-\t.\tParent=transcript:T3",
        f"chr1\t.\tCDS\t{m0 + 1}\t{m1}\t.\t-\t0\tParent=transcript:T3",
    ]
    (tmp_path / "g.gff3").write_text("\n".join(gff) + "\n")
    return body, m0, m1


HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1>
##contig=<ID=chr2>
##INFO=<ID=T_DP,Number=1,Type=Integer,Description="t">
##INFO=<ID=T_AD,Number=2,Type=Integer,Description="t">
##INFO=<ID=T_AF,Number=1,Type=Float,Description="t">
##INFO=<ID=N_DP,Number=1,Type=Integer,Description="n">
##INFO=<ID=N_AD,Number=2,Type=Integer,Description="n">
##INFO=<ID=N_AF,Number=1,Type=Float,Description="n">
##FILTER=<ID=LowQual,Description="low">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""


def _vcf(tmp_path, lines, name="in.vcf"):
    p = tmp_path / name
    p.write_text(HEADER + "".join(line + "\n" for line in lines))
    return p


def _run(tmp_path, vcf, *extra):
    out, table = tmp_path / "out.vcf.gz", tmp_path / "out.parquet"
    rc = main(
        [
            "annotate",
            "--input",
            str(vcf),
            "--reference",
            str(tmp_path / "g.fa"),
            "--annotation",
            str(tmp_path / "g.gff3"),
            "--output",
            str(out),
            "--table",
            str(table),
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ]
    )
    return rc, out, table


def test_annotate_end_to_end(tmp_path):
    body, m0, m1 = _build(tmp_path)
    # minus-strand gene: c.4 (A of AAA, codon 2 = Lys) is genomic m1 - 4 (0-based) → POS m1 - 3
    minus_pos = m1 - 3
    minus_ref = body[minus_pos - 1]
    lines = [
        "chr1\t38\t.\tGGAA\tG\t.\tLowQual\tT_DP=12",
        "chr1\t81\t.\tC\tG\t.\tPASS\tT_DP=50;T_AD=30,20;T_AF=0.4;N_DP=40;N_AD=40,0;N_AF=0",
        f"chr1\t{minus_pos}\t.\t{minus_ref}\tA\t.\tPASS\t.",
        "chr1\t9000\t.\tA\tC\t.\tPASS\t.",
        "chr2\t10\t.\tC\tT\t.\tPASS\t.",
    ]
    rc, out, table = _run(tmp_path, _vcf(tmp_path, lines))
    assert rc == 0
    assert (tmp_path / "out.vcf.gz.tbi").exists()
    df = pq.read_table(table).to_pandas()
    schema = pq.read_schema(table)
    assert str(schema.field("pos").type) == "int64" and str(schema.field("strand").type) == "int8"
    assert str(schema.field("t_af").type) == "double" and str(schema.field("pick").type) == "bool"
    # dictionary-encoded columns (written from dictionary arrays) read back as plain strings
    assert {str(schema.field(c).type) for c in ("chrom", "filter", "gene", "consequence", "codons")} == {
        "string"
    }
    # no nulls anywhere: every column REQUIRED (no definition levels); statistics where they prune
    assert not any(f.nullable for f in schema)
    meta = pq.ParquetFile(table).metadata
    assert all(meta.schema.column(i).max_definition_level == 0 for i in range(meta.num_columns))
    rg = meta.row_group(0)
    with_stats = {rg.column(i).path_in_schema for i in range(rg.num_columns) if rg.column(i).is_stats_set}
    assert with_stats == {"chrom", "pos", "pick"}
    gene_enc = rg.column(schema.get_field_index("gene")).encodings
    assert "RLE_DICTIONARY" in gene_enc and "RLE_DICTIONARY" not in rg.column(0).encodings
    pos_stats, chrom_stats = (rg.column(schema.get_field_index(c)).statistics for c in ("pos", "chrom"))
    assert (pos_stats.min, pos_stats.max, chrom_stats.min, chrom_stats.max) == (10, 9000, "chr1", "chr2")
    # exactly one pick per variant
    assert df.groupby("variant_id")["pick"].sum().to_dict() == {v: 1 for v in df.variant_id.unique()}
    assert df.variant_id.nunique() == 5
    mis = df[(df.variant_id == "chr1:81:C:G") & df.pick].iloc[0]
    assert (mis.transcript, mis.hgvsc, mis.hgvsp, mis.hgvsp_short) == ("T1", "c.26C>G", "p.Ala9Gly", "p.A9G")
    assert "missense_variant" in mis.consequence and mis.impact == "MODERATE" and mis.exon == "2/2"
    assert (mis.t_dp, mis.t_ad_ref, mis.t_ad_alt, mis.n_dp, mis.n_ad_ref, mis.n_ad_alt) == (
        50,
        30,
        20,
        40,
        40,
        0,
    )
    assert math.isclose(mis.t_af, 0.4, rel_tol=1e-6) and mis.n_af == 0.0
    assert mis.mane and mis.canonical and mis["filter"] == "PASS"
    dele = df[(df.variant_id == "chr1:38:GGAA:G") & df.pick].iloc[0]
    assert (
        dele.hgvsp == "p.Glu4del" and dele["filter"] == "LowQual" and dele.t_dp == 12 and dele.t_ad_ref == -1
    )
    assert math.isnan(dele.t_af)
    minus = df[(df.variant_id == f"chr1:{minus_pos}:{minus_ref}:A") & (df.transcript == "T3")].iloc[0]
    # AAA (Lys2) → c.4A>T on the transcript: TAA = stop
    assert minus.strand == -1 and minus.hgvsc == "c.4A>T" and minus.hgvsp == "p.Lys2Ter"
    far = df[df.variant_id == "chr1:9000:A:C"]
    assert len(far) == 1 and far.iloc[0].consequence == "intergenic_variant" and far.iloc[0].transcript == ""
    other = df[df.variant_id == "chr2:10:C:T"].iloc[0]
    assert other.consequence == "intergenic_variant" and other.protein_position == -1 and other.strand == 0
    # VCF: CSQ header and one entry per table row
    vcf = pysam.VariantFile(str(out))
    desc = vcf.header.info["CSQ"].description
    assert desc.endswith("Format: " + "|".join(CSQ_FIELDS))
    n_entries = 0
    for rec in vcf:
        entries = rec.info["CSQ"]
        n_entries += len(entries)
        assert all(len(e.split("|")) == len(CSQ_FIELDS) for e in entries)
        assert sum(e.split("|")[-1] == "1" for e in entries) == 1
    assert n_entries == len(df)


#: GENE: a 5'UTR SNV, a CDS insertion, an intronic SNV, two CDS SNVs and one downstream (1-based POS, REF, ALT)
MIXED = [(33, "C", "A"), (38, "G", "GA"), (61, "G", "A"), (81, "C", "G"), (101, "T", "C"), (120, "T", "C")]


def test_synonymous_hgvsp_is_escaped_in_csq_and_plain_in_the_table(tmp_path):
    """``=`` cannot stand in an INFO value: the formatting kernel writes a synonymous change's HGVSp
    as ``%3D`` in CSQ (as VEP does) and as ``=`` in the table; the other fields are copied as they
    are."""
    _build(tmp_path)
    rc, out, table = _run(tmp_path, _vcf(tmp_path, ["chr1\t41\t.\tA\tG\t.\tPASS\t."]))  # GAA>GAG
    assert rc == 0
    df = pq.read_table(table).to_pandas()
    row = df[df.transcript == "T1"].iloc[0]
    assert (row.hgvsc, row.hgvsp, row.hgvsp_short, row.codons) == ("c.6A>G", "p.Glu2=", "p.E2=", "gaA/gaG")
    (line,) = [ln for ln in _decompressed(out).decode().splitlines() if not ln.startswith("#")]
    entries = line.split("CSQ=")[1].split(";")[0].split(",")
    (t1,) = [e.split("|") for e in entries if "|T1|" in e]
    want = dict(zip(CSQ_FIELDS, t1, strict=True))
    assert (want["HGVSc"], want["HGVSp"], want["HGVSp_short"]) == ("c.6A>G", "p.Glu2%3D", "p.E2%3D")
    assert (want["EXON"], want["Amino_acids"], want["Codons"], want["CDS_position"]) == (
        "1/2",
        "E",
        "gaA/gaG",
        "6",
    )


def test_chunking_does_not_change_results(tmp_path):
    _build(tmp_path)
    lines = [f"chr1\t{p}\t.\t{b}\t{a}\t.\tPASS\t." for p, b, a in MIXED]
    vcf = _vcf(tmp_path, lines)
    rc, _, table = _run(tmp_path, vcf)
    one = pq.read_table(table).to_pandas()
    rc2, _, table2 = _run(tmp_path, vcf, "--chunk-size", "2")
    two = pq.read_table(table2).to_pandas()
    assert rc == rc2 == 0
    assert one.equals(two)
    assert (
        "stop_lost" in one[(one.variant_id == "chr1:101:T:C") & (one.transcript == "T1")].consequence.iloc[0]
    )


def _decompressed(path):
    import gzip

    return gzip.open(path).read()


@pytest.mark.parametrize("threads", ["2", "3"])
def test_threads_and_worker_processes_give_identical_output(tmp_path, threads):
    """--threads 2 (two chunk threads) and 3 (two forked workers), chunks of 2 records, write the same
    VCF text and table as one thread; the file is valid BGZF (tabix-indexed, ends with the EOF
    block)."""
    _build(tmp_path)
    lines = [f"chr1\t{p}\t.\t{b}\t{a}\t.\tPASS\tT_DP={p}" for p, b, a in [*MIXED, (9000, "A", "C")]]
    vcf = _vcf(tmp_path, lines)
    rc1, out1, table1 = _run(tmp_path, vcf, "--chunk-size", "2")
    text1, df1 = _decompressed(out1), pq.read_table(table1).to_pandas()
    rc2, out2, table2 = _run(tmp_path, vcf, "--chunk-size", "2", "--threads", threads)
    assert rc1 == rc2 == 0
    assert _decompressed(out2) == text1 and text1.count(b"CSQ=") == 7
    assert pq.read_table(table2).to_pandas().equals(df1)
    assert pq.ParquetFile(table2).metadata.num_row_groups == 4  # one row group per chunk
    assert out2.read_bytes().endswith(
        bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    )
    with pysam.TabixFile(str(out2)) as tbx:
        assert [r.split("\t")[1] for r in tbx.fetch("chr1", 80, 101)] == ["81", "101"]


def test_without_table_the_vcf_is_the_same(tmp_path):
    _build(tmp_path)
    lines = [
        "chr1\t38\t.\tGGAA\tG\t.\tPASS\tT_DP=12",
        "chr1\t81\t.\tC\tG,T\t.\tPASS\t.",
        "chr2\t10\t.\tC\tT\t.\tPASS\t.",
    ]
    vcf = _vcf(tmp_path, lines)
    rc, out, table = _run(tmp_path, vcf)
    with_table = _decompressed(out)
    out2 = tmp_path / "only.vcf.gz"
    argv = ["annotate", "--input", str(vcf), "--reference", str(tmp_path / "g.fa"), "--annotation"]
    argv += [str(tmp_path / "g.gff3"), "--output", str(out2), "--cache-dir", str(tmp_path / "cache")]
    assert rc == 0 and main(argv) == 0
    assert _decompressed(out2) == with_table and with_table.count(b"CSQ=") == 3
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == ["out.parquet"]


@pytest.mark.parametrize("threads", ["2", "3"])
def test_error_in_an_earlier_chunk_is_reported_before_a_later_sort_error(tmp_path, capsys, threads):
    """On chunk threads or in worker processes alike; no output is left."""
    _build(tmp_path)
    lines = [
        "chr1\t33\t.\tC\tA\t.\tPASS\t.",
        "chr1\t82\t.\tT\tG\t.\tPASS\t.",  # REF is A: chunk 1 fails
        "chr1\t101\t.\tT\tC\t.\tPASS\t.",
        "chr1\t120\t.\tT\tC\t.\tPASS\t.",
        "chr1\t38\t.\tG\tA\t.\tPASS\t.",  # unsorted, read after chunk 1 was handed to a worker
    ]
    rc, out, table = _run(tmp_path, _vcf(tmp_path, lines), "--chunk-size", "2", "--threads", threads)
    err = capsys.readouterr().err
    assert rc == 2 and "expected REF 'A'" in err and "chr1:82:T:G" in err and "sorted" not in err
    assert not out.exists() and not table.exists()


def _die(lines):  # a worker killed mid-chunk (e.g. by the OOM killer)
    import os

    os._exit(9)


def test_a_dying_worker_fails_the_run_instead_of_hanging(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import ccevariants.annotate as annotate_module

    _build(tmp_path)
    lines = [f"chr1\t{p}\t.\tC\tA\t.\tPASS\t." for p in (33, 81)] + ["chr1\t120\t.\tT\tC\t.\tPASS\t."]
    monkeypatch.setattr(annotate_module, "_worker_chunk", _die)
    with pytest.raises(BrokenProcessPool):
        _run(tmp_path, _vcf(tmp_path, lines), "--chunk-size", "1", "--threads", "3")
    assert not (tmp_path / "out.vcf.gz").exists() and not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize(
    "distance, want",
    [
        (
            None,
            {"T1": "downstream_gene_variant", "T2": "downstream_gene_variant", "T3": "upstream_gene_variant"},
        ),
        ("300", {"T3": "upstream_gene_variant"}),  # the variant is the 300th base past T3's 5' end
        ("299", {"": "intergenic_variant"}),
        ("0", {"": "intergenic_variant"}),
    ],
)
def test_distance_sets_the_reach_of_up_and_downstream(tmp_path, distance, want):
    """``--distance`` (VEP's): a variant 300 bases past the minus-strand gene's 5' end and 446 past
    the plus-strand transcripts' 3' ends is upstream of T3 from distance 300 on, also downstream of
    T1/T2 with the default 5000, and intergenic below 300."""
    _, _, m1 = _build(tmp_path)
    pos = m1 + 20 + 300  # T3 ends (1-based, inclusive) at m1 + 20
    vcf = _vcf(tmp_path, [f"chr1\t{pos}\t.\tA\tC\t.\tPASS\t."])
    rc, out, table = _run(tmp_path, vcf, *(["--distance", distance] if distance else []))
    assert rc == 0
    df = pq.read_table(table).to_pandas()
    assert dict(zip(df.transcript, df.consequence, strict=True)) == want
    with pysam.VariantFile(str(out)) as fh:
        (rec,) = list(fh)
    assert len(rec.info["CSQ"]) == len(want)


def test_negative_distance_is_a_config_error(tmp_path, capsys):
    _build(tmp_path)
    vcf = _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."])
    rc, out, _ = _run(tmp_path, vcf, "--distance", "-1")
    assert rc == 2 and "expected --distance >= 0; found -1" in capsys.readouterr().err
    assert not out.exists()


def test_bad_threads_is_a_config_error(tmp_path, capsys):
    _build(tmp_path)
    rc, out, _ = _run(tmp_path, _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."]), "--threads", "0")
    assert rc == 2 and "expected --threads >= 1; found 0" in capsys.readouterr().err
    assert not out.exists()


def test_bgzf_runs_and_index_written_on_the_way(tmp_path, index_like_htslib):
    """Chunks compressed separately (as in worker processes) concatenate into one BGZF file; the
    index built from their member layout answers region queries exactly like htslib's index of
    the same file, including a symbolic deletion whose INFO/END reaches far."""
    import gzip

    from ccevariants.annotate import _bgzf_run
    from ccevariants.bgzf import EOF

    data = bytes(range(256)) * 700  # 179,200 bytes: three members, the last partial
    blob, sizes, lengths = _bgzf_run(data)
    assert gzip.decompress(blob + EOF) == data
    assert lengths == [0xFF00, 0xFF00, 179200 - 2 * 0xFF00] and sum(sizes) == len(blob)
    assert _bgzf_run(b"") == (b"", [], [])
    body, _, _ = _build(tmp_path)
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    lines = [f"chr1\t{p}\t.\t{body[p - 1]}\t{alt[body[p - 1]]}\t.\tPASS\t." for p in range(5, 380, 3)]
    lines.insert(11, f"chr1\t36\t.\t{body[35]}\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=350")
    vcf = _vcf(tmp_path, lines)
    extra = '##INFO=<ID=END,Number=1,Type=Integer,Description="e">\n'
    extra += '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="s">\n'
    vcf.write_text(vcf.read_text().replace("##FILTER", extra + "##FILTER", 1))
    out = tmp_path / "a.vcf.gz"
    args = ["annotate", "--input", str(vcf), "--reference", str(tmp_path / "g.fa")]
    args += ["--annotation", str(tmp_path / "g.gff3"), "--output", str(out), "--chunk-size", "7"]
    assert main(args) == 0
    index_like_htslib(out, [("chr1", s, s + 5) for s in range(0, 400, 9)])
    with pysam.TabixFile(str(out)) as a:
        assert any("<DEL>" in r for r in a.fetch("chr1", 340, 345))


def test_pick_order_option(tmp_path):
    _build(tmp_path)
    vcf = _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."])
    _run(tmp_path, vcf)
    df = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert df[df.pick].transcript.tolist() == ["T1"]
    _run(tmp_path, vcf, "--pick-order", "length")
    df = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert df[df.pick].transcript.tolist() == ["T2"]  # longer CDS


def test_bad_pick_order_is_a_config_error(tmp_path, capsys):
    _build(tmp_path)
    rc, out, table = _run(
        tmp_path, _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."]), "--pick-order", "mane,foo"
    )
    assert rc == 2 and "expected --pick-order items" in capsys.readouterr().err
    assert not out.exists() and not table.exists()


def test_bad_chunk_size_is_a_config_error(tmp_path, capsys):
    _build(tmp_path)
    rc, out, _ = _run(tmp_path, _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."]), "--chunk-size", "0")
    assert rc == 2 and "expected --chunk-size >= 1; found 0" in capsys.readouterr().err
    assert not out.exists()


def test_ref_mismatch_names_the_record_and_writes_nothing(tmp_path, capsys):
    _build(tmp_path)
    vcf = _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t.", "chr1\t82\t.\tT\tG\t.\tPASS\t."])
    rc, out, table = _run(tmp_path, vcf)
    err = capsys.readouterr().err
    assert rc == 2 and "chr1:82:T:G" in err and "expected REF 'A'" in err and str(vcf) in err
    assert not out.exists() and not table.exists()
    assert not list(tmp_path.glob(".out*"))


def test_unsorted_input_is_an_error(tmp_path, capsys):
    _build(tmp_path)
    vcf = _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t.", "chr1\t38\t.\tG\tA\t.\tPASS\t."])
    rc, out, table = _run(tmp_path, vcf)
    assert (
        rc == 2 and "expected a coordinate-sorted VCF; found chr1:38 after chr1:81" in capsys.readouterr().err
    )
    assert not out.exists() and not table.exists()


def test_unsorted_contigs_and_non_utf8_text_are_errors_naming_the_line(tmp_path, capsys):
    """Contigs must be contiguous; text must be UTF-8. Each error names the input line."""
    _build(tmp_path)
    lines = ["chr1\t38\t.\tG\tA\t.\tPASS\t.", "chr2\t5\t.\tA\tC\t.\tPASS\t.", "chr1\t81\t.\tC\tG\t.\tPASS\t."]
    rc, out, _ = _run(tmp_path, _vcf(tmp_path, lines))
    err = capsys.readouterr().err
    header_lines = HEADER.count("\n")
    assert rc == 2 and "contigs contiguous); found chr1:81 after chr2:5" in err
    assert f":{header_lines + 3}:" in err and not out.exists()
    bad = tmp_path / "latin1.vcf"  # the odd byte past the header reader's read-ahead (8 KB)
    body = "".join(f"chr1\t{p}\t.\tA\tC\t.\tPASS\t.\n" for p in range(300, 1300))
    bad.write_bytes((HEADER + body + "chr1\t5000\trs\xe9\tA\tC\t.\tPASS\t.\n").encode("latin-1"))
    rc, out, _ = _run(tmp_path, bad)
    err = capsys.readouterr().err
    assert rc == 2 and "expected UTF-8 text; found byte 0xe9" in err and f":{header_lines + 1001}:" in err
    assert not out.exists()
    # a record htslib cannot parse (a POS that is not a number), among records re-printed by htslib
    lines = ["chr1\t38\t.\tG\tA\t30.0\tPASS\t.", "chr1\t4x\t.\tC\tG\t.\tPASS\t."]
    rc, out, _ = _run(tmp_path, _vcf(tmp_path, lines))
    err = capsys.readouterr().err
    assert rc == 2 and "expected a VCF record htslib can parse; found 'chr1\\t4x" in err
    assert f":{header_lines + 2}:" in err and not out.exists()


def test_records_are_written_as_htslib_prints_them(tmp_path):
    """Records with floats htslib prints without their trailing zeros (``50.00``, ``0.250``: GATK
    writes them), and one htslib re-prints otherwise (``1e-05``), come out as cyvcf2 (htslib)
    prints them, with CSQ added; the others as written."""
    import gzip

    import cyvcf2

    body, _, _ = _build(tmp_path)
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    rest = [
        "50.00\tPASS\tT_AF=0.250;T_DP=12",
        ".\tPASS\tT_AF=0.25;T_AD=3,4",
        "7.5\tLowQual\tT_AF=6.00;N_AF=0.0",
        ".\tPASS\tT_AF=1e-05",
    ]
    lines = [
        f"chr1\t{p}\t.\t{body[p - 1]}\t{alt[body[p - 1]]}\t{r}"
        for p, r in zip(range(38, 42), rest, strict=True)
    ]
    vcf = _vcf(tmp_path, lines)
    rc, out, _ = _run(tmp_path, vcf)
    assert rc == 0
    reader = cyvcf2.VCF(str(vcf))
    printed = [str(v).rstrip("\n") for v in reader]
    with gzip.open(out, "rt") as fh:
        got = [line.rstrip("\n") for line in fh if not line.startswith("#")]
    assert [g.split(";CSQ=")[0] for g in got] == printed
    assert printed[0].endswith("\t50\tPASS\tT_AF=0.25;T_DP=12") and "T_AF=1e-05" in printed[3]
    assert "\t7.5\tLowQual\tT_AF=6;N_AF=0" in printed[2] and printed[1] == lines[1]


def test_truncated_or_corrupt_compressed_input_is_an_error_naming_the_line(tmp_path, capsys, monkeypatch):
    """A BGZF input cut short (a copy interrupted) or with a damaged member: an error naming the file
    and the last line read whole, exit 2, no output; the records before it are not written either."""
    import pysam

    import ccevariants.annotate as A

    _build(tmp_path)
    header_lines = HEADER.count("\n")
    plain = _vcf(tmp_path, [f"chr1\t{p}\t.\tA\tC\t.\tPASS\t." for p in range(300, 3300)])
    gz = tmp_path / "in.vcf.gz"
    pysam.tabix_compress(str(plain), str(gz), force=True)
    data = gz.read_bytes()
    monkeypatch.setattr(A, "READ_BYTES", 4096)  # several blocks read before the damage
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) - 28 - 200])  # no EOF member, the last member cut short
    rc, out, table = _run(tmp_path, cut)
    err = capsys.readouterr().err
    assert rc == 2 and f"{cut}:" in err and "expected a complete bgzf stream; found a truncated" in err
    after = int(err.split("after line ")[1].split(" ")[0])
    assert header_lines < after < header_lines + 3000 and f"{cut}:{after + 1}:" in err
    assert not out.exists() and not table.exists() and not list(tmp_path.glob(".out*"))
    # the third member's CRC does not match its data (bit rot; BSIZE: bytes 16-17 of a member)
    at = 0
    for _ in range(3):
        at += int.from_bytes(data[at + 16 : at + 18], "little") + 1
    bad = bytearray(data)
    bad[at - 8] ^= 0xFF
    damaged = tmp_path / "damaged.vcf.gz"
    damaged.write_bytes(bytes(bad))
    rc, out, table = _run(tmp_path, damaged)
    err = capsys.readouterr().err
    assert rc == 2 and "expected a complete bgzf stream; found a truncated or corrupt file" in err
    assert "CRC check failed" in err and f"{damaged}:" in err and not out.exists() and not table.exists()


def test_contig_missing_from_fasta_is_an_error(tmp_path, capsys):
    _build(tmp_path)
    text = HEADER.replace("##contig=<ID=chr2>", "##contig=<ID=chr2>\n##contig=<ID=chrZ>")
    vcf = tmp_path / "z.vcf"
    vcf.write_text(text + "chrZ\t5\t.\tA\tC\t.\tPASS\t.\n")
    rc, out, _ = _run(tmp_path, vcf)
    assert rc == 2 and "contig 'chrZ'" in capsys.readouterr().err
    assert not out.exists()


def test_missing_inputs_are_errors(tmp_path, capsys):
    _build(tmp_path)
    rc, _, _ = _run(tmp_path, tmp_path / "absent.vcf")
    assert rc == 2 and "expected an existing input VCF" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pos", "ref", "alt", "want"),
    [
        (10, "A", "T", (9, 10, "A", "T")),
        (10, "AC", "A", (10, 11, "C", "")),
        (10, "A", "AGG", (10, 10, "", "GG")),
        (10, "AGA", "A", (9, 11, "AG", "")),  # suffix first: leftmost placement within the record
        (10, "TA", "AACG", (9, 11, "TA", "AACG")),
        (10, "TAC", "AACGC", (9, 11, "TA", "AACG")),
        (10, "CTT", "CGG", (10, 12, "TT", "GG")),
    ],
)
def test_trim_allele(pos, ref, alt, want):
    assert trim_allele(pos, ref, alt) == want


def test_bcftools_csq_slice_via_cli(shared_data, tmp_path):
    root = shared_data / "bcftools-csq"
    out, table = tmp_path / "o.vcf.gz", tmp_path / "o.parquet"
    rc = main(
        [
            "annotate",
            "--input",
            str(root / "csq.vcf"),
            "--reference",
            str(root / "csq.fa"),
            "--annotation",
            str(root / "csq.gff3"),
            "--output",
            str(out),
            "--table",
            str(table),
            "--cache-dir",
            str(tmp_path),
        ]
    )
    assert rc == 0
    df = pq.read_table(table).to_pandas()
    picked = df[df.pick].set_index("variant_id")
    assert picked.loc["1:103:G:A"].hgvsp == "p.Val2Ile"
    assert picked.loc["2:164:T:G"].hgvsp_short == "p.T3P"  # minus-strand transcript
    assert picked.loc["3:159:G:A"].consequence == "splice_donor_variant"
    assert picked.loc["3:159:G:A"].hgvsc == "c.12+1C>T"
    assert np.all(df.groupby("variant_id")["pick"].sum() == 1)


def test_annotation_with_other_contig_naming(tmp_path):
    """VCF/FASTA use chr1, the annotation uses Ensembl's 1: transcripts are still found."""
    _build(tmp_path)
    gff = tmp_path / "g.gff3"
    gff.write_text(gff.read_text().replace("chr1\t", "1\t"))
    _run(tmp_path, _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."]))
    df = pq.read_table(tmp_path / "out.parquet").to_pandas()
    picked = df[df.pick].iloc[0]
    assert (picked.transcript, picked.hgvsp) == ("T1", "p.Ala9Gly")


def test_unreadable_vcf_and_fasta_are_input_errors(tmp_path, capsys):
    _build(tmp_path)
    bad_vcf = tmp_path / "bad.vcf"
    bad_vcf.write_text("garbage\n")
    rc, out, _ = _run(tmp_path, bad_vcf)
    assert rc == 2 and "expected a readable VCF" in capsys.readouterr().err and not out.exists()
    (tmp_path / "g.fa").write_text("not a fasta\n")
    (tmp_path / "g.fa.fai").unlink()
    rc, out, _ = _run(tmp_path, _vcf(tmp_path, ["chr1\t81\t.\tC\tG\t.\tPASS\t."]))
    assert rc == 2 and "expected an indexable FASTA" in capsys.readouterr().err and not out.exists()


def test_gtf_annotation_gives_the_same_calls_as_gff3(tmp_path):
    """The same models written as Ensembl-style GTF (CDS without the stop codon + stop_codon rows)."""
    _build(tmp_path)
    gtf = []
    genes_of: dict[str, str] = {}
    for line in (tmp_path / "g.gff3").read_text().splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        attrs = dict(kv.split("=", 1) for kv in f[8].split(";"))
        if f[2] == "gene":
            gid = attrs["ID"].split(":")[1]
            gtf.append(f[:2] + ["gene"] + f[3:8] + [f'gene_id "{gid}"; gene_name "{attrs["Name"]}";'])
            continue
        if f[2] == "mRNA":
            tid, gid = attrs["ID"].split(":")[1], attrs["Parent"].split(":")[1]
            tags = "".join(f' tag "{t}";' for t in attrs.get("tag", "").split(",") if t)
            genes_of[tid] = gid
            gtf.append(f[:2] + ["transcript"] + f[3:8] + [f'gene_id "{gid}"; transcript_id "{tid}";{tags}'])
            continue
        tid = attrs["Parent"].split(":")[1]
        gtf.append(f[:8] + [f'gene_id "{genes_of[tid]}"; transcript_id "{tid}";'])
    # move the 3 stop-codon bases out of the last CDS row into a stop_codon row (GTF convention)
    out = []
    last_cds = {r[8]: i for i, r in enumerate(gtf) if r[2] == "CDS"}
    for i, r in enumerate(gtf):
        if r[2] == "CDS" and last_cds[r[8]] == i:
            s, e = int(r[3]), int(r[4])
            if r[6] == "+":
                out.append(r[:3] + [str(s), str(e - 3)] + r[5:])
                out.append(r[:2] + ["stop_codon", str(e - 2), str(e)] + r[5:7] + ["0", r[8]])
            else:
                out.append(r[:3] + [str(s + 3), str(e)] + r[5:])
                out.append(r[:2] + ["stop_codon", str(s), str(s + 2)] + r[5:7] + ["0", r[8]])
        else:
            out.append(r)
    (tmp_path / "g.gtf").write_text("\n".join("\t".join(r) for r in out) + "\n")
    lines = [
        "chr1\t38\t.\tGGAA\tG\t.\tPASS\t.",
        "chr1\t81\t.\tC\tG\t.\tPASS\t.",
        "chr1\t101\t.\tT\tC\t.\tPASS\t.",
    ]
    vcf = _vcf(tmp_path, lines)
    _run(tmp_path, vcf)
    from_gff = pq.read_table(tmp_path / "out.parquet").to_pandas()
    rc = main(
        ["annotate", "--input", str(vcf), "--reference", str(tmp_path / "g.fa"), "--annotation",
         str(tmp_path / "g.gtf"), "--output", str(tmp_path / "gtf.vcf.gz"), "--table", str(tmp_path / "gtf.parquet"),
         "--cache-dir", str(tmp_path / "cache")]
    )  # fmt: skip
    assert rc == 0
    from_gtf = pq.read_table(tmp_path / "gtf.parquet").to_pandas()
    cols = ["variant_id", "transcript", "consequence", "hgvsc", "hgvsp", "exon", "pick", "mane"]
    assert from_gff[cols].equals(from_gtf[cols])
    assert "stop_lost" in from_gtf[(from_gtf.transcript == "T1") & (from_gtf.pos == 101)].consequence.iloc[0]


def test_multiallelic_and_spanning_deletion_alleles(tmp_path):
    _build(tmp_path)
    vcf = _vcf(tmp_path, ["chr1\t81\t.\tC\tG,A\t.\tPASS\t.", "chr1\t82\t.\tA\t*\t.\tPASS\t."])
    rc, out, table = _run(tmp_path, vcf)
    assert rc == 0
    df = pq.read_table(table).to_pandas()
    picked = df[df.pick].set_index("variant_id")
    assert picked.loc["chr1:81:C:G"].hgvsp == "p.Ala9Gly"
    assert picked.loc["chr1:81:C:A"].hgvsp == "p.Ala9Glu"
    assert picked.loc["chr1:82:A:*"].consequence == "sequence_variant"
    rec = next(iter(pysam.VariantFile(str(out))))
    alleles = {e.split("|")[0] for e in rec.info["CSQ"]}
    assert alleles == {"G", "A"}


def test_existing_csq_is_replaced_in_place_and_other_info_kept(tmp_path):
    _build(tmp_path)
    vcf = tmp_path / "in.vcf"
    vcf.write_text(
        HEADER.replace(
            "##FILTER=", '##INFO=<ID=CSQ,Number=.,Type=String,Description="old">\n##FILTER='
        ).replace("#CHROM", '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="s">\n#CHROM')
        + "chr1\t81\t.\tC\tG\t.\tPASS\tT_DP=50;CSQ=G|old|x;SOMATIC\n"
        + "chr1\t120\t.\tT\tC\t.\t.\tSOMATIC;T_AD=.,4\n"
    )
    rc, out, table = _run(tmp_path, vcf)
    assert rc == 0
    import gzip

    data = [ln.rstrip("\n").split("\t") for ln in gzip.open(out, "rt") if not ln.startswith("#")]
    info0, info1 = data[0][7], data[1][7]
    # CSQ keeps its place between T_DP and SOMATIC; the old value is gone
    assert info0.startswith("T_DP=50;CSQ=G|missense_variant&splice_region_variant|MODERATE|GENE|G1|T1|")
    assert info0.endswith(";SOMATIC")
    assert "old" not in info0 and info0.count("CSQ=") == 1
    assert info1.startswith("SOMATIC;T_AD=.,4;CSQ=C|")
    df = pq.read_table(table).to_pandas()
    second = df[df.variant_id == "chr1:120:T:C"]
    # missing FILTER reads as PASS; a missing AD value stays -1, the present one is read
    assert set(second["filter"]) == {"PASS"}
    assert set(second.t_ad_ref) == {-1} and set(second.t_ad_alt) == {4} and set(second.t_dp) == {-1}


def test_with_csq_line_rewriting():
    from ccevariants.annotate import _with_csq

    base = "chr1\t5\t.\tA\tC\t.\tPASS\t{}\tGT\t0/1"
    assert _with_csq(base.format("."), "X") == base.format("CSQ=X")
    assert _with_csq(base.format("DP=3"), "X") == base.format("DP=3;CSQ=X")
    assert _with_csq(base.format("CSQ=old;DP=3"), "X") == base.format("CSQ=X;DP=3")
    assert _with_csq(base.format("CSQOLD=1"), "X") == base.format("CSQOLD=1;CSQ=X")
    assert _with_csq("chr1\t5\t.\tA\tC\t.\tPASS\tDP=1", "X") == "chr1\t5\t.\tA\tC\t.\tPASS\tDP=1;CSQ=X"


@pytest.mark.parametrize(
    "info",
    [".", "DP=3", "CSQ=old;DP=3", "DP=3;CSQ=old", "A=1;CSQ=old;B=2", "CSQ", "CSQ;DP=1", "DP=1;CSQ;B=2",
     "CSQOLD=1", "XCSQ=1;B=2", "DP=1;CSQ"],
)  # fmt: skip
@pytest.mark.parametrize("samples", ["", "\tGT\t0/1", "\tGT:AD\t0/1:3,4\t0/0:5,0"])
def test_csq_slot_splices_like_with_csq(info, samples):
    """The (head, tail) split the Arrow path concatenates around CSQ gives _with_csq's line."""
    from ccevariants.annotate import _csq_slot, _with_csq

    line = f"chr1\t5\trs1\tA\tC,G\t3.5\tPASS\t{info}{samples}"
    head, tail = _csq_slot(line, line.split("\t", 8))
    assert head + "A|x|1,C|y|" + tail == _with_csq(line, "A|x|1,C|y|") + "\n"


PARSE_LINES = [
    "chr1\t5\trs1\tA\tC,G\t3.5\tPASS\tT_DP=50;T_AD=30,20;T_AF=0.4;N_DP=40;N_AD=40,0;N_AF=0",
    "chr1\t6\t.\tAT\tA\t.\t.\t.",
    "chr1\t7\t.\tC\tT\t.\tLowQual;Other\tT_DP=12.7;T_AD=.,3;T_AF=1e-05;N_AF=0.25,0.5",
    "chr2\t8\t.\tG\t*\t.\tPASS\tDB;T_DP=.;T_AD=7;XT_DP=99;T_AF=.",
    "chr2\t9\t.\tG\t<DEL>\t.\tPASS\tT_DP=3;T_DP=4;T_AD=,5;N_DP=nan;T_AF=-0.5;N_AF=inf",
    "chr2\t10\t.\tG\tGA,GAA,T\t.\tPASS\tT_AD=1,2,3;N_AD=4,;T_AF=0.3333333333333333",
]


@pytest.mark.parametrize("samples", ["", "\tGT:AD\t0/1:3,4\t0/0:5,0"])
def test_columnar_record_parsing_equals_the_line_by_line_parser(samples):
    """``_parse_records`` (Arrow kernels; odd values handed to the per-value functions) gives what the
    line-by-line parser gives: alleles, labels, FILTER, read support (-1 / NaN when missing, the last of
    a repeated key, Float depths truncated) and the text around CSQ."""
    from ccevariants.annotate import _Contigs, _parse_records, _parse_records_python, _Texts

    chunk = [line + samples for line in PARSE_LINES]
    fast, slow = _parse_records(chunk), _parse_records_python(chunk)
    assert fast.keys() == slow.keys()
    for k in fast:
        a, b = fast[k], slow[k]
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b, equal_nan=True), k
        elif isinstance(a, list):
            assert a == b, k
        elif isinstance(a, _Texts):  # alleles as one buffer (the fast path) or a list
            assert a.tolist() == _Texts.of(b).tolist(), k
        elif isinstance(a, _Contigs):  # contig names and a code per allele, or a list
            assert list(a) == list(b), k
        else:
            assert a.to_pylist() == b.to_pylist(), k
    sup = fast["support"]
    assert sup[0].tolist()[:6] == [50, 30, 20, 40, 40, 0] and math.isclose(sup[0, 6], 0.4)
    assert sup[2].tolist()[:3] == [12, -1, 3] and sup[2, 7] == 0.25  # Float depth truncated
    assert sup[4, 0] == 4 and sup[4, 3] == -1 and sup[4, 1] == -1 and sup[4, 2] == 5
    assert fast["labels"].to_pylist()[-3:] == ["chr2:10:G:GA", "chr2:10:G:GAA", "chr2:10:G:T"]
    assert fast["owner"].tolist() == [0, 0, 1, 2, 3, 4, 5, 5, 5]
    assert fast["filter_rec"].to_pylist()[:3] == ["PASS", "PASS", "LowQual;Other"]


def test_read_support_keys_are_whole_items_and_the_last_one_counts():
    """All six keys found in one pass over INFO: a key is a whole ``KEY=`` item (not the start or
    the end of a longer key), and a repeated key keeps its last value — as the line-by-line parser."""
    from ccevariants.annotate import _parse_records, _parse_records_python

    chunk = [
        "chr1\t5\t.\tA\tC\t.\tPASS\tT_DPX=5;XN_AD=1,2;N_AD=3,4;T_AF=0.5;T_DP=9;N_DP=1;N_DP=2",
        "chr1\t6\t.\tA\tC\t.\tPASS\tT_AD=1,2;T_AD=5,6;N_AF=0.1;XT_AF=0.9;T_A=1;N_D=2",
        "chr1\t7\t.\tA\tC\t.\tPASS\tSOMATIC;T_DP=",
    ]
    fast, slow = _parse_records(chunk)["support"], _parse_records_python(chunk)["support"]
    assert np.array_equal(fast, slow, equal_nan=True)
    assert fast[0, :6].tolist() == [9, -1, -1, 2, 3, 4] and fast[0, 6] == 0.5
    assert fast[1, 1:3].tolist() == [5, 6] and fast[1, 7] == 0.1 and np.isnan(fast[1, 6])


def test_record_parsing_falls_back_for_an_existing_csq_and_ragged_lines():
    from ccevariants.annotate import _parse_records, _parse_records_python

    for chunk in (
        ["chr1\t5\t.\tA\tC\t.\tPASS\tCSQ=old;DP=3", "chr1\t6\t.\tA\tC\t.\tPASS\tDP=3"],
        ["chr1\t5\t.\tA\tC\t.\tPASS\tDP=3\tGT\t0/1", "chr1\t6\t.\tA\tC\t.\tPASS\tDP=3"],
    ):
        fast, slow = _parse_records(chunk), _parse_records_python(chunk)
        assert fast["heads"].to_pylist() == slow["heads"].to_pylist()
        assert fast["tails"].to_pylist() == slow["tails"].to_pylist()
    assert _parse_records(["chr1\t5\t.\tA\tC\t.\tPASS\tCSQ=old;DP=3"])["heads"].to_pylist() == [
        "chr1\t5\t.\tA\tC\t.\tPASS\tCSQ="
    ]


def test_progress_is_drawn_on_a_terminal_only(tmp_path, monkeypatch):
    import io
    import sys

    _build(tmp_path)
    lines = [f"chr1\t{p}\t.\t{b}\t{a}\t.\tPASS\t." for p, b, a in [(33, "C", "A"), (81, "C", "G")]]
    vcf = _vcf(tmp_path, lines)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    rc, _, _ = _run(tmp_path, vcf, "--chunk-size", "1")
    assert rc == 0
    assert tty.getvalue().endswith("annotate: records: 2 done\n")
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    rc, _, _ = _run(tmp_path, vcf)
    assert rc == 0 and "annotate: records" not in pipe.getvalue()


def test_csq_lines_kernel_equals_the_arrow_joins():
    """The compiled writer of output lines gives what joining with Arrow gives: head, the rows of
    each record as ``ALT|mid|PICK`` joined by commas (a record without rows gets an empty CSQ),
    tail; inputs that are slices of larger Arrow arrays (non-zero offsets)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ccevariants.annotate import _csq_lines, _Spans, _Strings

    heads = pa.array(["x", "chr1\t5\t.\tA\tC,G\t.\tPASS\tCSQ=", "chr1\t9\tid\tT\tTA\t.\tq\tDP=3;CSQ=", ""])[
        1:3
    ]
    tails = pa.array(["\tGT\t0/1\n", "\n", "zz"])[:2]
    alts = ["C", "G", "TA%2C"]
    row_var = np.array([0, 0, 1, 2], dtype=np.int64)  # record 0: alleles 0, 1; record 1: allele 2
    mid = _Strings(["missense|GENE", "intron|GENE", "upstream"], np.array([0, 1, 0, 2]))
    per_tx = _Strings(pa.array(["", "|T1|protein_coding", "|T2|lncRNA"]), np.array([1, 2, 1, 0]))
    flank = _Strings(["", "|" * 10], np.array([0, 0, 0, 1]))
    pick = np.array([True, False, False, True])
    bounds = np.array([0, 3, 4], dtype=np.int64)
    text, line_end = _csq_lines(heads, tails, alts, row_var, (mid, per_tx, flank), pick, bounds)
    entries = pc.binary_join_element_wise(
        pa.array(alts).take(pa.array(row_var)),
        pc.binary_join_element_wise(mid.arrow(), per_tx.arrow(), flank.arrow(), ""),
        pc.if_else(pa.array(pick), pa.scalar("1"), pa.scalar("")),
        "|",
    )
    csq = pc.binary_join(pa.ListArray.from_arrays(pa.array(bounds.astype(np.int32)), entries), ",")
    want = "".join(pc.binary_join_element_wise(heads, csq, tails, "").to_pylist())
    assert text.tobytes().decode() == want
    assert (
        line_end.tolist()
        == np.cumsum(
            [len(x) for x in pc.binary_join_element_wise(heads, csq, tails, "").to_pylist()]
        ).tolist()
    )
    # the mid values as spans of one buffer (as the formatting kernels leave them): same text
    spans = _Spans.concat([["missense|GENE"], pa.array(["x", "intron|GENE"])[1:], _Spans(
        np.frombuffer(b"..upstream..", dtype=np.uint8), np.array([2]), np.array([10])
    )])  # fmt: skip
    assert spans.to_pylist() == mid.values
    same, same_end = _csq_lines(
        heads, tails, alts, row_var, (_Strings(spans, mid.index), per_tx, flank), pick, bounds
    )
    assert same.tobytes() == text.tobytes() and same_end.tolist() == line_end.tolist()
    # a record without rows
    text, line_end = _csq_lines(
        heads, tails, alts, row_var[:0], (mid, per_tx, flank), pick[:0], np.array([0, 0, 0])
    )
    assert (
        text.tobytes().decode() == heads[0].as_py() + tails[0].as_py() + heads[1].as_py() + tails[1].as_py()
    )


def test_spans_concat_filter_and_pieces():
    """``_Spans``: values of lists, Arrow arrays (sliced: non-zero offsets) and spans of other
    buffers, in order over one buffer; ``filter`` keeps spans; ``_Pieces`` joins to spans when a
    piece is spans, else as before (a list, or one Arrow array)."""
    import pyarrow as pa

    from ccevariants.annotate import _Pieces, _Spans

    raw = np.frombuffer("ab|é|xyz".encode(), dtype=np.uint8)
    s = _Spans(raw, np.array([0, 3, 6]), np.array([2, 5, 9]))
    assert s.to_pylist() == ["ab", "é", "xyz"] and len(s) == 3
    assert s.filter(np.array([True, False, True])).to_pylist() == ["ab", "xyz"]
    both = _Spans.concat([["", "q"], pa.array(["0", "long value", "z"])[1:], s, []])
    assert both.to_pylist() == ["", "q", "long value", "z", "ab", "é", "xyz"]
    assert not both.buf.flags.writeable  # (the kernels are compiled for read-only bytes)
    pieces = _Pieces(["a"])
    pieces.add(["b"])
    assert pieces.values() == ["a", "b"]
    pieces.add(pa.array(["c"]))
    assert pieces.values().to_pylist() == ["a", "b", "c"]
    pieces.add(s.filter(np.array([False, True, False])))
    got = pieces.values()
    assert isinstance(got, _Spans) and got.to_pylist() == ["a", "b", "c", "é"] and len(pieces) == 4


def test_batched_transcript_sequences_equal_the_per_transcript_ones(shared_data, tmp_path):
    """``_SeqCache.spliced`` (one FASTA read per stretch, compiled splicing) gives what
    ``transcript_cdna_sequence`` gives, on bcftools' real transcript slices and on a contig with
    lower case, IUPAC codes and a transcript running past the contig's end (the per-transcript path)."""
    from ccevariants.annotate import _FastaView, _SeqCache

    def spliced(cache, ts):
        buf, off = cache.spliced(np.asarray(ts))
        assert (off >= 0).sum() == len(ts) and (np.delete(off, ts) == -1).all()
        ends = {t: off[t] + len(index.transcript_cdna_sequence(t, cache.fasta)) for t in ts}
        return {t: buf[off[t] : ends[t]].tobytes().decode() for t in ts}

    n = 0
    for gff in sorted((shared_data / "bcftools-csq").glob("csq/*/*.gff")):
        fasta = next(iter(sorted(gff.parent.glob("*.fa"))), None)
        if fasta is None:
            continue
        index = load_annotation(gff, use_cache=False)
        with pysam.FastaFile(str(fasta)) as fh:
            fa = _FastaView(fh)
            got = spliced(_SeqCache(index, fa), range(len(index.transcripts)))
            for t in range(len(index.transcripts)):
                assert got[t] == index.transcript_cdna_sequence(t, fa)
                n += 1
    assert n > 50
    (tmp_path / "g.fa").write_text(">c\nacgtRYKMACGTNNacgtBDHVSWacgtACGT\n")
    pysam.faidx(str(tmp_path / "g.fa"))
    (tmp_path / "g.gff3").write_text(
        "##gff-version 3\n"
        "c\t.\tgene\t1\t40\t.\t-\t.\tID=gene:G;Name=G;biotype=protein_coding\n"
        "c\t.\tmRNA\t1\t30\t.\t-\t.\tID=transcript:T1;Parent=gene:G;biotype=protein_coding\n"
        "c\t.\texon\t2\t9\t.\t-\t.\tParent=transcript:T1\n"
        "c\t.\texon\t15\t30\t.\t-\t.\tParent=transcript:T1\n"
        "c\t.\tCDS\t4\t9\t.\t-\t0\tParent=transcript:T1\n"
        "c\t.\tmRNA\t20\t40\t.\t+\t.\tID=transcript:T2;Parent=gene:G;biotype=protein_coding\n"
        "c\t.\texon\t20\t40\t.\t+\t.\tParent=transcript:T2\n"
        "c\t.\tCDS\t20\t31\t.\t+\t0\tParent=transcript:T2\n"
    )
    index = load_annotation(tmp_path / "g.gff3", use_cache=False)
    with pysam.FastaFile(str(tmp_path / "g.fa")) as fh:
        fa = _FastaView(fh)
        for ts in ([0], [1], [0, 1]):
            got = spliced(_SeqCache(index, fa), ts)
            assert got == {t: index.transcript_cdna_sequence(t, fa) for t in ts}
        empty_buf, empty_off = _SeqCache(index, fa).spliced(np.zeros(0, dtype=np.int64))
        assert len(empty_buf) == 1 and (empty_off == -1).all()
    # T1: exons CGTRYKMA + ACGTBDHVSWACGTAC (upper case), reverse-complemented with IUPAC pairs
    assert got[0] == "GTACGTWSBDHVACGTTKMRYACG"
    assert len(got[1]) == 32 - 19  # T2 runs past the contig's end: what the FASTA has


def test_two_threads_annotate_on_chunk_threads_and_ccev_threads_starts_workers(tmp_path, monkeypatch):
    """``--threads 2`` annotates the chunks on two threads of this process (a worker that would die
    is never started); ``$CCEV_THREADS=3`` without ``--threads`` starts ``3 - 1`` workers, as
    ``--threads 3`` does."""
    import threading
    from concurrent.futures.process import BrokenProcessPool

    import ccevariants.annotate as annotate_module

    _build(tmp_path)
    lines = [f"chr1\t{p}\t.\tC\tA\t.\tPASS\t." for p in (33, 81)] + ["chr1\t120\t.\tT\tC\t.\tPASS\t."]
    vcf = _vcf(tmp_path, lines)
    monkeypatch.setattr(annotate_module, "_worker_chunk", _die)
    ran_on, real = [], annotate_module._chunk_result

    def spy(*args, **kwargs):
        ran_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(annotate_module, "_chunk_result", spy)
    rc, out, _ = _run(tmp_path, vcf, "--chunk-size", "1", "--threads", "2")
    assert rc == 0 and _decompressed(out).count(b"CSQ=") == 3
    assert len(ran_on) == 3 and all(n.startswith("ccev-annotate") for n in ran_on)  # the pool's threads
    split = annotate_module._ChunkRunner.split
    assert [split(n) for n in (1, 2, 3, 8)] == [(1, 1), (1, 2), (2, 1), (7, 1)]  # (workers, threads)
    monkeypatch.setenv("CCEV_THREADS", "3")
    with pytest.raises(BrokenProcessPool):
        _run(tmp_path, vcf, "--chunk-size", "1")


def test_chunk_threads_share_the_caches_safely(tmp_path):
    """Two chunk threads over 20 chunks of the benchmark's synthetic inputs (SNVs and indels in
    transcripts on both strands; the FASTA handle and the transcript-sequence and coordinate caches
    are shared, each batch's reference windows are the thread's own): the same VCF text and table as
    one thread. (With the windows shared between threads, this differs in most runs.)"""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "bench_annotate", Path(__file__).parents[1] / "benchmarks" / "annotate.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    fasta, gff, vcf, _ = bench.make_inputs(tmp_path, 1, 200, 8000, seed=3)
    runs = []
    for threads in ("1", "2"):
        out, table = tmp_path / f"t{threads}.vcf.gz", tmp_path / f"t{threads}.parquet"
        argv = ["annotate", "--input", str(vcf), "--reference", str(fasta), "--annotation", str(gff)]
        argv += ["--output", str(out), "--table", str(table), "--chunk-size", "400", "--threads", threads]
        assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
        runs.append((_decompressed(out), pq.read_table(table)))
    (text1, table1), (text2, table2) = runs
    assert text1.count(b"CSQ=") > 7900 and text2 == text1
    assert table2.to_pandas().equals(table1.to_pandas()) and table1.num_rows > 8000  # (NaN-aware)
    assert {"missense_variant", "frameshift_variant", "intron_variant"} <= {
        t for c in table1.column("consequence").to_pylist() for t in c.split("&")
    }


def test_contigs_and_sequence_cache_edges(tmp_path):
    """``_Contigs``: a name in two runs gets one code; built from a list it reads back as the list.
    ``_SeqCache.get`` keeps the transcripts used last, as many as it holds, and still answers for
    the others. ``Annotator`` refuses a negative distance."""
    from ccevariants.annotate import Annotator, _Contigs, _FastaView, _SeqCache

    c = _Contigs(["chr1", "chr2", "chr1"], np.array([0, 0, 1, 2, 2]))
    assert c.names == ["chr1", "chr2"] and c.code.tolist() == [0, 0, 1, 0, 0]
    assert list(c) == ["chr1", "chr1", "chr2", "chr1", "chr1"] and c[2] == "chr2" and len(c) == 5
    assert list(_Contigs.of(["b", "a", "b"])) == ["b", "a", "b"]
    _build(tmp_path)
    index = load_annotation(tmp_path / "g.gff3", use_cache=False)
    with pysam.FastaFile(str(tmp_path / "g.fa")) as fh:
        fa = _FastaView(fh)
        cache = _SeqCache(index, fa, max_items=2)
        assert [cache.get(t) for t in range(3)] == [index.transcript_cdna_sequence(t, fa) for t in range(3)]
        assert list(cache.cache) == [1, 2]
        assert cache.get(0) == index.transcript_cdna_sequence(0, fa) and list(cache.cache) == [2, 0]
        with pytest.raises(ValueError, match="distance >= 0; found -5"):
            Annotator(index, fh, distance=-5)


def test_chunk_slices_and_joins_lines_as_bytes():
    """``_Chunk``: lines as one byte string with line starts; slices and joins keep both in step,
    and a wrong line count is refused."""
    from ccevariants.annotate import _Chunk

    lines = ["chr1\t5\t.\tA\tC", "", "chr1\t7\t.\tÄ\tG", "x"]
    c = _Chunk.of(lines)
    assert len(c) == 4 and c.data.tobytes() == "".join(x + "\n" for x in lines).encode()
    assert c.starts.tolist() == [0, 13, 14, 28] and c.lines() == lines  # (Ä is two bytes)
    parts = [c.lines_slice(0, 1), c.lines_slice(1, 3), c.lines_slice(3, 4)]
    assert [p.lines() for p in parts] == [lines[:1], lines[1:3], lines[3:]]
    assert parts[1].starts.tolist() == [0, 1]
    joined = _Chunk.join(parts)
    assert joined.data.tobytes() == c.data.tobytes() and joined.starts.tolist() == c.starts.tolist()
    assert not joined.buffer().flags.writeable and parts[1].data.base is not None  # (views, no copies)
    assert c.head(2).lines() == lines[:2] and c.lines_slice(0, 4) is c
    assert len(_Chunk.of([])) == 0 and _Chunk.of([]).lines() == []
    with pytest.raises(ValueError, match="expected 3 line starts; found 4"):
        _Chunk(c.data, 3, c.starts)


@settings(deadline=None)
@given(st.lists(st.text(alphabet="AC*<>:|,;= =_%", max_size=8), max_size=12))
def test_csq_escape_of_a_column_equals_the_per_value_escape(values):
    """The Allele column of CSQ is escaped by Arrow kernels, as ``_csq_escape`` escapes one value."""
    from ccevariants import _arrow
    from ccevariants.annotate import _csq_escape, _csq_escape_column

    got = _csq_escape_column(_arrow.strings(values))
    assert got.to_pylist() == [_csq_escape(v) for v in values]


def test_a_records_annotation_does_not_depend_on_its_batch(tmp_path):
    """On the benchmark's synthetic genes (1 500 SNVs and indels, and deletions across 60 start
    codons): annotating them in one batch gives every record the rows it gets alone, column by
    column; and an intronic, UTR or up/downstream row has no protein position, amino acids, codons
    or HGVSp. (The consequence kernel keeps the numbers of only the pairs inside their transcript,
    in rows of their own: a number written to another pair's row shows up here.)"""
    import importlib.util
    from pathlib import Path

    from ccevariants.annotate import Annotator, _parse_records

    spec = importlib.util.spec_from_file_location(
        "bench_annotate", Path(__file__).parents[1] / "benchmarks" / "annotate.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    fasta, gff, _, _ = bench.make_inputs(tmp_path, 1, 200, 1500, seed=11)
    lines = [x.rstrip("\n") for x in open(tmp_path / "calls.vcf") if not x.startswith("#")]
    index = load_annotation(gff, use_cache=False)
    tx = index.transcripts
    with pysam.FastaFile(str(fasta)) as fh:
        # deletions from the 5' UTR into the start codon (rare among random records), both strands
        for t in np.flatnonzero(tx.cds_start >= 0)[:60].tolist():
            chrom = str(tx.chrom[t])
            at = int(tx.cds_start[t]) - 3 if tx.strand[t] > 0 else int(tx.cds_end[t]) - 3
            ref = fh.fetch(chrom, at, at + 5).upper()
            lines.append(f"{chrom}\t{at + 1}\t.\t{ref}\t{ref[0]}\t.\tPASS\t.")
    lines.sort(key=lambda x: (x.split("\t")[0], int(x.split("\t")[1])))
    names = ("consequence", "transcript", "hgvsc", "hgvsp", "protein_position", "amino_acids", "codons")
    names += ("exon", "intron", "cds_position", "pick")

    def rows(annot, batch):
        rec = _parse_records(batch)
        row_var, cols = annot.annotate_columns(rec["chroms"], rec["pos"], rec["refs"], rec["alts"])
        owner = rec["owner"][row_var]
        return [(int(owner[r]), *(cols[c][r] for c in names)) for r in range(len(row_var))]

    with pysam.FastaFile(str(fasta)) as fh:
        annot = Annotator(index, fh)
        together = rows(annot, lines)
        alone = [(i, *row[1:]) for i, line in enumerate(lines) for row in rows(annot, [line])]
    assert len(together) > 3000 and together == alone
    non_protein = {
        "intron_variant", "5_prime_UTR_variant", "3_prime_UTR_variant", "upstream_gene_variant",
        "downstream_gene_variant", "intergenic_variant", "splice_region_variant",
        "splice_polypyrimidine_tract_variant", "non_coding_transcript_exon_variant",
    }  # fmt: skip
    seen = {"none": 0, "protein": 0}
    for row in together:
        terms = set(row[1].split("&"))
        protein = (row[5], row[6], row[7], row[4])  # position, amino acids, codons, HGVSp
        if terms <= non_protein:
            seen["none"] += 1
            assert protein == (-1, "", "", ""), row
        elif terms & {"missense_variant", "stop_gained", "synonymous_variant"}:
            seen["protein"] += 1
            assert protein[0] > 0 and all(protein[1:]), row
    assert seen["none"] > 2500 and seen["protein"] > 50, seen
