"""Simulated demo BAMs (ccevariants.demo_bam): layout, alignment validity, planted truth.

Every check reads the BAMs with pysam / samtools (independent of the simulator's own bookkeeping)
and compares with ``truth.json`` or with the reference sequence.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pysam
import pytest

from ccevariants import demo, demo_bam


@pytest.fixture(scope="module")
def demo7(tmp_path_factory):
    out = tmp_path_factory.mktemp("demobam") / "demo"
    truth = demo.write_demo(out, seed=7)
    return out, truth


@pytest.fixture(scope="module")
def fasta(demo7):
    with pysam.FastaFile(str(demo7[0] / "reference" / "genome.fa")) as fa:
        yield fa


def _bam_patients(truth):
    return {p: info["bam"] for p, info in truth["patients"].items() if info.get("bam")}


def test_layout_sheet_and_truth(demo7):
    out, truth = demo7
    bams = _bam_patients(truth)
    assert sorted(bams) == ["CCE-P02", "CCE-P03", "CCE-P05", "CCE-P06"]
    lines = (out / "samples.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = {r["patient"]: r for r in (dict(zip(header, x.split("\t"), strict=True)) for x in lines[1:])}
    for patient, row in rows.items():
        expected = f"bam/{patient}.tumor.bam" if patient in bams else ""
        assert row["bam"] == expected
    for patient, info in bams.items():
        assert info["tumor_bam"] == f"bam/{patient}.tumor.bam"
        assert (out / info["tumor_bam"]).is_file() and (out / (info["tumor_bam"] + ".bai")).is_file()
        paired = patient in ("CCE-P02", "CCE-P03")
        assert (info["normal_bam"] == f"bam/{patient}.normal.bam") is paired
        assert (out / f"bam/{patient}.normal.bam").exists() is paired
    assert bams["CCE-P03"]["msi_status"] == "msi_high" and bams["CCE-P02"]["msi_status"] == "mss"
    # the whole BAM set stays small (a few MB per file)
    sizes = [p.stat().st_size for p in (out / "bam").glob("*.bam")]
    assert len(sizes) == 6 and max(sizes) < 4_000_000
    assert "bam/panel.bed" in truth["files"]


def test_headers_sorted_and_labelled(demo7):
    out, truth = demo7
    for path in sorted((out / "bam").glob("*.bam")):
        assert subprocess.run(["samtools", "quickcheck", str(path)]).returncode == 0
        with pysam.AlignmentFile(str(path)) as bam:
            head = bam.header.to_dict()
            assert head["HD"]["SO"] == "coordinate"
            assert [sq["SN"] for sq in head["SQ"]] == list(truth["contigs"])
            assert [sq["LN"] for sq in head["SQ"]] == list(truth["contigs"].values())
            sample = path.name.split(".")[0] + ("-T" if ".tumor." in path.name else "-N")
            assert head["RG"][0]["SM"] == sample
            assert any("SYNTHETIC" in c for c in head["CO"])
            last = (-1, -1)
            for read in bam.fetch(until_eof=True):
                key = (read.reference_id, read.reference_start)
                assert key >= last
                last = key
        assert "@PG" not in pysam.view("-H", "--no-PG", str(path))


def test_reads_match_reference_except_planted_alleles(demo7, fasta):
    """Reads without edits (NM 0) equal the reference at every aligned base; every read is 2x100
    with MAPQ 60 and a CIGAR consistent with its sequence length."""
    out, _ = demo7
    checked = edited = 0
    with pysam.AlignmentFile(str(out / "bam" / "CCE-P03.tumor.bam")) as bam:
        for read in bam.fetch("chr12"):
            assert read.mapping_quality == 60
            assert read.infer_read_length() == 100
            if read.get_tag("NM") == 0:
                ref = fasta.fetch(read.reference_name, read.reference_start, read.reference_end)
                pairs = read.get_aligned_pairs(matches_only=True)
                assert all(read.query_sequence[q] == ref[r - read.reference_start] for q, r in pairs)
                checked += 1
            else:
                edited += 1
    assert checked > 1000 and edited > 0


def test_depth_matches_truth_per_exon(demo7):
    """samtools depth over every truth exon: mean within 15 % of the expected depth; dropout = 0."""
    out, truth = demo7
    for patient, info in _bam_patients(truth).items():
        bam = out / info["tumor_bam"]
        for locus in info["loci"]:
            region = f"{locus['chrom']}:{locus['start']}-{locus['end']}"
            text = pysam.samtools.depth("-a", "-r", region, str(bam))
            depth = np.array([int(x.split("\t")[2]) for x in text.splitlines()])
            assert depth.size == locus["end"] - locus["start"] + 1
            expected = locus["expected_depth_tumor"]
            if expected == 0:
                assert depth.max() == 0, (patient, locus)
            else:
                assert abs(depth.mean() - expected) <= 0.15 * expected, (patient, locus, depth.mean())
    p03 = truth["patients"]["CCE-P03"]["bam"]
    assert [(u["gene"], u["exon"]) for u in p03["uncovered"]] == [("KRAS", 3)]
    kras3 = next(x for x in p03["loci"] if x["gene"] == "KRAS" and x["exon"] == 3)
    assert kras3["covered"] is False
    p05 = truth["patients"]["CCE-P05"]["bam"]
    # ERBB2 CN 14 at purity 0.6: (0.6*14 + 0.4*2) / 2 = 4.6x the diploid depth
    assert p05["amplified"][0]["depth_factor"] == pytest.approx(4.6)
    erbb2 = [x for x in p05["loci"] if x["gene"] == "ERBB2"]
    assert erbb2 and all(x["expected_depth_tumor"] == pytest.approx(920.0) for x in erbb2)


def test_planted_variants_at_their_vafs(demo7):
    """Alt-allele fractions of every planted SNV inside the panel agree with truth (binomial 4 sd)."""
    out, truth = demo7
    n_checked = 0
    for patient, info in _bam_patients(truth).items():
        with pysam.AlignmentFile(str(out / info["tumor_bam"])) as bam:
            for rec in truth["patients"][patient]["records"]:
                norm = rec["normalized"]
                if len(norm["ref"]) != 1 or len(norm["alt"]) != 1:
                    continue
                counts = bam.count_coverage(norm["chrom"], norm["pos"] - 1, norm["pos"], quality_threshold=0)
                depth = sum(c[0] for c in counts)
                if depth == 0:
                    continue  # outside the panel
                alt = counts["ACGT".index(norm["alt"])][0]
                p = rec["t_alt"] / rec["t_dp"]
                sd = (p * (1 - p) / depth) ** 0.5
                assert abs(alt / depth - p) <= 4 * sd + 1e-9, (patient, norm, alt, depth, p)
                n_checked += 1
    assert n_checked >= 15  # KRAS G12D, TP53 R175H, BRAF V600E, PIK3CA H1047R and passengers
    drivers = {d["gene"] for p in ("CCE-P02", "CCE-P03", "CCE-P05") for d in truth["patients"][p]["drivers"]}
    assert {"KRAS", "BRAF", "PIK3CA"} <= drivers


def test_planted_indels_have_cigar_indels_at_their_vafs(demo7):
    """Each planted indel (left-aligned) appears as an I/D CIGAR operation right after its anchor
    base, with the inserted bases in the read, in a fraction of reads matching its VAF."""
    out, truth = demo7
    n_checked = 0
    for patient, info in _bam_patients(truth).items():
        with pysam.AlignmentFile(str(out / info["tumor_bam"])) as bam:
            for rec in truth["patients"][patient]["records"]:
                norm = rec["normalized"]
                ref_a, alt_a = norm["ref"], norm["alt"]
                if len(ref_a) == len(alt_a):
                    continue
                anchor0 = norm["pos"] - 1
                spanning = carrying = 0
                for read in bam.fetch(norm["chrom"], anchor0, anchor0 + len(ref_a)):
                    if read.reference_start >= anchor0 or read.reference_end <= anchor0 + len(ref_a):
                        continue
                    spanning += 1
                    pos, q = read.reference_start, 0
                    for op, n in read.cigartuples:
                        if pos == anchor0 + 1 and op == 1 and n == len(alt_a) - 1:
                            assert read.query_sequence[q : q + n] == alt_a[1:]
                            carrying += 1
                        if pos == anchor0 + 1 and op == 2 and n == len(ref_a) - 1:
                            carrying += 1
                        if op in (0, 2):
                            pos += n
                        if op in (0, 1, 4):
                            q += n
                if spanning < 20:
                    continue
                p = rec["t_alt"] / rec["t_dp"]
                sd = (p * (1 - p) / spanning) ** 0.5
                assert abs(carrying / spanning - p) <= 4 * sd, (patient, norm, carrying, spanning, p)
                n_checked += 1
    assert n_checked >= 1


def _indel_lengths_at(bam, chrom, start1, end1):
    """Repeat-length change per read fully spanning [start1, end1] (+ 2 bp flanks): list of ints."""
    changes = []
    for read in bam.fetch(chrom, start1 - 3, end1 + 2):
        if read.is_supplementary or read.reference_start > start1 - 3 or read.reference_end < end1 + 2:
            continue
        delta = 0
        pos = read.reference_start
        for op, n in read.cigartuples:
            if op == 2 and start1 - 2 <= pos <= end1:
                delta -= n
            if op == 1 and start1 - 2 <= pos <= end1:
                delta += n
            if op in (0, 2, 3, 7, 8):
                pos += n
        changes.append(delta)
    return changes


def test_msi_high_tumour_has_shifted_repeats_and_normal_none(demo7):
    out, truth = demo7
    info = truth["patients"]["CCE-P03"]["bam"]
    ms = info["microsatellites"]
    assert ms["total"] >= 40 and ms["unstable"] >= 20
    assert 0.4 <= ms["unstable_fraction"] <= 0.8
    tumour = pysam.AlignmentFile(str(out / info["tumor_bam"]))
    normal = pysam.AlignmentFile(str(out / info["normal_bam"]))
    shifted_unstable, shifted_stable, shifted_normal = [], [], []
    for site in ms["sites"]:
        unit = len(site["unit"])
        t = _indel_lengths_at(tumour, site["chrom"], site["start"], site["end"])
        n = _indel_lengths_at(normal, site["chrom"], site["start"], site["end"])
        assert all(d % unit == 0 for d in t + n)
        frac_t = np.mean([d != 0 for d in t])
        (shifted_unstable if site["unstable"] else shifted_stable).append(frac_t)
        shifted_normal.append(np.mean([d != 0 for d in n]))
    # unstable sites: ~45 % of spanning reads carry -1/-2/+1 units; stable sites and the normal: none
    assert 0.35 <= float(np.mean(shifted_unstable)) <= 0.55
    assert max(shifted_stable) == 0.0 and max(shifted_normal) == 0.0
    mss = truth["patients"]["CCE-P02"]["bam"]["microsatellites"]
    assert mss["unstable"] == 0 and mss["total"] >= 40
    tumour.close()
    normal.close()


def test_fusion_split_reads_and_discordant_pairs(demo7):
    out, truth = demo7
    fusion = truth["patients"]["CCE-P06"]["fusions"][0]
    expected = truth["patients"]["CCE-P06"]["bam"]["fusion_reads"][0]
    supplementary, discordant_names = [], set()
    with pysam.AlignmentFile(str(out / "bam" / "CCE-P06.tumor.bam")) as bam:
        for read in bam.fetch(until_eof=True):
            if read.is_supplementary:
                supplementary.append(read)
            elif read.is_paired and not read.is_proper_pair and read.is_read1:
                discordant_names.add(read.query_name)
    assert len(supplementary) == expected["split_fragments"] == 18
    assert len(discordant_names) == expected["split_fragments"] + expected["spanning_pairs"]
    # each split read: one part ends exactly at the EML4 breakpoint, the other at the ALK breakpoint
    # (EML4 + strand keeps bases <= pos5; ALK - strand keeps bases <= pos3)
    for supp in supplementary:
        sa = supp.get_tag("SA").split(",")
        ends = sorted([supp.reference_end, int(sa[1]) - 1 + _ref_len(sa[3])])
        assert ends == sorted([fusion["pos5"], fusion["pos3"]])


def _ref_len(cigar: str) -> int:
    import re

    return sum(int(n) for n, op in re.findall(r"(\d+)([MDN=X])", cigar))


# ---------------------------------------------------------------------------------------------
# the alignment helpers on hand-made cases
# ---------------------------------------------------------------------------------------------
SEQ = "ACGTACGTTTTTTGCAGCATCGATCGGATCCA" * 4


def test_molecule_and_slice_with_deletion_insertion_snv():
    # deletion of one T after the anchor at 0-based 7 (T), SNV at 20, insertion after 25
    edits = [(7, "TT", "T"), (20, "C", "G"), (25, "G", "GAA")]
    assert SEQ[7:9] == "TT" and SEQ[20] == "C" and SEQ[25] == "G"
    mol, ops = demo_bam._molecule(SEQ, 0, 40, edits)
    assert mol == (SEQ[:8] + SEQ[9:20] + "G" + SEQ[21:26] + "AA" + SEQ[26:])[:40]
    assert ops[:4] == [("M", 7), ("M", 1), ("D", 1), ("M", 11)]
    start, cigar, nm = demo_bam._slice(ops, 0, 0, 40)
    assert (start, cigar, nm) == (0, "8M1D17M2I13M", 1 + 1 + 2)
    # a read starting after the deletion and ending inside the insertion: soft clip at the end
    start, cigar, nm = demo_bam._slice(ops, 0, 10, 27)
    assert (start, cigar, nm) == (11, "15M2S", 1)
    # a read starting inside the insertion: soft clip at the start
    start, cigar, nm = demo_bam._slice(ops, 0, 26, 36)
    assert (start, cigar, nm) == (26, "1S9M", 0)


def test_simulation_is_deterministic_and_flat():
    ref = "".join(np.random.default_rng(1).choice(list("ACGT"), 6000))
    sample = demo_bam.Sample("S", "S.1", {"c1": [(2000, 3000)]}, depth=100)
    a = demo_bam.simulate(sample, {"c1": ref}, ("c1",), np.random.default_rng(5))
    b = demo_bam.simulate(sample, {"c1": ref}, ("c1",), np.random.default_rng(5))
    assert a == b
    depth = np.zeros(6000, dtype=int)
    for line in a:
        f = line.split("\t")
        pos = int(f[3]) - 1
        depth[pos : pos + 100] += 1
    assert abs(depth[2000:3000].mean() - 100) < 10
    assert depth[2000:3000].min() > 60
    # a dropout interval receives no read at all
    sample.dropout = [("c1", 2400, 2600)]
    c = demo_bam.simulate(sample, {"c1": ref}, ("c1",), np.random.default_rng(5))
    for line in c:
        pos = int(line.split("\t")[3]) - 1
        assert pos + 100 <= 2400 or pos >= 2600


def test_microsatellite_finder():
    seq = "GC" + "AAAAAA" + "GT" + "CACACA" + "TG" + "AAAA" + "G" + "ATATAT" + "C"
    found = demo_bam.microsatellites(seq, 0, len(seq))
    assert found == [(2, 8, "A"), (10, 16, "CA"), (23, 29, "AT")]


def test_truth_json_is_json_serialisable(demo7):
    out, _ = demo7
    doc = json.loads((out / "truth.json").read_text())
    assert doc["patients"]["CCE-P03"]["bam"]["depth"] == demo_bam.DEPTH


@pytest.mark.parametrize("left5", [True, False])
@pytest.mark.parametrize("left3", [True, False])
def test_fusion_reads_every_breakend_orientation(left5, left3):
    """For each of the four breakend orientations, every aligned part of every fusion read equals the
    reference at its position, and split-read parts end (kept-left side) or start (kept-right side)
    exactly at the breakpoint."""
    import re

    rng = np.random.default_rng(9)
    seqs = {c: "".join(rng.choice(list("ACGT"), 5000)) for c in ("cA", "cB")}
    j = demo_bam.Junction("cA", 2500, left5, "cB", 2000, left3, split_fragments=12, spanning_pairs=8)
    sample = demo_bam.Sample("S", "S.1", {}, sites=[], junctions=[j])
    lines = demo_bam.simulate(sample, seqs, ("cA", "cB"), np.random.default_rng(4))
    assert len(lines) == 12 * 3 + 8 * 2  # split fragments: primary + supplementary + mate
    n_split_parts = 0
    for line in lines:
        f = line.split("\t")
        flag, chrom, pos0, cigar, seq = int(f[1]), f[2], int(f[3]) - 1, f[5], f[9]
        ops = re.findall(r"(\d+)([MSH])", cigar)
        q, r = 0, pos0
        for n, op in ops:
            n = int(n)
            if op == "M":
                assert seq[q : q + n] == seqs[chrom][r : r + n], line
                q += n
                r += n
            elif op == "S":
                q += n
        assert q == len(seq)
        if "SA:Z:" in line:
            n_split_parts += 1
            bp, keep_left = (j.pos5, left5) if chrom == "cA" else (j.pos3, left3)
            if keep_left:
                assert r == bp  # aligned end (0-based exclusive) == 1-based breakpoint
            else:
                assert pos0 == bp - 1
            assert flag & 1 and not flag & 2
    assert n_split_parts == 24
