"""Kernels: compiled and pure-Python twins against the same oracles (hypothesis property tests)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.annotate import Annotator
from ccevariants.kernels import load
from ccevariants.transcripts import load_annotation, reverse_complement

TWINS = [True, False]
CODE = dict(
    zip(
        (a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"),
        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        strict=True,
    )
)


def translate(s):
    return "".join(CODE[s[i : i + 3]] for i in range(0, len(s) - 2, 3))


@pytest.mark.parametrize("use_jit", TWINS)
def test_overlap_scan_skips_only_blocks_that_end_before_the_variant(use_jit):
    """The overlap scan skips a block of transcripts (``BLOCK`` in start order) when all of them end
    before the variant: at the edge — the block's last end (widened by the flank) at, one before
    and one after the variant, for substitutions and insertions — it finds what a brute force finds."""
    k = load("overlap", use_jit)
    b = k.BLOCK
    # block 0: transcripts [i, 1000 - i); block 1: [2000 + i, 2100 + i); one long one last
    ts = np.array([*range(b), *(2000 + i for i in range(b)), 2500], dtype=np.int64)
    te = np.array([*(1000 - i for i in range(b)), *(2100 + i for i in range(b)), 9000], dtype=np.int64)
    for flank in (0, 50):
        vs = np.arange(990 + flank, 1012 + flank, dtype=np.int64)
        for length in (0, 1, 3):
            ve = vs + length
            counts = k.count_overlaps(vs, ve, ts, te, int((te - ts).max()), flank)
            off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            out = np.empty(off[-1], dtype=np.int64)
            k.fill_overlaps(vs, ve, ts, te, int((te - ts).max()), flank, off, out)
            for i in range(len(vs)):
                a, e = ts - flank, te + flank
                hit = (a < vs[i]) & (vs[i] < e) if length == 0 else (a < ve[i]) & (vs[i] < e)
                assert out[off[i] : off[i + 1]].tolist() == np.flatnonzero(hit).tolist(), (flank, length, i)
    assert k.block_max_end(te).tolist() == [1000, 2100 + b - 1, 9000]


@pytest.mark.parametrize("use_jit", TWINS)
@settings(deadline=None, max_examples=40)
@given(data=st.data())
def test_overlap_matches_brute_force(use_jit, data):
    k = load("overlap", use_jit)
    # up to 150 transcripts (several blocks of the scan's block index), a few of them long
    nt = data.draw(st.integers(0, 150))
    ts = np.sort(
        np.array(data.draw(st.lists(st.integers(0, 5000), min_size=nt, max_size=nt)), dtype=np.int64)
    )
    lengths = st.one_of(st.integers(1, 200), st.integers(1, 800), st.integers(2000, 5000))
    tl = np.array(data.draw(st.lists(lengths, min_size=nt, max_size=nt)), dtype=np.int64)
    te = ts + tl
    nv = data.draw(st.integers(0, 30))
    vs = np.sort(
        np.array(data.draw(st.lists(st.integers(1, 6000), min_size=nv, max_size=nv)), dtype=np.int64)
    )
    vl = np.array(data.draw(st.lists(st.integers(0, 5), min_size=nv, max_size=nv)), dtype=np.int64)
    ve = vs + vl
    flank = data.draw(st.sampled_from([0, 50]))
    maxlen = int(tl.max()) if nt else 0
    counts = k.count_overlaps(vs, ve, ts, te, maxlen, flank)
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = np.empty(off[-1], dtype=np.int64)
    k.fill_overlaps(vs, ve, ts, te, maxlen, flank, off, out)
    for i in range(nv):
        a, b = ts - flank, te + flank
        if vs[i] == ve[i]:
            want = np.flatnonzero((a < vs[i]) & (vs[i] < b))
        else:
            want = np.flatnonzero((a < ve[i]) & (vs[i] < b))
        assert sorted(out[off[i] : off[i + 1]].tolist()) == want.tolist()


def _locus(rng, n_codons):
    """Random locus: 5'UTR, ATG + codons + stop split over 3 exons, 3'UTR; returns (genome, gff rows, cds)."""
    sense = [c for c in CODE if CODE[c] != "*"]
    cds = "ATG" + "".join(rng.choice(sense) for _ in range(n_codons)) + rng.choice(["TAA", "TAG", "TGA"])
    utr5 = "".join(rng.choice(list("ACGT")) for _ in range(12))
    utr3 = "".join(rng.choice(list("ACGT")) for _ in range(12))
    mrna = utr5 + cds + utr3
    cut1 = len(utr5) + 3 + 3 * rng.randint(1, max(1, n_codons // 2)) + rng.randint(0, 2)
    cut2 = cut1 + rng.randint(4, max(5, len(mrna) - cut1 - 14))
    pieces = [mrna[:cut1], mrna[cut1:cut2], mrna[cut2:]]
    intron = lambda: "GT" + "".join(rng.choice(list("ACT")) for _ in range(20)) + "AG"  # noqa: E731
    flank = "".join(rng.choice(list("ACGT")) for _ in range(30))
    genome = flank
    exons = []
    for i, p in enumerate(pieces):
        exons.append((len(genome), len(genome) + len(p)))
        genome += p
        if i < 2:
            genome += intron()
    genome += flank
    return genome, exons, len(utr5), cds


def _write(tmp, genome, exons, cds_c0, cds_len, minus):
    """Write FASTA + GFF3 for the locus (plus strand) or its reverse complement (minus strand)."""
    n = len(genome)
    if minus:
        genome = reverse_complement(genome)
        exons = [(n - e, n - s) for s, e in reversed(exons)]
    # genomic CDS segments
    pos_list = []
    tx_exons = exons if not minus else list(reversed(exons))
    for s, e in tx_exons:
        rng = range(s, e) if not minus else range(e - 1, s - 1, -1)
        pos_list.extend(rng)
    cds_pos = pos_list[cds_c0 : cds_c0 + cds_len]
    lo, hi = min(cds_pos), max(cds_pos) + 1
    strand = "-" if minus else "+"
    rows = [
        f"c\t.\tgene\t{exons[0][0] + 1}\t{exons[-1][1]}\t.\t{strand}\t.\tID=gene:G;Name=GENE;biotype=protein_coding",
        f"c\t.\tmRNA\t{exons[0][0] + 1}\t{exons[-1][1]}\t.\t{strand}\t.\tID=transcript:T;Parent=gene:G;biotype=protein_coding",
    ]
    for s, e in exons:
        rows.append(f"c\t.\texon\t{s + 1}\t{e}\t.\t{strand}\t.\tParent=transcript:T")
    done = 0
    for s, e in tx_exons:
        a, b = max(s, lo), min(e, hi)
        if a < b:
            rows.append(f"c\t.\tCDS\t{a + 1}\t{b}\t.\t{strand}\t{(3 - done % 3) % 3}\tParent=transcript:T")
            done += b - a
    (tmp / "g.fa").write_text(">c\n" + genome + "\n")
    pysam.faidx(str(tmp / "g.fa"))
    (tmp / "g.gff3").write_text("##gff-version 3\n" + "\n".join(rows) + "\n")
    return genome, pos_list


@pytest.mark.parametrize("use_jit", TWINS)
@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10**6), n_codons=st.integers(4, 25), data=st.data())
def test_snv_protein_change_is_strand_independent(use_jit, seed, n_codons, data):
    import random

    rng = random.Random(seed)
    genome, exons, cds_c0, cds = _locus(rng, n_codons)
    mrna_len = sum(e - s for s, e in exons)
    results = []
    k = data.draw(st.integers(0, len(cds) - 1))  # CDS index of the substituted base
    new = data.draw(st.sampled_from([b for b in "ACGT" if b != cds[k]]))
    alt_cds = cds[:k] + new + cds[k + 1 :]
    ref_p, alt_p = translate(cds), translate(alt_cds)
    for minus in (False, True):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            g, pos_list = _write(tmp, genome, exons, cds_c0, len(cds), minus)
            assert len(pos_list) == mrna_len
            idx = load_annotation(tmp / "g.gff3", use_cache=False)
            fa = pysam.FastaFile(str(tmp / "g.fa"))
            # the index reproduces the CDS, and its translation is the codon table's
            assert idx.transcript_cds_sequence(0, fa) == cds
            gpos = pos_list[cds_c0 + k]
            ref_b = g[gpos]
            alt_b = new if not minus else reverse_complement(new)
            rows = Annotator(idx, fa, use_jit=use_jit).annotate(["c"], [gpos + 1], [ref_b], [alt_b])[0]
            fa.close()
        row = [r for r in rows if r["transcript"] == "T"][0]
        results.append(
            (row["consequence"], row["protein_position"], row["amino_acids"], row["hgvsc"], row["hgvsp"])
        )
    assert results[0] == results[1]
    cons, ppos, aas, hgvsc, hgvsp = results[0]
    codon = k // 3
    assert ppos == codon + 1
    assert hgvsc == f"c.{k + 1}{cds[k]}>{new}"
    if codon == 0 and alt_p[0] != "M":
        assert "start_lost" in cons and hgvsp == "p.Met1?"
    elif ref_p[codon] == alt_p[codon]:
        assert set(cons.split("&")) & {
            "synonymous_variant",
            "stop_retained_variant",
            "start_retained_variant",
        }
    elif alt_p[codon] == "*":
        assert "stop_gained" in cons and aas == f"{ref_p[codon]}/*"
    elif ref_p[codon] == "*":
        assert "stop_lost" in cons
    else:
        assert "missense_variant" in cons and aas == f"{ref_p[codon]}/{alt_p[codon]}"


@pytest.mark.parametrize("use_jit", TWINS)
def test_indels_inframe_frameshift_and_splice(use_jit, tmp_path):
    # + strand transcript: exon 1 = 0-based [30, 60), intron [60, 80), exon 2 = [80, 113); c.1 = 0-based 35
    cds = "ATGGAAGAAGAAAAACTGTGGCCAGCATTGGCGAGCCTGGAAATATAA"
    exon1 = "CCCCC" + cds[:25]
    exon2 = cds[25:] + "GGCAGGTAGG"  # 3'UTR: a stop (TAG) 3 codons after the CDS stop
    genome = "A" * 30 + exon1 + "GTAAGTTTTTTTTTTTTCAG" + exon2 + "T" * 30
    (tmp_path / "g.fa").write_text(">c\n" + genome + "\n")
    pysam.faidx(str(tmp_path / "g.fa"))
    gff = [
        "##gff-version 3",
        "c\t.\tgene\t31\t113\t.\t+\t.\tID=gene:G;Name=GENE;biotype=protein_coding",
        "c\t.\tmRNA\t31\t113\t.\t+\t.\tID=transcript:T;Parent=gene:G;biotype=protein_coding;tag=MANE_Select",
        "c\t.\texon\t31\t60\t.\t+\t.\tParent=transcript:T",
        "c\t.\texon\t81\t113\t.\t+\t.\tParent=transcript:T",
        "c\t.\tCDS\t36\t60\t.\t+\t0\tParent=transcript:T",
        "c\t.\tCDS\t81\t103\t.\t+\t2\tParent=transcript:T",
    ]
    (tmp_path / "g.gff3").write_text("\n".join(gff) + "\n")
    idx = load_annotation(tmp_path / "g.gff3", use_cache=False)
    fa = pysam.FastaFile(str(tmp_path / "g.fa"))
    cds_seq = idx.transcript_cds_sequence(0, fa)
    assert translate(cds_seq) == "MEEEKLWPALASLEI*"
    a = Annotator(idx, fa, use_jit=use_jit)
    # 1-based VCF positions: CDS c.1 = genome index 35 → POS 36
    cases = {
        # delete one GAA codon (c.4_6): left-aligned VCF; HGVS p. is the 3'-most Glu
        (38, "GGAA", "G"): ("inframe_deletion", "p.Glu4del"),
        (38, "G", "GGAA"): ("inframe_insertion", "p.Glu4dup"),
        (38, "G", "GAAA"): ("inframe_insertion", "p.Met1_Glu2insLys"),
        (38, "G", "GA"): ("frameshift_variant", None),
        (36, "A", "G"): ("start_lost", "p.Met1?"),
        (48, "A", "T"): ("stop_gained", "p.Lys5Ter"),
        # in-frame delins: VEP calls length-changing delins protein_altering_variant
        (48, "AAACTG", "TGG"): ("protein_altering_variant", "p.Lys5_Leu6delinsTrp"),
        (48, "AAA", "AAAGGG"): ("inframe_insertion", "p.Lys5_Leu6insGly"),
        (50, "ACTGTGG", "A"): ("inframe_deletion", "p.Leu6_Trp7del"),
        (81, "C", "G"): ("missense_variant", "p.Ala9Gly"),
        (101, "T", "C"): ("stop_lost", "p.Ter16GlnextTer3"),
        # in-frame deletion of ATA+TA... leaves ATA (Ile15) and reads into the 3'UTR: GGC AGG TAG
        (100, "ATAA", "A"): ("stop_lost", "p.Ter16GlyextTer2"),
        (98, "A", "T"): ("missense_variant", "p.Ile15Leu"),
        (61, "G", "A"): ("splice_donor_variant", None),
        (64, "A", "C"): ("splice_region_variant", None),
        (70, "T", "C"): ("intron_variant", None),
        (80, "G", "C"): ("splice_acceptor_variant", None),
        (110, "T", "C"): ("3_prime_UTR_variant", None),
        (33, "C", "A"): ("5_prime_UTR_variant", None),
        (20, "A", "C"): ("upstream_gene_variant", None),
        (120, "T", "C"): ("downstream_gene_variant", None),
    }
    for (pos, ref, alt), (term, hgvsp) in cases.items():
        row = a.annotate(["c"], [pos], [ref], [alt])[0][0]
        assert term in row["consequence"].split("&"), (pos, ref, alt, row["consequence"])
        if hgvsp:
            assert row["hgvsp"] == hgvsp, (pos, ref, alt, row["hgvsp"])
    fs = a.annotate(["c"], [38], ["G"], ["GA"])[0][0]
    assert fs["hgvsp"].startswith("p.Glu2") and "fsTer" in fs["hgvsp"] and fs["impact"] == "HIGH"
    assert fs["pick"] is True
    intronic = a.annotate(["c"], [61], ["G"], ["A"])[0][0]
    assert intronic["hgvsc"] == "c.25+1G>A" and intronic["intron"] == "1/1" and intronic["exon"] == ""
    acceptor = a.annotate(["c"], [80], ["G"], ["C"])[0][0]
    assert acceptor["hgvsc"] == "c.26-1G>C"
    # HGVS c. is 3'-shifted: the left-aligned GAA deletion is written at the last GAA
    assert a.annotate(["c"], [38], ["GGAA"], ["G"])[0][0]["hgvsc"] == "c.10_12del"
    assert a.annotate(["c"], [38], ["G"], ["GGAA"])[0][0]["hgvsc"] == "c.10_12dup"
    assert a.annotate(["c"], [110], ["T"], ["C"])[0][0]["hgvsc"] == "c.*7T>C"
    assert a.annotate(["c"], [33], ["C"], ["A"])[0][0]["hgvsc"] == "c.-3C>A"
    mis = a.annotate(["c"], [81], ["C"], ["G"])[0][0]
    assert (mis["hgvsp_short"], mis["codons"], mis["exon"], mis["cds_position"]) == (
        "p.A9G",
        "gCa/gGa",
        "2/2",
        26,
    )
    fa.close()


@pytest.mark.parametrize("use_jit", TWINS)
@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 10**6), n_codons=st.integers(8, 25), data=st.data())
def test_indel_annotation_is_strand_independent(use_jit, seed, n_codons, data):
    """An insertion/deletion inside one coding exon: identical HGVS c./p. and terms on both strands,
    frameshift exactly when the length change is not a multiple of 3."""
    import random

    rng = random.Random(seed)
    genome, exons, cds_c0, cds = _locus(rng, n_codons)
    mrna_len = sum(e - s for s, e in exons)
    is_del = data.draw(st.booleans())
    size = data.draw(st.integers(1, 7))
    # transcript (cDNA) index of the event, kept 4 bases away from exon ends and inside codons 2..stop-1
    bounds = []
    acc = 0
    for s, e in exons:
        bounds.append((acc, acc + e - s))
        acc += e - s
    lo_c, hi_c = cds_c0 + 3, cds_c0 + len(cds) - 3
    choices = [c for a, b in bounds for c in range(max(a + 4, lo_c), min(b - 4 - size, hi_c - size))]
    if not choices:
        return
    c = data.draw(st.sampled_from(choices))
    ins_seq = "".join(data.draw(st.lists(st.sampled_from("ACGT"), min_size=size, max_size=size)))
    mrna = "".join(genome[s:e] for s, e in exons)
    alt_mrna = mrna[:c] + mrna[c + size :] if is_del else mrna[:c] + ins_seq + mrna[c:]
    results = []
    for minus in (False, True):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            g, pos_list = _write(tmp, genome, exons, cds_c0, len(cds), minus)
            assert len(pos_list) == mrna_len
            idx = load_annotation(tmp / "g.gff3", use_cache=False)
            fa = pysam.FastaFile(str(tmp / "g.fa"))
            if is_del:
                span = sorted(pos_list[c : c + size])
                s, e = span[0], span[-1] + 1
                pos, ref, alt = s, g[s - 1 : e], g[s - 1]  # VCF POS (1-based) of the anchor = s
            else:
                # insertion before transcript base c: genomic between pos_list[c-1] and pos_list[c]
                left = min(pos_list[c - 1], pos_list[c])
                seq = ins_seq if not minus else reverse_complement(ins_seq)
                pos, ref, alt = left + 1, g[left], g[left] + seq
            rows = Annotator(idx, fa, use_jit=use_jit).annotate(["c"], [pos], [ref], [alt])[0]
            fa.close()
        row = [r for r in rows if r["transcript"] == "T"][0]
        # splice_region_variant may legitimately differ: the VCF (left-aligned) placement of an indel in a
        # repeat is the 3' end of the repeat on the minus strand and the 5' end on the plus strand, and
        # consequences (like VEP's) are computed on the placement given. HGVS is 3'-shifted, so equal.
        terms = "&".join(t for t in row["consequence"].split("&") if t != "splice_region_variant")
        results.append((terms, row["hgvsc"], row["hgvsp"], row["protein_position"]))
    assert results[0] == results[1]
    terms = set(results[0][0].split("&"))
    if size % 3:
        assert "frameshift_variant" in terms
    else:
        assert "frameshift_variant" not in terms
        ref_p = translate(cds)
        alt_cds = alt_mrna[cds_c0:]
        alt_p = translate(alt_cds[: len(alt_cds) - len(alt_cds) % 3])
        alt_p = alt_p[: alt_p.index("*") + 1] if "*" in alt_p else alt_p
        if alt_p == ref_p:
            assert terms & {"synonymous_variant", "stop_retained_variant"} or results[0][2] == ""
        elif "*" in alt_p[:-1] or len(alt_p) < len(ref_p) - size // 3:
            assert "stop_gained" in terms
        else:
            assert terms & {
                "inframe_deletion",
                "inframe_insertion",
                "protein_altering_variant",
                "missense_variant",
                "stop_lost",
            }


@pytest.mark.parametrize("use_jit", TWINS)
def test_consequence_kernel_empty_batch(use_jit):
    k = load("consequence", use_jit)
    z = np.zeros(0, dtype=np.int64)
    one = np.zeros(1, dtype=np.int64)
    flags, ints, irow, aa_off, aa_ref, aa_alt = k.consequences(
        z, z, z, z, np.zeros(0, dtype=np.uint8), one,
        np.zeros((2, 0), dtype=np.int64), np.zeros((2, 0), dtype=np.int64), np.zeros((2, 0), dtype=np.uint8),
        np.zeros((2, 1), dtype=np.int64), z, z, z, z, z, z, z, z,
        np.zeros(0, dtype=bool), z, z, np.zeros(1, dtype=np.uint8), z, 5000, k.BASE_CODE, k.AA_CODE,
    )  # fmt: skip
    assert flags.shape == irow.shape == (0,) and ints.shape == (0, 19) and aa_off.tolist() == [0]
    assert len(aa_ref) == 0


@pytest.mark.parametrize("use_jit", TWINS)
def test_translate_matches_codon_table(use_jit):
    k = load("consequence", use_jit)
    codons = list(CODE)
    seq = np.frombuffer("".join(codons).encode(), dtype=np.uint8)
    got = k.translate(seq, k.BASE_CODE, k.AA_CODE).tobytes().decode()
    assert got == "".join(CODE[c] for c in codons)
    assert k.translate(np.frombuffer(b"ANGTT", dtype=np.uint8), k.BASE_CODE, k.AA_CODE).tobytes() == b"X"


def test_hgvs_formatting_rules():
    from ccevariants import hgvs as H

    assert H.c_position(4, 10, 100, True) == "-6"
    assert H.c_position(10, 10, 100, True) == "1"
    assert H.c_position(100, 10, 100, True) == "*1"
    assert H.c_position(4, 0, 0, False) == "5"
    assert H.hgvsp({"missense_variant"}, 600, "V", "E", -1, -1) == "p.Val600Glu"
    assert H.hgvsp({"stop_gained"}, 213, "R", "*", -1, -1) == "p.Arg213Ter"
    assert H.hgvsp({"frameshift_variant"}, 747, "L", "S", 13, -1) == "p.Leu747SerfsTer13"
    assert H.hgvsp({"frameshift_variant"}, 747, "L", "S", -1, -1) == "p.Leu747SerfsTer?"
    assert H.hgvsp({"stop_lost"}, 110, "*", "Q", -1, 17) == "p.Ter110GlnextTer17"
    assert H.hgvsp({"start_lost"}, 1, "M", "V", -1, -1) == "p.Met1?"
    assert H.hgvsp({"inframe_deletion"}, 746, "ELREA", "", -1, -1) == "p.Glu746_Ala750del"
    assert H.hgvsp({"inframe_deletion"}, 747, "LREAT", "P", -1, -1) == "p.Leu747_Thr751delinsPro"
    assert H.hgvsp({"synonymous_variant"}, 858, "", "", -1, -1, before_aa="L") == "p.Leu858="
    assert H.short_p("p.Glu746_Ala750del") == "p.E746_A750del"
    assert H.short_p("p.Leu747SerfsTer13") == "p.L747Sfs*13"
    assert H.short_p("p.Ter110GlnextTer17") == "p.*110Qext*17"
    assert H.codons("CCCTGAAA", 2, 5, 3, 4, "G") == "cTg/cGg"


@pytest.mark.parametrize("strand", ["+", "-"])
def test_intronic_hgvs_offsets_follow_the_midpoint_rule(tmp_path, strand):
    """HGVS: intronic positions are numbered from the nearer exon; the middle base of an odd-length
    intron is written from the upstream exon ('+')."""
    from ccevariants.hgvs import TranscriptCoords

    # exons [30, 60) and [81, 110): intron of 21 bases [60, 81), middle base 70
    gff = [
        "##gff-version 3",
        f"c\t.\tgene\t31\t110\t.\t{strand}\t.\tID=gene:G;Name=G",
        f"c\t.\tmRNA\t31\t110\t.\t{strand}\t.\tID=transcript:T;Parent=gene:G",
        f"c\t.\texon\t31\t60\t.\t{strand}\t.\tParent=transcript:T",
        f"c\t.\texon\t82\t110\t.\t{strand}\t.\tParent=transcript:T",
        f"c\t.\tCDS\t31\t60\t.\t{strand}\t0\tParent=transcript:T",
        f"c\t.\tCDS\t82\t110\t.\t{strand}\t{0 if strand == '+' else 2}\tParent=transcript:T",
    ]
    (tmp_path / "g.gff3").write_text("\n".join(gff) + "\n")
    coords = TranscriptCoords(load_annotation(tmp_path / "g.gff3", use_cache=False), 0)
    if strand == "+":
        assert [coords.position(g) for g in (60, 69, 70, 71, 80)] == [
            "30+1",
            "30+10",
            "30+11",
            "31-10",
            "31-1",
        ]
    else:
        # transcript runs right to left: exon 1 = [81, 110) is c.1..29, exon 2 = [30, 60) is c.30..59
        assert [coords.position(g) for g in (80, 71, 70, 69, 60)] == [
            "29+1",
            "29+10",
            "29+11",
            "30-10",
            "30-1",
        ]


@settings(deadline=None, max_examples=40)
@given(data=st.data())
def test_hgvs_positions_binary_search_matches_linear_scan(data):
    """TranscriptCoords' bisect lookups (g2c, nearest exon edge) equal the exhaustive scans."""
    from ccevariants.hgvs import TranscriptCoords

    n_ex = data.draw(st.integers(1, 6))
    strand = data.draw(st.sampled_from("+-"))
    pos = 20
    exons = []
    for _ in range(n_ex):
        length = data.draw(st.integers(1, 12))
        exons.append((pos, pos + length))
        pos += length + data.draw(st.integers(1, 9))
    gff = [
        "##gff-version 3",
        f"c\t.\tgene\t{exons[0][0] + 1}\t{exons[-1][1]}\t.\t{strand}\t.\tID=gene:G;Name=G;biotype=lncRNA",
        f"c\t.\ttranscript\t{exons[0][0] + 1}\t{exons[-1][1]}\t.\t{strand}\t.\tID=transcript:T;Parent=gene:G;"
        "biotype=lncRNA",
    ] + [f"c\t.\texon\t{s + 1}\t{e}\t.\t{strand}\t.\tParent=transcript:T" for s, e in exons]
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "g.gff3").write_text("\n".join(gff) + "\n")
        idx = load_annotation(Path(d) / "g.gff3", use_cache=False)
    fast = TranscriptCoords(idx, 0)
    slow = TranscriptCoords(idx, 0)
    slow._sorted = False
    assert fast._sorted
    # oracle for g2c: the exonic bases listed in transcript order
    bases = [g for s, e in exons for g in range(s, e)]
    if strand == "-":
        bases = bases[::-1]
    for g in range(exons[0][0] - 15, exons[-1][1] + 15):
        want = bases.index(g) if g in bases else -1
        assert fast.g2c(g) == slow.g2c(g) == want
        assert fast.position(g) == slow.position(g)


@pytest.mark.parametrize("use_jit", TWINS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_row_layout_matches_a_direct_construction(use_jit, data):
    """``row_layout``: one row per (allele, transcript) pair, one for an allele without any; PICK is
    the lowest rank per allele (up/downstream-only rows after the others; the first on ties)."""
    k = load("overlap", use_jit)
    n = data.draw(st.integers(0, 8))
    n_tx = data.draw(st.integers(1, 6))
    pairs = sorted(
        data.draw(st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, n_tx - 1)), max_size=20))
        if n
        else []
    )
    p_var = np.array([v for v, _ in pairs], dtype=np.int64)
    p_tx = np.array([t for _, t in pairs], dtype=np.int64)
    up, down = 1 << 20, 1 << 21
    p_flags = np.array(
        [data.draw(st.sampled_from([0, 1, 6, up, down, up | 4])) for _ in pairs], dtype=np.int64
    )
    # number rows for some pairs only (the others: up/downstream), in another order than the pairs
    has = [data.draw(st.booleans()) for _ in pairs]
    p_irow = np.full(len(pairs), -1, dtype=np.int64)
    p_irow[np.flatnonzero(has)] = np.arange(sum(has))[::-1]
    p_ints = np.array(
        [[data.draw(st.integers(-1, 9)) for _ in range(19)] for _ in range(sum(has))], dtype=np.int64
    ).reshape(sum(has), 19)
    t_strand = np.array([data.draw(st.sampled_from([1, -1])) for _ in range(n_tx)], dtype=np.int64)
    t_coding = np.array([data.draw(st.integers(0, 1)) for _ in range(n_tx)], dtype=np.int64)
    t_mane = np.array([data.draw(st.booleans()) for _ in range(n_tx)])
    t_canon = np.array([data.draw(st.booleans()) for _ in range(n_tx)])
    t_rank = np.array([data.draw(st.integers(0, 3)) for _ in range(n_tx)], dtype=np.int64)  # ties
    got = k.row_layout(
        p_var, p_tx, p_flags, p_ints, p_irow, n, t_strand, t_coding, t_mane, t_canon, t_rank, up | down
    )
    rows = []
    for i in range(n):
        mine = [j for j, (v, _) in enumerate(pairs) if v == i]
        if not mine:
            rows.append((i, -1, -1, 0, False, 0, -1, -1, -1, False, False, 0))
        for j in mine:
            tx, fl = pairs[j][1], int(p_flags[j])
            only = fl != 0 and fl & ~(up | down) == 0
            nums = p_ints[p_irow[j]] if p_irow[j] >= 0 else np.full(19, -1)
            rows.append((
                i, j, tx, fl, only, t_strand[tx], fl * 2 + t_coding[tx],
                nums[6] if nums[6] > 0 else -1, nums[8] if nums[8] > 0 else -1,
                bool(t_mane[tx]), bool(t_canon[tx]), t_rank[tx] + (n_tx + 1 if only else 0),
            ))  # fmt: skip
    want_pick = [False] * len(rows)
    for i in range(n):
        idx = [r for r, row in enumerate(rows) if row[0] == i]
        want_pick[min(idx, key=lambda r: (rows[r][11], r))] = True
    names = (
        "row_var",
        "pair",
        "t",
        "f",
        "flank",
        "strand",
        "key",
        "cds_pos",
        "prot_pos",
        "mane",
        "canonical",
    )
    for c, name in enumerate(names):
        assert [int(x) for x in got[c]] == [int(row[c]) for row in rows], name
    assert got[11].tolist() == want_pick


def test_per_row_helpers_are_compiled_without_reference_counting():
    """The functions the consequence and formatting kernels call per row are compiled with
    ``_numba.helper`` (no NRT). Why: a compiled function that passes its array arguments on to
    another keeps an atomic increment and decrement of each array's count per call, which Numba's
    pruning does not remove once there are branches — without NRT there are none."""
    import re

    from ccevariants import _numba
    from ccevariants.kernels import load

    kf, kc = load("format"), load("consequence")
    for mod, names in (
        (kf, ("_put_int", "_put_position", "_tx_geometry", "_finish_row", "_copy_escaped", "_put_hgvsp_any")),
        (kf, ("_exon_at_or_before", "_g2c_sorted", "_feature_bounds")),
        (kc, ("translate_codon", "_alt_codon", "_alt_base", "_g2c")),
    ):
        for name in names:
            assert getattr(mod, name).targetoptions.get("_nrt") is False, name

    # the formatting kernel's transcript geometry (the Python twin, compiled here): it passes the
    # exon arrays on to _g2c_sorted twice, behind a branch
    twin = load("format", jit=False)
    geo = twin._tx_geometry
    t_off, t_n = np.array([0], dtype=np.int64), np.array([2], dtype=np.int64)
    cds_s, cds_e = np.array([12], dtype=np.int64), np.array([45], dtype=np.int64)
    ex_s, ex_e = np.array([10, 40], dtype=np.int64), np.array([20, 50], dtype=np.int64)
    ex_cum = twin.exon_cum(t_off, t_n, ex_s, ex_e)
    assert ex_cum.tolist() == [0, 10]
    args = (0, t_off, t_n, cds_s, cds_e, ex_s, ex_e, ex_cum, 1)

    def increfs(**options):
        g = dict(geo.__globals__)
        g2c = twin._g2c_sorted
        g2c_globals = {
            **g2c.__globals__,
            "_exon_at_or_before": _numba.jit(twin._exon_at_or_before, cache=False),
        }
        g2c = type(g2c)(g2c.__code__, g2c_globals, "g2c")
        g["_g2c_sorted"] = _numba.jit(g2c, cache=False, **options)
        fn = _numba.jit(type(geo)(geo.__code__, g, "geo"), cache=False, **options)
        assert fn(*args) == geo(*args) == (0, 2, 20, True, 2, 15)
        return len(re.findall(r"call void @NRT_incref", fn.inspect_llvm(fn.signatures[0])))

    assert increfs() > 0 and increfs(_nrt=False) == 0


@pytest.mark.parametrize("compiled", [True, False])
def test_copy_bytes_copies_spans_and_refuses_spans_outside_the_arrays(compiled):
    """``_numba.copy_bytes`` (the kernels' memcpy) and its Python twin: the bytes of the span land at
    the offset, nothing else changes, and a span reaching outside either array (or negative) raises
    IndexError instead of writing past the buffer; ``copy_string`` copies one value of a string
    column the same way."""
    from ccevariants.kernels import copier

    copy = copier("m" if compiled else "m_py")
    src = np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)  # (read-only, as the kernels' inputs)
    dst = np.zeros(8, dtype=np.uint8)
    copy(dst, 2, src, 3, 4)
    assert dst.tobytes() == b"\0\0TNac\0\0"
    copy(dst, 8, src, 10, 0)  # empty spans at the ends are fine
    for k, a, n in ((5, 0, 4), (0, 7, 4), (-1, 0, 1), (0, -1, 1), (0, 0, -1)):
        with pytest.raises(IndexError, match="outside the array"):
            copy(dst, k, src, a, n)
    assert dst.tobytes() == b"\0\0TNac\0\0"
    # copy_string: value v of a string column (offsets, bytes) to dst[k:], returning the new end
    from ccevariants.kernels import string_copier

    put = string_copier("m" if compiled else "m_py")
    off = np.array([0, 3, 3, 10], dtype=np.int64)  # "ACG", "", "TNacgtn"
    out = np.zeros(12, dtype=np.uint8)
    assert put(out, 1, off, src, 2) == 8 and put(out, 8, off, src, 1) == 8 and put(out, 8, off, src, 0) == 11
    assert out.tobytes() == b"\0TNacgtnACG\0"
    with pytest.raises(IndexError, match="outside the array"):
        put(out, 6, off, src, 2)  # 7 bytes from 6 run past the 12
    if compiled:  # memcpy counts bytes: anything but C-contiguous uint8 arrays does not compile
        from numba.core.errors import TypingError

        for a, b in ((np.zeros(4, np.int64), np.zeros(4, np.int64)), (dst[::2], src), (dst, src[::2])):
            with pytest.raises(TypingError):
                copy(a, 0, b, 0, 1)
