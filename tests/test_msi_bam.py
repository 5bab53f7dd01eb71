"""BAM-based MSI: statistics, the read-length kernel, paired and tumour-only scoring, baseline, errors.

Every BAM is simulated here, in ``tmp_path``, with pysam: a synthetic reference with planted
microsatellites separated by repeat-free sequence, and single-end 100 bp reads whose CIGAR carries
known repeat-length changes (a deletion or insertion of whole units at the tract start, as an aligner
left-aligns them). Coordinates in this file: 0-based half-open unless a name says ``pos`` (1-based).
"""

from __future__ import annotations

import json

import numpy as np
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.biomarkers import msi as msi_mod
from ccevariants.biomarkers._microsat import encode, scan, select_sites, span_lengths
from ccevariants.errors import ConfigError, InputError, ReferenceMismatchError

READ_LEN = 100
UNITS = ["A", "T", "CA", "GT", "CAG", "ATGC", "C", "AG"]
COPIES = {1: 12, 2: 8, 3: 6, 4: 5}


# ---- simulation ------------------------------------------------------------------------------


def background(rng: np.random.Generator, n: int) -> str:
    """Repeat-poor sequence: no base equals either of the two before it (no homopolymer or
    dinucleotide run can form)."""
    out: list[str] = []
    for _ in range(n):
        banned = set(out[-2:])
        choices = [b for b in "ACGT" if b not in banned]
        out.append(choices[int(rng.integers(len(choices)))])
    return "".join(out)


def make_reference(tmp_path, n_sites: int, seed: int = 1, contig: str = "chr1", gap: int = 140):
    """FASTA with ``n_sites`` planted tracts; returns (path, sequence, [(start, end, unit)]).

    Each gap is redrawn until the permissive scanner finds exactly the planted tracts around it
    (no accidental repeat in the gap, no tract extended by its flank)."""
    rng = np.random.default_rng(seed)
    tracts = [UNITS[i % len(UNITS)] * COPIES[len(UNITS[i % len(UNITS)])] for i in range(n_sites)]
    parts: list[str] = []
    sites = []
    pos = 0
    for i in range(n_sites + 1):
        before = tracts[i - 1] if i else ""
        after = tracts[i] if i < n_sites else ""
        while True:
            chunk = background(rng, gap)
            s, e, _u = scan(encode(before + chunk + after))
            want = ([(0, len(before))] if before else []) + (
                [(len(before) + gap, len(before) + gap + len(after))] if after else []
            )
            if list(zip(s.tolist(), e.tolist(), strict=True)) == want:
                break
        parts.append(chunk)
        pos += gap
        if after:
            unit = UNITS[i % len(UNITS)]
            sites.append((pos, pos + len(after), unit))
            parts.append(after)
            pos += len(after)
    seq = "".join(parts)
    path = tmp_path / "ref.fa"
    path.write_text(f">{contig}\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    pysam.faidx(str(path))
    return path, seq, sites


def simulate_reads(seq, sites, shifts, depth=30, seed=2, contig_index=0, qual=30):
    """Reads over every site; ``shifts[i]`` = list of (fraction, delta_units) alleles for site i
    (the rest of the reads carry the reference length). Returns aligned-segment field tuples."""
    rng = np.random.default_rng(seed)
    reads = []
    for i, (s, e, unit) in enumerate(sites):
        k = len(unit)
        alleles = shifts.get(i, [])
        for r in range(depth):
            u = (r + 0.5) / depth
            delta = 0
            acc = 0.0
            for fraction, d in alleles:
                acc += fraction
                if u < acc:
                    delta = d
                    break
            ins = unit * delta if delta > 0 else ""
            dele = -delta * k if delta < 0 else 0
            # start so that at least 10 bp of flank are read on both sides
            span = (e - s) + 20 + max(len(ins) - dele, 0)
            lo = e + 10 - READ_LEN + max(len(ins) - dele, 0)
            lo = max(lo, 0)
            hi = s - 10
            rs = int(rng.integers(lo, hi + 1)) if hi >= lo else lo
            assert span <= READ_LEN
            left = s - rs
            hap = seq[rs:s] + ins + seq[s + dele :]
            query = hap[:READ_LEN]
            cigar = [(0, left)]
            if ins:
                cigar.append((1, len(ins)))
            if dele:
                cigar.append((2, dele))
            cigar.append((0, READ_LEN - left - len(ins)))
            reads.append((f"s{i}r{r}", contig_index, rs, cigar, query, qual))
    return reads


def write_bam(path, reads, contigs, index=True, mapq=60, fmt="wb", reference=None, flag=0, quals=True):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": n, "LN": ln} for n, ln in contigs]}
    kwargs = {"reference_filename": str(reference)} if reference is not None else {}
    with pysam.AlignmentFile(str(path), fmt, header=header, **kwargs) as out:
        for name, tid, start, cigar, query, qual in sorted(reads, key=lambda r: (r[1], r[2])):
            seg = pysam.AlignedSegment(out.header)
            seg.query_name = name
            seg.flag = flag
            seg.reference_id = tid
            seg.reference_start = start
            seg.mapping_quality = mapq
            seg.cigartuples = cigar
            seg.query_sequence = query
            if quals:
                seg.query_qualities = pysam.qualitystring_to_array(chr(qual + 33) * len(query))
            out.write(seg)
    if index:
        pysam.index(str(path))
    return path


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("msi")
    path, seq, sites = make_reference(tmp, 60)
    return tmp, path, seq, sites


def bam_for(genome, name, shifts, depth=30, seed=2):
    tmp, path, seq, sites = genome
    out = tmp / f"{name}.bam"
    if not out.exists():
        write_bam(out, simulate_reads(seq, sites, shifts, depth=depth, seed=seed), [("chr1", len(seq))])
    return out


# half of the sites lose one repeat unit in half of the tumour reads (a clonal MSI-H tumour at 100 %
# purity is heterozygous for the slippage at the unstable sites)
MSI_SHIFTS = {i: [(0.5, -1)] for i in range(0, 60, 2)}
# a germline heterozygous length polymorphism present in tumour and normal alike
GERMLINE = {5: [(0.5, 1)], 17: [(0.5, -1)]}


# ---- statistics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "df", "p"),
    # 5 % critical values of the chi-square distribution (standard tables)
    [
        (3.841, 1, 0.05),
        (5.991, 2, 0.05),
        (7.815, 3, 0.05),
        (9.488, 4, 0.05),
        (11.070, 5, 0.05),
        (6.635, 1, 0.01),
        (15.086, 5, 0.01),
        (0.0, 3, 1.0),
    ],
)
def test_chi2_sf_matches_tables(x, df, p):
    assert msi_mod.chi2_sf(x, df) == pytest.approx(p, abs=2e-5)


def test_pearson_chi2_and_bh():
    # [[30, 0], [15, 15]]: expected 22.5 / 7.5 per row → (7.5²/22.5 + 7.5²/7.5) × 2 = 20
    stat, df = msi_mod.pearson_chi2(np.array([10]), np.array([30]), np.array([9, 10]), np.array([15, 15]))
    assert (stat, df) == (pytest.approx(20.0), 1)
    assert msi_mod.pearson_chi2(np.array([10]), np.array([5]), np.array([10]), np.array([9])) == (0.0, 0)
    q = msi_mod.bh_adjust(np.array([0.01, 0.04, 0.03, 0.2]))
    assert q == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert msi_mod.bh_adjust(np.array([])).size == 0


def test_count_peaks():
    assert msi_mod.count_peaks(np.array([100, 5, 4, 1]), 0.05, 2) == 2  # 5 >= 5 % of 100; 4 is not
    assert msi_mod.count_peaks(np.array([20, 1]), 0.05, 2) == 1  # one read is not a peak
    assert msi_mod.count_peaks(np.array([10, 10, 3]), 0.05, 2) == 3
    assert msi_mod.count_peaks(np.array([], dtype=int), 0.05, 2) == 0


# ---- site selection --------------------------------------------------------------------------


@pytest.mark.parametrize("use_jit", [False, True])
def test_select_sites(use_jit):
    flank = "GCTAGCTG"
    seq = flank + "A" * 6 + flank + "AAAAA" + flank + "CA" * 5 + flank + "CA" * 4 + flank
    s, e, u = select_sites(encode(seq), use_jit=use_jit)
    assert list(zip(s.tolist(), e.tolist(), u.tolist(), strict=True)) == [
        (8, 14, 1),
        (22, 27, 1),
        (35, 45, 2),
    ]
    # a tract with an N in its flank, one too close to another tract, one too long
    seq2 = "GCTN" + "T" * 8 + "GCTAGCTG" + "G" * 7 + "CAT" + "CA" * 6 + "GTCGAT" + "A" * 60 + "GCTAGC"
    s, e, u = select_sites(encode(seq2), use_jit=use_jit)
    assert s.size == 0
    assert select_sites(encode(""), use_jit=use_jit)[0].size == 0


def test_scan_sites_finds_the_planted_tracts(genome):
    _tmp, path, _seq, sites = genome
    found = msi_mod.scan_sites(path)
    assert list(zip(found.start.tolist(), found.end.tolist(), found.unit.tolist(), strict=True)) == sites
    from ccevariants.biomarkers._regions import from_arrays

    # regions: sites whose start lies in [s, e); harmonised contig name
    part = msi_mod.scan_sites(path, from_arrays(["1"], [sites[3][0]], [sites[6][0] + 1]))
    assert part.start.tolist() == [sites[3][0], sites[4][0], sites[5][0], sites[6][0]]


# ---- read-length kernel ----------------------------------------------------------------------


def _oracle_lengths(seg, s, e, flank):
    """Repeat length from pysam's own aligned pairs (independent of the kernel's CIGAR walk)."""
    pairs = {r: q for q, r in seg.get_aligned_pairs(matches_only=True)}
    left = [pairs.get(r) for r in range(s - flank, s)]
    right = [pairs.get(r) for r in range(e, e + flank)]
    if None in left or None in right:
        return None
    if any(b - a != 1 for a, b in zip(left, left[1:], strict=False)):
        return None
    if any(b - a != 1 for a, b in zip(right, right[1:], strict=False)):
        return None
    return right[0] - left[-1] - 1


@settings(deadline=None, max_examples=150)
@given(
    st.integers(0, 40),
    st.lists(st.tuples(st.sampled_from([0, 1, 2, 4, 7, 8]), st.integers(1, 12)), min_size=1, max_size=8),
    st.integers(1, 4),
)
def test_span_lengths_matches_pysam_oracle(read_start, cigar, flank):
    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "c", "LN": 1000}]})
    seg = pysam.AlignedSegment(header)
    seg.reference_id = 0
    seg.reference_start = read_start
    seg.cigartuples = cigar
    qlen = sum(n for op, n in cigar if op in (0, 1, 4, 7, 8))
    seg.query_sequence = "A" * qlen
    sites = [(s, s + w) for s, w in ((10, 6), (25, 3), (40, 8), (60, 4))]
    want = []
    ref_end = seg.reference_end or read_start
    for j, (s, e) in enumerate(sites):
        if s - flank >= read_start and e + flank <= ref_end:
            length = _oracle_lengths(seg, s, e, flank)
            if length is not None:
                want.append((j, length))
    ops = np.array([op for op, _ in cigar], dtype=np.uint8)
    lens = np.array([n for _, n in cigar], dtype=np.int64)
    for use_jit in (False, True):
        idx, length = span_lengths(
            np.array([s for s, _ in sites]),
            np.array([e for _, e in sites]),
            np.array([read_start]),
            np.array([0, len(cigar)]),
            ops,
            lens,
            np.array([0, qlen]),
            np.full(qlen, 30, dtype=np.uint8),
            flank=flank,
            min_mean_bq=20,
            use_jit=use_jit,
        )
        assert list(zip(idx.tolist(), length.tolist(), strict=True)) == want


def test_span_lengths_quality_filter_and_empty():
    # one read 0..30M over a site [10, 16): mean quality over [7, 19) decides
    quals = np.full(30, 30, dtype=np.uint8)
    quals[8:12] = 5  # mean over 12 bases = (8*30 + 4*5)/12 = 21.7
    args = (
        np.array([10]),
        np.array([16]),
        np.array([0]),
        np.array([0, 1]),
        np.array([0], np.uint8),
        np.array([30]),
        np.array([0, 30]),
        quals,
    )
    for use_jit in (False, True):
        assert span_lengths(*args, flank=3, min_mean_bq=21, use_jit=use_jit)[1].tolist() == [6]
        assert span_lengths(*args, flank=3, min_mean_bq=22, use_jit=use_jit)[1].size == 0
        empty = span_lengths(
            np.zeros(0),
            np.zeros(0),
            np.zeros(0),
            np.array([0]),
            np.zeros(0, np.uint8),
            np.zeros(0),
            np.array([0]),
            np.zeros(0, np.uint8),
            use_jit=use_jit,
        )
        assert empty[0].size == 0


def test_site_distributions_from_bam(genome):
    _tmp, path, _seq, sites = genome
    bam = bam_for(genome, "tumor_msi", MSI_SHIFTS)
    found = msi_mod.scan_sites(path)
    dist = msi_mod.site_distributions(bam, found, reference=path)
    assert dist.reads.tolist() == [30] * 60
    lengths, counts = dist.of(0)  # unit A × 12, half the reads one A shorter
    assert lengths.tolist() == [11, 12] and counts.tolist() == [15, 15]
    lengths, counts = dist.of(2)  # CA × 8
    assert lengths.tolist() == [14, 16] and counts.tolist() == [15, 15]
    lengths, counts = dist.of(1)  # stable T × 12
    assert lengths.tolist() == [12] and counts.tolist() == [30]
    # reads below the MAPQ floor are not counted
    low = write_bam(
        genome[0] / "lowmq.bam", simulate_reads(genome[2], sites, {}), [("chr1", len(genome[2]))], mapq=10
    )
    assert msi_mod.site_distributions(low, found, reference=path).reads.sum() == 0
    # duplicates, secondary, supplementary and QC-fail reads are not counted
    for flag in (0x400, 0x100, 0x800, 0x200):
        excluded = write_bam(
            genome[0] / f"flag{flag}.bam",
            simulate_reads(genome[2], sites, {}),
            [("chr1", len(genome[2]))],
            flag=flag,
        )
        assert msi_mod.site_distributions(excluded, found, reference=path).reads.sum() == 0
    # low base quality: excluded; no stored qualities ('*'): not filtered
    poor = write_bam(
        genome[0] / "q10.bam", simulate_reads(genome[2], sites, {}, qual=10), [("chr1", len(genome[2]))]
    )
    assert msi_mod.site_distributions(poor, found, reference=path).reads.sum() == 0
    bare = write_bam(
        genome[0] / "noq.bam", simulate_reads(genome[2], sites, {}), [("chr1", len(genome[2]))], quals=False
    )
    assert msi_mod.site_distributions(bare, found, reference=path).reads.tolist() == [30] * 60


# ---- paired scoring --------------------------------------------------------------------------


def test_paired_msi_high(genome):
    _tmp, path, _seq, _sites = genome
    tumor = bam_for(genome, "tumor_msi", MSI_SHIFTS)
    normal = bam_for(genome, "normal", {}, seed=3)
    result = msi_mod.compute_msi_bam(tumor, normal_bam=normal, reference=path)
    assert result["status"] == "msi_high"
    assert result["sites"] == 60 and result["unstable_sites"] == 30 and result["score"] == 50.0
    assert result["mode"] == "paired" and result["validated"] is False
    first = result["unstable"][0]
    assert first["tumor_modal_length"] in (first["ref_length"], first["ref_length"] - len(first["unit"]))
    assert {u["pos"] - 1 for u in result["unstable"]} == {_sites[i][0] for i in MSI_SHIFTS}


def test_paired_mss_with_germline_polymorphisms(genome):
    _tmp, path, _seq, _sites = genome
    tumor = bam_for(genome, "tumor_mss", GERMLINE, seed=4)
    normal = bam_for(genome, "normal_germline", GERMLINE, seed=5)
    result = msi_mod.compute_msi_bam(tumor, normal_bam=normal, reference=path)
    assert result["status"] == "mss" and result["score"] == 0.0 and result["sites"] == 60


def test_paired_indeterminate_and_too_few_sites(genome):
    _tmp, path, _seq, _sites = genome
    # 3 of 60 sites unstable = 5 %: between the MSS (< 3 %) and MSI-H (>= 10 %) cut-offs
    tumor = bam_for(genome, "tumor_three", {0: [(0.5, -1)], 10: [(0.5, -1)], 20: [(0.5, 1)]}, seed=6)
    normal = bam_for(genome, "normal", {}, seed=3)
    result = msi_mod.compute_msi_bam(tumor, normal_bam=normal, reference=path)
    assert (result["status"], result["interpretation"], result["score"]) == (
        "not_assessable",
        "indeterminate",
        5.0,
    )
    # too few evaluable sites: depth 15 < 20 reads everywhere
    shallow = bam_for(genome, "tumor_shallow", MSI_SHIFTS, depth=15, seed=7)
    result = msi_mod.compute_msi_bam(shallow, normal_bam=normal, reference=path)
    assert (result["status"], result["sites"], result["score"]) == ("not_assessable", 0, None)
    # enough reads but a site set below min_sites
    strict = msi_mod.MsiParams(min_sites=61)
    result = msi_mod.compute_msi_bam(
        bam_for(genome, "tumor_msi", MSI_SHIFTS), normal_bam=normal, reference=path, params=strict
    )
    assert (result["status"], result["interpretation"], result["score"]) == (
        "not_assessable",
        "too_few_sites",
        50.0,
    )


# ---- baseline and tumour-only ----------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline(genome):
    tmp, path, seq, sites = genome
    normals = [bam_for(genome, f"pon{i}", {}, seed=10 + i) for i in range(3)]
    # a fourth normal that is shallow at the first 10 sites, and only two normals cover site 59
    out = tmp / "baseline.json"
    doc = msi_mod.build_baseline(normals, path, None, out)
    return out, doc


def test_baseline_document(baseline, genome):
    out, doc = baseline
    assert json.loads(out.read_text()) == doc
    assert doc["format"] == "ccevariants-msi-baseline" and doc["sites_scanned"] == 60
    assert len(doc["sites"]) == 60 and doc["sites_dropped"] == 0
    site = doc["sites"][0]
    assert (site["chrom"], site["pos"], site["unit"], site["mean_peaks"], site["sd_peaks"]) == (
        "chr1",
        genome[3][0][0] + 1,
        "A",
        1.0,
        0.0,
    )
    assert site["distribution"] == {"12": 90}


def test_baseline_drops_sites_with_too_few_normal_reads(genome, tmp_path):
    _tmp, path, seq, sites = genome
    deep = bam_for(genome, "pon0", {}, seed=10)
    shallow = write_bam(
        tmp_path / "shallow.bam", simulate_reads(seq, sites, {}, depth=10), [("chr1", len(seq))]
    )
    doc = msi_mod.build_baseline([deep, shallow], path, None, None)
    assert doc["sites_scanned"] == 60 and doc["sites"] == [] and doc["sites_dropped"] == 60
    single = msi_mod.build_baseline(
        [deep, shallow], path, None, None, params=msi_mod.MsiParams(min_normals=1)
    )
    assert len(single["sites"]) == 60


def test_tumor_only_against_baseline(baseline, genome):
    out, _doc = baseline
    high = msi_mod.compute_msi_bam(bam_for(genome, "tumor_msi", MSI_SHIFTS), baseline=out)
    assert (high["status"], high["score"], high["sites"], high["mode"]) == (
        "msi_high",
        50.0,
        60,
        "tumor_only",
    )
    assert {u["tumor_peaks"] for u in high["unstable"]} == {2}
    low = msi_mod.compute_msi_bam(bam_for(genome, "normal", {}, seed=3), baseline=out)
    assert (low["status"], low["score"]) == ("mss", 0.0)
    # 10 of 60 unstable = 16.7 % < 20 %: MSS in tumour-only mode
    some = bam_for(genome, "tumor_ten", {i: [(0.4, 1)] for i in range(10)}, seed=8)
    result = msi_mod.compute_msi_bam(some, baseline=out)
    assert (result["status"], result["unstable_sites"], result["score"]) == ("mss", 10, 16.67)


def test_bad_baseline(tmp_path, genome):
    bam = bam_for(genome, "normal", {}, seed=3)
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError, match="expected an MSI baseline"):
        msi_mod.compute_msi_bam(bam, baseline=bad)
    bad.write_text(
        json.dumps(
            {
                "format": "ccevariants-msi-baseline",
                "version": 1,
                "reference": {"contigs": {"chr1": 10}},
                "sites": [{"chrom": "chr1", "pos": "x"}],
            }
        )
    )
    with pytest.raises(InputError, match="expected site 1 to have 'pos'"):
        msi_mod.compute_msi_bam(bam, baseline=bad)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="expected valid JSON"):
        msi_mod.compute_msi_bam(bam, baseline=bad)
    with pytest.raises(ConfigError, match="at least 2 normal BAMs"):
        msi_mod.build_baseline([bam], genome[1], None, None)
    with pytest.raises(ConfigError, match="either a normal BAM or an MSI baseline"):
        msi_mod.compute_msi_bam(bam, baseline=bad, normal_bam=bam, reference=genome[1])
    with pytest.raises(ConfigError, match="neither"):
        msi_mod.compute_msi_bam(bam, reference=genome[1])


def test_baseline_from_another_reference(tmp_path, genome, baseline):
    out, doc = baseline
    other = json.loads(out.read_text())
    other["reference"]["contigs"] = {"chr1": 999}
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    with pytest.raises(ReferenceMismatchError, match="expected contig chr1 of length 999"):
        msi_mod.compute_msi_bam(bam_for(genome, "normal", {}, seed=3), baseline=path)


# ---- bad alignment input ---------------------------------------------------------------------


def test_bam_without_index(tmp_path, genome):
    _tmp, path, seq, sites = genome
    bam = write_bam(
        tmp_path / "noindex.bam", simulate_reads(seq, sites[:2], {}), [("chr1", len(seq))], index=False
    )
    with pytest.raises(InputError, match=r"expected a BAM/CRAM index .* found none") as err:
        msi_mod.compute_msi_bam(bam, normal_bam=bam_for(genome, "normal", {}, seed=3), reference=path)
    assert str(err.value).startswith(str(bam)) and "\n" not in str(err.value)


def test_bam_contigs_not_matching_reference(tmp_path, genome):
    _tmp, path, seq, sites = genome
    reads = simulate_reads(seq, sites[:2], {})
    renamed = write_bam(tmp_path / "renamed.bam", reads, [("scaffold_7", len(seq))])
    with pytest.raises(
        ReferenceMismatchError,
        match=r"expected the reference's contigs \(chr1, …\) in the BAM "
        r"header; found scaffold_7",
    ):
        msi_mod.compute_msi_bam(renamed, normal_bam=bam_for(genome, "normal", {}, seed=3), reference=path)
    longer = write_bam(tmp_path / "longer.bam", reads, [("1", len(seq) + 5)])
    with pytest.raises(ReferenceMismatchError, match=f"expected contig 1 of length {len(seq)}"):
        msi_mod.compute_msi_bam(longer, normal_bam=bam_for(genome, "normal", {}, seed=3), reference=path)
    # "1" vs "chr1" with the right length is the same contig
    same = write_bam(tmp_path / "nochr.bam", simulate_reads(seq, sites, MSI_SHIFTS), [("1", len(seq))])
    result = msi_mod.compute_msi_bam(same, normal_bam=bam_for(genome, "normal", {}, seed=3), reference=path)
    assert result["score"] == 50.0


def test_cram_without_reference(tmp_path, genome, baseline):
    _tmp, path, seq, sites = genome
    cram = write_bam(
        tmp_path / "t.cram",
        simulate_reads(seq, sites, MSI_SHIFTS),
        [("chr1", len(seq))],
        fmt="wc",
        reference=path,
    )
    with pytest.raises(InputError, match="expected a reference FASTA .* to decode this CRAM; found none"):
        msi_mod.compute_msi_bam(cram, baseline=baseline[0])
    result = msi_mod.compute_msi_bam(cram, baseline=baseline[0], reference=path)
    assert (result["status"], result["score"]) == ("msi_high", 50.0)


def test_missing_and_non_bam_files(tmp_path, genome):
    _tmp, path, _seq, _sites = genome
    normal = bam_for(genome, "normal", {}, seed=3)
    with pytest.raises(InputError, match="expected an existing BAM/CRAM file; found none"):
        msi_mod.compute_msi_bam(tmp_path / "nope.bam", normal_bam=normal, reference=path)
    text = tmp_path / "text.bam"
    text.write_text("not a bam\n")
    with pytest.raises(InputError, match="expected a readable BAM/CRAM"):
        msi_mod.compute_msi_bam(text, normal_bam=normal, reference=path)


# ---- command line and the biomarkers stage ---------------------------------------------------


def test_cli_baseline_and_score(genome, tmp_path, capsys):
    from ccevariants.cli import main

    _tmp, path, _seq, sites = genome
    normals = [str(bam_for(genome, f"pon{i}", {}, seed=10 + i)) for i in range(3)]
    bed = tmp_path / "regions.bed"
    bed.write_text(f"chr1\t0\t{sites[39][1]}\n")  # the first 40 sites
    base = tmp_path / "baseline.json"
    assert main(["msi", "baseline", "--bams", *normals, "--reference", str(path), "--regions", str(bed),
                 "--output", str(base)]) == 0  # fmt: skip
    assert len(json.loads(base.read_text())["sites"]) == 40
    out = tmp_path / "msi.json"
    tumor = str(bam_for(genome, "tumor_msi", MSI_SHIFTS))
    assert main(["msi", "score", "--tumor-bam", tumor, "--baseline", str(base), "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["status"], doc["sites"], doc["unstable_sites"]) == ("msi_high", 40, 20)
    paired = tmp_path / "paired.json"
    assert main(["msi", "score", "--tumor-bam", tumor, "--normal-bam", normals[0], "--reference", str(path),
                 "--regions", str(bed), "--output", str(paired)]) == 0  # fmt: skip
    assert json.loads(paired.read_text())["score"] == 50.0
    # bad input: one line, exit code 2, nothing written
    capsys.readouterr()
    missing = tmp_path / "never.json"
    code = main(["msi", "score", "--tumor-bam", str(tmp_path / "absent.bam"), "--baseline", str(base),
                 "--output", str(missing)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and not missing.exists()
    assert err.count("\n") == 0 and "expected an existing BAM/CRAM file; found none" in err
    code = main(["msi", "baseline", "--bams", normals[0], "--reference", str(path), "--output", str(missing)])
    assert code == 2 and not missing.exists()
    assert "expected at least 2 normal BAMs" in capsys.readouterr().err
    code = main(["msi", "score", "--tumor-bam", tumor, "--normal-bam", normals[0], "--regions", str(bed),
                 "--output", str(missing)])  # fmt: skip
    assert code == 2 and not missing.exists()
    assert "expected --reference together with --regions; found none" in capsys.readouterr().err


def _variant_table():
    import pandas as pd

    return pd.DataFrame(
        {
            "variant_id": ["chr1:200:C:T"],
            "chrom": ["chr1"],
            "pos": [200],
            "ref": ["C"],
            "alt": ["T"],
            "filter": ["PASS"],
            "t_dp": [100],
            "t_ad_ref": [80],
            "t_ad_alt": [20],
            "n_dp": [60],
            "n_ad_ref": [60],
            "n_ad_alt": [0],
            "t_af": [0.2],
            "n_af": [0.0],
            "gene": [""],
            "gene_id": [""],
            "transcript": [""],
            "biotype": [""],
            "strand": [0],
            "consequence": ["intergenic_variant"],
            "impact": ["MODIFIER"],
            "exon": [""],
            "intron": [""],
            "hgvsc": [""],
            "hgvsp": [""],
            "hgvsp_short": [""],
            "cds_position": [-1],
            "protein_position": [-1],
            "amino_acids": [""],
            "codons": [""],
            "pick": [True],
            "mane": [False],
            "canonical": [False],
        }
    )


# ---- the demo's simulated BAMs -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ccevariants import demo as demo_mod

    out = tmp_path_factory.mktemp("demo")
    demo_mod.write_demo(out, seed=7)
    if not (out / "bam").is_dir():
        pytest.skip("this demo version writes no BAMs")
    return out, json.loads((out / "truth.json").read_text())["patients"]


def test_demo_paired_msi_status(demo):
    out, truth = demo
    ref = out / "reference" / "genome.fa"
    regions = msi_mod.read_regions(out / "bam" / "panel.bed", ref)
    sites = msi_mod.scan_sites(ref, regions)
    mine = {(c, s + 1) for c, s in zip(sites.chrom.tolist(), sites.start.tolist(), strict=True)}
    checked = 0
    for patient, info in truth.items():
        bam = info.get("bam")
        if not bam or not bam.get("normal_bam"):
            continue
        result = msi_mod.compute_msi_bam(
            out / bam["tumor_bam"], normal_bam=out / bam["normal_bam"], reference=ref, regions=regions
        )
        assert result["status"] == bam["msi_status"], patient
        unstable = {(s["chrom"], s["start"]) for s in bam["microsatellites"]["sites"] if s["unstable"]}
        called = {(u["chrom"], u["pos"]) for u in result["unstable"]}
        # every site called unstable is unstable in the truth, and every truth-unstable site of the
        # scored site set is found
        assert called == unstable & mine, patient
        checked += 1
    assert checked == 2


def test_demo_tumor_only_against_normals_baseline(demo, tmp_path):
    out, truth = demo
    ref = out / "reference" / "genome.fa"
    normals = [
        out / info["bam"]["normal_bam"]
        for info in truth.values()
        if (info.get("bam") or {}).get("normal_bam")
    ]
    base = tmp_path / "demo_baseline.json"
    msi_mod.build_baseline(normals, ref, out / "bam" / "panel.bed", base)
    statuses = {}
    for patient, info in truth.items():
        if info.get("bam"):
            result = msi_mod.compute_msi_bam(out / info["bam"]["tumor_bam"], baseline=base)
            statuses[patient] = (result["status"], info["bam"]["msi_status"])
    assert len(statuses) == 4 and all(got == want for got, want in statuses.values()), statuses


def test_compute_biomarkers_msi_from_reads(demo, tmp_path):
    from ccevariants.biomarkers import compute_biomarkers

    out, truth = demo
    ref = out / "reference" / "genome.fa"
    gff = out / "reference" / "genes.gff3"
    panel = out / "bam" / "panel.bed"
    p03 = truth["CCE-P03"]["bam"]
    tumor, normal = out / p03["tumor_bam"], out / p03["normal_bam"]
    table = _variant_table()
    with pysam.FastaFile(str(ref)) as fasta:
        table["chrom"] = fasta.references[0]
    from ccevariants.biomarkers import load_gene_model

    common = {"reference": ref, "genes": load_gene_model(gff), "bam": tumor, "coverage_genes": ["KRAS"]}
    target = tmp_path / "bm.json"
    doc = compute_biomarkers(table, target, normal_bam=normal, msi_regions=panel, **common)
    assert json.loads(target.read_text())["msi"] == doc["msi"]
    n_sites = len(msi_mod.scan_sites(ref, msi_mod.read_regions(panel, ref)))
    assert (doc["msi"]["status"], doc["msi"]["basis"], doc["msi"]["mode"], doc["msi"]["sites"]) == (
        "msi_high", "bam", "paired", n_sites)  # fmt: skip
    assert doc["inputs"]["normal_bam"] == str(normal)
    # the callable BED as the site territory when no MSI regions are given
    doc = compute_biomarkers(
        table, None, normal_bam=normal, callable_bed=out / "reference" / "callable.bed", **common
    )
    assert doc["msi"]["status"] == "msi_high" and 0 < doc["msi"]["sites"] < n_sites
    # one site short of the minimum: no call
    doc = compute_biomarkers(
        table, None, normal_bam=normal, msi_regions=panel, msi_min_sites=n_sites + 1, **common
    )
    assert (doc["msi"]["status"], doc["msi"]["interpretation"]) == ("not_assessable", "too_few_sites")
    # tumour-only against a baseline of the demo's normals
    base = tmp_path / "base.json"
    normals = [
        out / info["bam"]["normal_bam"]
        for info in truth.values()
        if (info.get("bam") or {}).get("normal_bam")
    ]
    msi_mod.build_baseline(normals, ref, panel, base)
    doc = compute_biomarkers(table, None, msi_baseline=base, **common)
    assert (doc["msi"]["status"], doc["msi"]["mode"]) == ("msi_high", "tumor_only")
    # tumour BAM without normal or baseline: the VCF estimate, flagged as the fallback
    doc = compute_biomarkers(table, None, **common)
    assert (doc["msi"]["basis"], doc["msi"]["fallback"], doc["msi"]["status"]) == (
        "vcf",
        True,
        "not_assessable",
    )
    assert "bam_not_used" in doc["msi"]
    with pytest.raises(ConfigError, match="expected --bam"):
        compute_biomarkers(table, tmp_path / "x.json", reference=ref, normal_bam=normal)
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("flank", 0, "expected flank >= 1"),
        ("min_sites", 0, "expected min_reads >= 1 and min_sites >= 1"),
        ("fdr", 1.5, "expected fdr in"),
        ("paired_mss_below", 12.0, "expected the MSS threshold <= the MSI-H threshold"),
        ("min_homopolymer", 4, "expected site thresholds at or above the scanner's"),
    ],
)
def test_bad_parameters(field, value, message, genome):
    with pytest.raises(ConfigError, match=message):
        msi_mod.compute_msi_bam(
            genome[1], normal_bam=genome[1], reference=genome[1], params=msi_mod.MsiParams(**{field: value})
        )


def test_biomarkers_command_with_normal_bam(demo, tmp_path):
    from ccevariants.cli import main

    out, truth = demo
    ref = out / "reference" / "genome.fa"
    table = _variant_table()
    with pysam.FastaFile(str(ref)) as fasta:
        table["chrom"] = fasta.references[0]
    variants = tmp_path / "v.parquet"
    table.to_parquet(variants)
    p02 = truth["CCE-P02"]["bam"]
    target = tmp_path / "bm.json"
    code = main(["biomarkers", "--variants", str(variants), "--output", str(target), "--reference", str(ref),
                 "--annotation", str(out / "reference" / "genes.gff3"), "--bam", str(out / p02["tumor_bam"]),
                 "--coverage-genes", "KRAS", "--normal-bam", str(out / p02["normal_bam"]),
                 "--msi-regions", str(out / "bam" / "panel.bed")])  # fmt: skip
    assert code == 0
    msi = json.loads(target.read_text())["msi"]
    assert (msi["status"], msi["score"], msi["basis"]) == ("mss", 0.0, "bam")
