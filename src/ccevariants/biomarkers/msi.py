"""Microsatellite instability — first version: an indel-based estimate from the variant table.

Without a BAM the pipeline cannot score microsatellite loci directly (MSIsensor-style). It reports
instead, for the PASS somatic indels of the tumour:

* ``score``: the fraction of indels that lie in a microsatellite — the inserted/deleted sequence is
  a whole number of copies of a repeat unit of 1–5 bases, and the reference holds at least 5 copies
  (homopolymer) or 3 copies (unit 2–5) of that unit starting right after the VCF anchor base (the
  microsatellite definition of MSIsensor, Niu et al., Bioinformatics 2014;30:1015-1016);
* ``sites``: the number of indels evaluated; ``indels_per_mb`` / ``repeat_indels_per_mb`` when the
  callable territory is known; ``microsatellites_in_callable``: microsatellite loci of the callable
  BED (Numba scanner, :mod:`._microsat`) — the territory a BAM-based score would examine.

``status`` stays ``not_assessable``: no threshold for this estimate has been validated against an
MSI reference test (PCR / IHC), so no MSI-H/MSS call is made from it. Optional thresholds
(``score_threshold`` and ``min_repeat_indels_per_mb``) can be supplied for research use; the call is
then reported with ``validated: false``.

Positions: the table's ``pos`` is 1-based; FASTA fetches are 0-based half-open.

BAM-based scoring (:func:`compute_msi_bam`, :func:`build_baseline`; the preferred method whenever a
tumour BAM/CRAM and a matched normal or a baseline of normals are available) is in the second half
of this module: microsatellite sites of the reference (:func:`scan_sites`), the read-level
repeat-length distribution per site (:func:`site_distributions`, Numba kernel
:func:`._microsat.span_lengths`), and the site instability statistics — paired: Pearson's
chi-square on tumour vs normal length counts with Benjamini–Hochberg FDR (MSIsensor, Niu et al.,
Bioinformatics 2014, PMID 24371154); tumour-only: number of length peaks against the normals'
baseline (mSINGS, Salipante et al., Clin Chem 2014, PMID 24987110). Site coordinates are 0-based
half-open internally; every JSON ``pos`` is 1-based (``end`` 1-based inclusive).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..contigs import harmonise

log = logging.getLogger(__name__)

METHOD = "vcf_indel_repeat_fraction (not validated; BAM-based MSI not run)"
MAX_UNIT = 5
MIN_COPIES_HOMOPOLYMER = 5
MIN_COPIES_REPEAT = 3
SCAN_BASES = 200


def repeat_context(indel_seq: str, downstream: str) -> tuple[int, int]:
    """Best ``(unit_length, reference_copies)`` for an indel of ``indel_seq`` followed by ``downstream``.

    ``downstream`` is the reference starting at the first base after the anchor (for a deletion it
    begins with the deleted bases). ``(0, 0)`` when no copy of any unit starts there.
    """
    seq = indel_seq.upper()
    ref = downstream.upper()
    best = (0, 0)
    for k in range(1, min(MAX_UNIT, len(seq)) + 1):
        if len(seq) % k:
            continue
        unit = seq[:k]
        if unit * (len(seq) // k) != seq:
            continue
        copies = 0
        while ref[copies * k : (copies + 1) * k] == unit:
            copies += 1
        if copies * k > best[0] * best[1]:
            best = (k, copies)
    return best


def is_microsatellite(unit: int, copies: int) -> bool:
    if unit == 0:
        return False
    return copies >= (MIN_COPIES_HOMOPOLYMER if unit == 1 else MIN_COPIES_REPEAT)


def compute_msi(
    rows: pd.DataFrame,
    reference=None,
    *,
    callable_regions=None,
    callable_mb: float | None = None,
    tumor_only: bool = False,
    score_threshold: float | None = None,
    min_repeat_indels_per_mb: float | None = None,
) -> dict:
    """MSI section of ``biomarkers.json`` from one row per variant (``tmb.one_row_per_variant``)."""
    from .tmb import GERMLINE_HET, GERMLINE_HOM, variant_class

    result = {
        "status": "not_assessable",
        "score": None,
        "method": METHOD,
        "sites": None,
        "validated": False,
        "basis": "vcf",
        "fallback": True,
        "indels": 0,
        "repeat_indels": 0,
        "indels_per_mb": None,
        "repeat_indels_per_mb": None,
    }
    if rows.empty:
        indel = np.zeros(0, dtype=bool)
    else:
        filt = rows["filter"].fillna("").astype(str).to_numpy()
        indel = (variant_class(rows["ref"], rows["alt"]) == "indel") & np.isin(filt, ["PASS", "."])
        if tumor_only:
            vaf = pd.to_numeric(rows["t_af"], errors="coerce").to_numpy(dtype=float)
            lo, hi = GERMLINE_HET
            indel &= ~(((vaf >= lo) & (vaf <= hi)) | (vaf >= GERMLINE_HOM))
        if callable_regions is not None:
            from . import _regions

            s0 = rows["pos"].to_numpy(dtype=np.int64) - 1
            e0 = s0 + rows["ref"].astype(str).str.len().to_numpy(dtype=np.int64)
            indel &= _regions.overlaps_any(callable_regions, rows["chrom"].to_numpy(), s0, e0)
    sub = rows[indel] if len(rows) else rows
    result["indels"] = int(len(sub))
    if callable_mb:
        result["indels_per_mb"] = round(len(sub) / callable_mb, 3)
    if reference is None:
        result["note"] = "no reference FASTA given: repeat context not scanned"
        return result
    import pysam

    repeat = 0
    with pysam.FastaFile(str(reference)) as fasta:
        if callable_regions is not None:
            from ._microsat import count_in_regions

            result["microsatellites_in_callable"] = count_in_regions(fasta, callable_regions)
        names = set(fasta.references)
        for chrom, pos, ref, alt in zip(sub["chrom"], sub["pos"], sub["ref"], sub["alt"], strict=True):
            contig = harmonise(str(chrom), names)
            if contig is None:
                continue
            # Trim the shared leading anchor (VCF style); the changed bases follow it.
            shared = 0
            while shared < min(len(ref), len(alt)) and ref[shared] == alt[shared]:
                shared += 1
            changed = ref[shared:] if len(ref) > len(alt) else alt[shared:]
            if not changed or len(ref[shared:]) and len(alt[shared:]):
                continue  # complex indel (both alleles changed): not a simple repeat expansion/contraction
            start0 = int(pos) - 1 + shared
            downstream = fasta.fetch(contig, start0, start0 + SCAN_BASES)
            unit, copies = repeat_context(changed, downstream)
            repeat += is_microsatellite(unit, copies)
    result["repeat_indels"] = repeat
    result["sites"] = int(len(sub))
    if len(sub):
        result["score"] = round(repeat / len(sub), 4)
    if callable_mb:
        result["repeat_indels_per_mb"] = round(repeat / callable_mb, 3)
    if (
        score_threshold is not None
        and min_repeat_indels_per_mb is not None
        and result["score"] is not None
        and result["repeat_indels_per_mb"] is not None
    ):
        high = (
            result["score"] >= score_threshold and result["repeat_indels_per_mb"] >= min_repeat_indels_per_mb
        )
        result["status"] = "msi_high" if high else "mss"
        result["thresholds"] = {"score": score_threshold, "repeat_indels_per_mb": min_repeat_indels_per_mb}
    else:
        result["note"] = "no validated threshold for the VCF-based estimate: no MSI call made"
    return result


# =============================================================================================
# BAM-based MSI
# =============================================================================================

BAM_NOTE = (
    "research-use estimate: ccevariants is not a validated clinical MSI assay; the thresholds are "
    "borrowed from the cited methods and were not re-validated for this implementation or panel"
)
PAIRED_METHOD = "bam_paired_length_chi2 (MSIsensor-style; not validated)"
TUMOR_ONLY_METHOD = "bam_tumor_only_peaks_vs_baseline (mSINGS-style; not validated)"
BASELINE_FORMAT = "ccevariants-msi-baseline"
BASELINE_VERSION = 1
#: reads excluded: unmapped 0x4, secondary 0x100, QC-fail 0x200, duplicate 0x400, supplementary 0x800
EXCLUDE_FLAGS = 0xF04
FETCH_GAP = 2_000
FETCH_SPAN = 200_000
SCAN_WINDOW = 1_000_000
SCAN_PAD = 1_000
MAX_LISTED_SITES = 200
#: MSIsensor-pro reports reliable scoring with as few as ~50 sites (Jia et al. 2020, PMC7393535);
#: a call from fewer evaluable sites carries a caution note.
CAUTION_SITES = 50


@dataclass(frozen=True)
class MsiParams:
    """Parameters of BAM-based MSI scoring (pipeline defaults; see docs/biomarkers.md)."""

    flank: int = 3  # aligned reference bases required on each side of the tract in a read
    min_mapq: int = 20
    min_mean_bq: int = 20  # mean base quality over flanks + tract
    min_reads: int = 20  # reads per site (MSIsensor's default coverage threshold, -c 20)
    min_sites: int = 30  # evaluable sites for a call (pipeline default; below 50 a caution is added)
    fdr: float = 0.05  # paired: BH-adjusted chi-square p below this → unstable (MSIsensor -f 0.05)
    paired_msi_high: float = 10.0  # % unstable: MSI-H (MSK-IMPACT, Middha et al. 2017, PMID 30211344)
    paired_mss_below: float = 3.0  # % unstable: MSS below; in between indeterminate (Middha 2017)
    peak_fraction: float = 0.05  # tumour-only: a peak holds >= 5 % of the modal length's reads (mSINGS)
    peak_min_reads: int = 2  # and at least 2 reads (pipeline addition: one read is not a peak)
    sd_multiplier: float = 2.0  # unstable when peaks > baseline mean + 2 SD (mSINGS default)
    tumor_only_msi_high: float = 20.0  # % unstable: MSI-H (mSINGS' 0.2 fraction; MSIsensor2's 20 %)
    min_normals: int = 2  # baseline: normals with >= min_reads needed to keep a site
    min_homopolymer: int = 5  # site set (MSIsensor's -l 5); see _microsat.select_sites
    min_units: int = 5
    max_unit: int = 4
    max_length: int = 50
    min_gap: int = 5

    def check(self) -> MsiParams:
        from ..errors import ConfigError

        if self.flank < 1 or self.min_gap < self.flank:
            raise ConfigError(
                f"expected flank >= 1 and <= min_gap ({self.min_gap}); found flank={self.flank}"
            )
        if self.min_reads < 1 or self.min_sites < 1:
            raise ConfigError(
                f"expected min_reads >= 1 and min_sites >= 1; found {self.min_reads} and {self.min_sites}"
            )
        if not 0 < self.fdr < 1 or not 0 < self.peak_fraction <= 1:
            raise ConfigError(
                f"expected fdr in (0, 1) and peak_fraction in (0, 1]; found {self.fdr} and {self.peak_fraction}"
            )
        if self.min_homopolymer < 5 or self.min_units < 3 or not 1 <= self.max_unit <= 5:
            raise ConfigError(
                "expected site thresholds at or above the scanner's (homopolymer >= 5, >= 3 units, unit "
                f"1-5 bp); found {self.min_homopolymer}, {self.min_units}, {self.max_unit}"
            )
        if self.paired_mss_below > self.paired_msi_high:
            raise ConfigError(
                f"expected the MSS threshold <= the MSI-H threshold; found {self.paired_mss_below} > "
                f"{self.paired_msi_high}"
            )
        return self


@dataclass
class Sites:
    """Microsatellite sites, columnar. ``start``/``end``: **0-based half-open** reference offsets,
    sorted by (contig order, start) and disjoint; ``unit``: the repeat unit's sequence."""

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    unit: np.ndarray

    def __len__(self) -> int:
        return int(self.start.size)

    def contig_slices(self):
        """``(contig, first, stop)`` index ranges of consecutive sites on one contig."""
        if len(self) == 0:
            return []
        change = np.flatnonzero(self.chrom[1:] != self.chrom[:-1]) + 1
        bounds = np.concatenate(([0], change, [len(self)]))
        return [(str(self.chrom[a]), int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _empty_sites() -> Sites:
    z = np.zeros(0, dtype=np.int64)
    return Sites(np.zeros(0, dtype=object), z, z.copy(), np.zeros(0, dtype=object))


def _open_fasta(reference):
    import pysam

    from ..errors import InputError

    try:
        return pysam.FastaFile(str(reference))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"expected a readable, indexable reference FASTA; found {exc}", path=reference
        ) from None


def scan_sites(reference, regions=None, params: MsiParams | None = None, use_jit: bool = True) -> Sites:
    """MSI sites of the reference inside ``regions`` (an interval set, 0-based half-open, see
    :mod:`._regions`; None = every contig): sites whose start lies in a region (the tract may run
    past the region's end). The reference is read in windows of 1 Mb (+1 kb context each side).
    """
    from ._microsat import encode, select_sites

    params = (params or MsiParams()).check()
    chroms: list[str] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    units: list[str] = []
    with _open_fasta(reference) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        if regions is None:
            todo = [(c, np.array([0]), np.array([n])) for c, n in lengths.items()]
        else:
            todo = []
            for chrom in lengths:  # reference order
                key = next((k for k in regions if harmonise(k, lengths) == chrom), None)
                if key is not None:
                    todo.append((chrom, *regions[key]))
        for chrom, r_starts, r_ends in todo:
            size = lengths[chrom]
            for s, e in zip(r_starts.tolist(), r_ends.tolist(), strict=True):
                pos = s
                while pos < min(e, size):
                    window_end = min(e, size, pos + SCAN_WINDOW)
                    f0 = max(0, pos - SCAN_PAD)
                    f1 = min(size, window_end + SCAN_PAD)
                    seq = fasta.fetch(chrom, f0, f1).upper()
                    st, en, un = select_sites(
                        encode(seq),
                        min_homopolymer=params.min_homopolymer,
                        min_units=params.min_units,
                        max_unit=params.max_unit,
                        max_length=params.max_length,
                        min_gap=params.min_gap,
                        use_jit=use_jit,
                    )
                    keep = (st + f0 >= pos) & (st + f0 < window_end)
                    st, en, un = st[keep], en[keep], un[keep]
                    chroms.extend([chrom] * st.size)
                    starts.append(st + f0)
                    ends.append(en + f0)
                    units.extend(seq[a : a + k] for a, k in zip(st.tolist(), un.tolist(), strict=True))
                    pos = window_end
    if not chroms:
        return _empty_sites()
    return Sites(
        np.array(chroms, dtype=object),
        np.concatenate(starts).astype(np.int64),
        np.concatenate(ends).astype(np.int64),
        np.array(units, dtype=object),
    )


def open_alignments(path, reference=None):
    """Open an indexed BAM/CRAM with pysam; one-line :class:`InputError` when it is missing, not
    an alignment file, a CRAM without ``reference``, or has no index."""
    from pathlib import Path

    import pysam

    from ..errors import InputError

    if not Path(path).exists():
        raise InputError("expected an existing BAM/CRAM file; found none", path=path)
    try:
        handle = pysam.AlignmentFile(
            str(path), "r", reference_filename=None if reference is None else str(reference)
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a readable BAM/CRAM; found {exc}", path=path) from None
    if handle.is_cram and reference is None:
        handle.close()
        raise InputError(
            "expected a reference FASTA (--reference) to decode this CRAM; found none", path=path
        )
    if not (handle.is_bam or handle.is_cram):
        handle.close()
        raise InputError("expected a BAM or CRAM file (SAM text cannot be indexed); found SAM", path=path)
    if not handle.has_index():
        handle.close()
        raise InputError(
            "expected a BAM/CRAM index (.bai/.csi/.crai) next to the file; found none", path=path
        )
    return handle


def check_contigs(handle, path, reference_lengths: dict[str, int]) -> dict[str, str | None]:
    """Map each reference contig to the BAM's spelling (``chr1``/``1``), or None when absent.

    :class:`ReferenceMismatchError` when the BAM shares no contig with the reference, or a shared
    contig has a different length (another genome build).
    """
    from ..errors import ReferenceMismatchError

    bam_lengths = dict(zip(handle.references, handle.lengths, strict=True))
    mapping = {c: harmonise(c, bam_lengths) for c in reference_lengths}
    shared = {c: b for c, b in mapping.items() if b is not None}
    if not shared:
        ref_names = ", ".join(list(reference_lengths)[:3])
        bam_names = ", ".join(list(bam_lengths)[:3]) or "no contigs"
        raise ReferenceMismatchError(
            f"expected the reference's contigs ({ref_names}, …) in the BAM header; found {bam_names}",
            path=path,
        )
    for contig, bam_name in shared.items():
        if bam_lengths[bam_name] != reference_lengths[contig]:
            raise ReferenceMismatchError(
                f"expected contig {bam_name} of length {reference_lengths[contig]} (as in the reference); "
                f"found length {bam_lengths[bam_name]} in the BAM header",
                path=path,
            )
    return mapping


def _collect_reads(handle, contig: str, start: int, end: int, min_mapq: int, need_quals: bool):
    """Columnar reads overlapping ``[start, end)`` (0-based) passing the flag and MAPQ filters."""
    read_start: list[int] = []
    n_ops: list[int] = []
    ops: list[int] = []
    lens: list[int] = []
    n_query: list[int] = []
    quals: list[np.ndarray] = []
    for read in handle.fetch(contig, start, end):
        if read.flag & EXCLUDE_FLAGS or read.mapping_quality < min_mapq:
            continue
        cigar = read.cigartuples
        if not cigar:
            continue
        read_start.append(read.reference_start)
        n_ops.append(len(cigar))
        qlen = 0
        for op, ln in cigar:
            ops.append(op)
            lens.append(ln)
            if op in (0, 1, 4, 7, 8):
                qlen += ln
        if need_quals:
            q = read.query_qualities
            if q is None or len(q) != qlen:
                arr = np.full(qlen, 255, dtype=np.uint8)  # no qualities stored: not filtered
            else:
                arr = np.frombuffer(q, dtype=np.uint8)
            quals.append(arr)
            n_query.append(qlen)
    cig_off = np.zeros(len(n_ops) + 1, dtype=np.int64)
    np.cumsum(n_ops, out=cig_off[1:])
    qual_off = np.zeros(len(n_query) + 1, dtype=np.int64)
    if need_quals:
        np.cumsum(n_query, out=qual_off[1:])
    return (
        np.asarray(read_start, dtype=np.int64),
        cig_off,
        np.asarray(ops, dtype=np.uint8),
        np.asarray(lens, dtype=np.int64),
        qual_off,
        np.concatenate(quals) if quals else np.zeros(0, dtype=np.uint8),
    )


@dataclass
class Distributions:
    """Read-level repeat lengths per site, sparse: ``(site, length, count)`` sorted by site, length.

    ``reads[i]`` is the number of reads that spanned site ``i``.
    """

    site: np.ndarray
    length: np.ndarray
    count: np.ndarray
    reads: np.ndarray

    def of(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = np.searchsorted(self.site, [i, i + 1])
        return self.length[a:b], self.count[a:b]


def site_distributions(
    bam, sites: Sites, params: MsiParams | None = None, reference=None, reference_lengths=None, use_jit=True
) -> Distributions:
    """Repeat-length distributions of ``sites`` (0-based) in ``bam``.

    ``reference_lengths`` (contig → length; default: read from ``reference``) is checked against the
    BAM header (:func:`check_contigs`). Sites on a contig the BAM lacks get no reads.
    """
    from ._microsat import span_lengths

    params = (params or MsiParams()).check()
    if reference_lengths is None:
        if reference is None:
            raise ValueError("reference or reference_lengths is required")
        with _open_fasta(reference) as fasta:
            reference_lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
    out_site: list[np.ndarray] = []
    out_len: list[np.ndarray] = []
    with open_alignments(bam, reference) as handle:
        mapping = check_contigs(handle, bam, reference_lengths)
        for contig, first, stop in sites.contig_slices():
            bam_contig = mapping.get(contig) or harmonise(contig, set(handle.references))
            if bam_contig is None:
                continue
            s_all = sites.start[first:stop]
            e_all = sites.end[first:stop]
            # fetch windows: runs of sites closer than FETCH_GAP, at most FETCH_SPAN long
            breaks = [0]
            for i in range(1, s_all.size):
                if s_all[i] - e_all[i - 1] > FETCH_GAP or e_all[i] - s_all[breaks[-1]] > FETCH_SPAN:
                    breaks.append(i)
            breaks.append(s_all.size)
            for a, b in zip(breaks[:-1], breaks[1:], strict=True):
                w0 = max(0, int(s_all[a]) - params.flank)
                w1 = int(e_all[b - 1]) + params.flank
                reads = _collect_reads(handle, bam_contig, w0, w1, params.min_mapq, params.min_mean_bq > 0)
                if reads[0].size == 0:
                    continue
                idx, length = span_lengths(
                    s_all[a:b],
                    e_all[a:b],
                    *reads,
                    flank=params.flank,
                    min_mean_bq=params.min_mean_bq,
                    use_jit=use_jit,
                )
                out_site.append(idx + first + a)
                out_len.append(length)
    site = np.concatenate(out_site) if out_site else np.zeros(0, dtype=np.int64)
    length = np.concatenate(out_len) if out_len else np.zeros(0, dtype=np.int64)
    width = int(length.max()) + 1 if length.size else 1
    keys, count = np.unique(site * width + length, return_counts=True)
    return Distributions(
        keys // width, keys % width, count.astype(np.int64), np.bincount(site, minlength=len(sites))
    )


# ---- statistics ------------------------------------------------------------------------------


def chi2_sf(x: float, df: int) -> float:
    """Upper tail P(X >= x) of the chi-square distribution with integer ``df`` >= 1 (closed forms:
    even df — Poisson sum; odd df — erfc plus a half-integer series)."""
    if df < 1:
        raise ValueError("df must be >= 1")
    if x <= 0:
        return 1.0
    h = x / 2.0
    if df % 2 == 0:
        term = math.exp(-h)
        total = term
        for i in range(1, df // 2):
            term *= h / i
            total += term
        return min(1.0, total)
    total = math.erfc(math.sqrt(h))
    if df > 1:
        # sum_{i=1}^{(df-1)/2} h^(i-1/2) e^-h / Gamma(i+1/2)
        term = math.exp(-h + 0.5 * math.log(h) - math.lgamma(1.5))
        total += term
        for i in range(2, (df - 1) // 2 + 1):
            term *= h / (i - 0.5)
            total += term
    return min(1.0, total)


def pearson_chi2(len_a, count_a, len_b, count_b) -> tuple[float, int]:
    """Pearson's chi-square statistic and degrees of freedom of the 2 × K table of two length
    distributions (K = lengths seen in either; df = K − 1; ``(0.0, 0)`` when K = 1)."""
    lengths = np.union1d(len_a, len_b)
    if lengths.size < 2:
        return 0.0, 0
    table = np.zeros((2, lengths.size), dtype=float)
    table[0, np.searchsorted(lengths, len_a)] = count_a
    table[1, np.searchsorted(lengths, len_b)] = count_b
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    return float(((table - expected) ** 2 / expected).sum()), int(lengths.size - 1)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), same order as ``p``."""
    p = np.asarray(p, dtype=float)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def count_peaks(counts: np.ndarray, fraction: float, min_reads: int) -> int:
    """mSINGS-style peaks: lengths holding >= ``fraction`` of the modal length's reads (and
    >= ``min_reads``)."""
    counts = np.asarray(counts)
    if counts.size == 0:
        return 0
    return int(((counts >= fraction * counts.max()) & (counts >= min_reads)).sum())


def _modal(lengths: np.ndarray, counts: np.ndarray) -> int | None:
    return int(lengths[np.argmax(counts)]) if counts.size else None


def _site_record(sites: Sites, i: int) -> dict:
    return {
        "chrom": str(sites.chrom[i]),
        "pos": int(sites.start[i]) + 1,
        "end": int(sites.end[i]),
        "unit": str(sites.unit[i]),
        "ref_length": int(sites.end[i] - sites.start[i]),
    }


def _call(score: float | None, evaluable: int, params: MsiParams, mode: str) -> tuple[str, str]:
    if score is None or evaluable < params.min_sites:
        return "not_assessable", "too_few_sites"
    if mode == "paired":
        if score >= params.paired_msi_high:
            return "msi_high", "msi_high"
        if score < params.paired_mss_below:
            return "mss", "mss"
        return "not_assessable", "indeterminate"
    if score >= params.tumor_only_msi_high:
        return "msi_high", "msi_high"
    return "mss", "mss"


def _result(mode, sites, evaluable, unstable, listed, params, extra) -> dict:
    score = round(100.0 * unstable / evaluable, 2) if evaluable else None
    status, interpretation = _call(score, evaluable, params, mode)
    if mode == "paired":
        thresholds = {
            "msi_high_at_least": params.paired_msi_high,
            "mss_below": params.paired_mss_below,
            "fdr": params.fdr,
            "source": "MSK-IMPACT MSIsensor cut-offs (Middha et al., JCO Precis Oncol 2017, PMID 30211344)",
        }
    else:
        thresholds = {
            "msi_high_at_least": params.tumor_only_msi_high,
            "sd_multiplier": params.sd_multiplier,
            "peak_fraction": params.peak_fraction,
            "source": "mSINGS (Salipante et al., Clin Chem 2014, PMID 24987110)",
        }
    result = {
        "status": status,
        "score": score,
        "method": PAIRED_METHOD if mode == "paired" else TUMOR_ONLY_METHOD,
        "sites": int(evaluable),
        "validated": False,
        "basis": "bam",
        "mode": mode,
        "score_unit": "percent of evaluable sites that are unstable",
        "unstable_sites": int(unstable),
        "candidate_sites": int(len(sites)),
        "interpretation": interpretation,
        "thresholds": thresholds,
        "min_reads": params.min_reads,
        "min_sites": params.min_sites,
        "parameters": asdict(params),
        "note": BAM_NOTE,
        "unstable": listed[:MAX_LISTED_SITES],
    }
    if interpretation == "too_few_sites":
        result["note"] = (
            f"{evaluable} evaluable sites (>= {params.min_reads} reads), fewer than the {params.min_sites} "
            "needed for a call; " + BAM_NOTE
        )
    elif evaluable < CAUTION_SITES:
        result["note"] = (
            f"only {evaluable} evaluable sites (MSIsensor-pro reports reliable scores from about "
            f"{CAUTION_SITES}): low precision; " + BAM_NOTE
        )
    if interpretation == "indeterminate":
        result["note"] = (
            f"score between {params.paired_mss_below} and {params.paired_msi_high} %: indeterminate "
            "(Middha 2017); confirm by PCR or MMR immunohistochemistry; " + BAM_NOTE
        )
    result.update(extra)
    return result


def _reference_lengths(reference) -> dict[str, int]:
    with _open_fasta(reference) as fasta:
        return dict(zip(fasta.references, fasta.lengths, strict=True))


def read_regions(bed, reference):
    """BED (0-based half-open) → interval set with the reference's contig spelling; contigs the
    reference lacks, or intervals past a contig end, are an :class:`InputError` naming the line."""
    from ._regions import read_bed

    return read_bed(bed, _reference_lengths(reference))


def score_paired(
    tumor_bam, normal_bam, reference, regions=None, params: MsiParams | None = None, use_jit: bool = True
) -> dict:
    """MSIsensor-style paired MSI: per site with >= ``min_reads`` spanning reads in both samples,
    Pearson's chi-square on the 2 × K table of tumour vs normal repeat-length counts; p-values are
    Benjamini–Hochberg adjusted over the evaluable sites and a site is unstable when q < ``fdr``.
    Score = % unstable of evaluable sites. ``regions``: interval set (0-based) or None (whole genome).
    """
    params = (params or MsiParams()).check()
    lengths = _reference_lengths(reference)
    sites = scan_sites(reference, regions, params, use_jit=use_jit)
    tumor = site_distributions(tumor_bam, sites, params, reference, lengths, use_jit=use_jit)
    normal = site_distributions(normal_bam, sites, params, reference, lengths, use_jit=use_jit)
    evaluable = np.flatnonzero((tumor.reads >= params.min_reads) & (normal.reads >= params.min_reads))
    pvals = np.ones(evaluable.size)
    for k, i in enumerate(evaluable.tolist()):
        lt, ct = tumor.of(i)
        ln, cn = normal.of(i)
        stat, df = pearson_chi2(lt, ct, ln, cn)
        pvals[k] = chi2_sf(stat, df) if df else 1.0
    qvals = bh_adjust(pvals)
    unstable = qvals < params.fdr
    listed = []
    for k in np.flatnonzero(unstable)[np.argsort(pvals[unstable], kind="stable")].tolist():
        i = int(evaluable[k])
        lt, ct = tumor.of(i)
        ln, cn = normal.of(i)
        listed.append(
            {
                **_site_record(sites, i),
                "tumor_reads": int(tumor.reads[i]),
                "normal_reads": int(normal.reads[i]),
                "tumor_modal_length": _modal(lt, ct),
                "normal_modal_length": _modal(ln, cn),
                "p": float(f"{pvals[k]:.3g}"),
                "q": float(f"{qvals[k]:.3g}"),
            }
        )
    return _result(
        "paired",
        sites,
        int(evaluable.size),
        int(unstable.sum()),
        listed,
        params,
        {"tumor_bam": str(tumor_bam), "normal_bam": str(normal_bam)},
    )


# ---- baseline of normals (tumour-only mode) ---------------------------------------------------


def build_baseline(
    bams, reference, regions_bed, output=None, params: MsiParams | None = None, use_jit: bool = True
) -> dict:
    """Baseline of normal samples for tumour-only MSI (mSINGS-style), written atomically to ``output``.

    Sites of ``regions_bed`` (BED, 0-based half-open) are scanned in ``reference``; per site and
    normal, the number of length peaks (:func:`count_peaks`) is taken when the normal has
    >= ``min_reads`` spanning reads. Sites evaluable in fewer than ``min_normals`` normals are
    dropped. Per site: mean and sample SD of the peak counts, and the pooled length distribution.
    """
    from .._io import write_json
    from ..errors import ConfigError

    params = (params or MsiParams()).check()
    bams = [str(b) for b in bams]
    if len(bams) < params.min_normals:
        raise ConfigError(
            f"expected at least {params.min_normals} normal BAMs for an MSI baseline; found {len(bams)}"
        )
    lengths = _reference_lengths(reference)
    regions = read_regions(regions_bed, reference) if regions_bed is not None else None
    sites = scan_sites(reference, regions, params, use_jit=use_jit)
    peaks = np.full((len(bams), len(sites)), -1, dtype=np.int64)
    pooled: list[dict[int, int]] = [{} for _ in range(len(sites))]
    reads = np.zeros((len(bams), len(sites)), dtype=np.int64)
    for b, bam in enumerate(bams):
        dist = site_distributions(bam, sites, params, reference, lengths, use_jit=use_jit)
        reads[b] = dist.reads
        for i in np.flatnonzero(dist.reads >= params.min_reads).tolist():
            ln, cn = dist.of(i)
            peaks[b, i] = count_peaks(cn, params.peak_fraction, params.peak_min_reads)
            acc = pooled[i]
            for length, count in zip(ln.tolist(), cn.tolist(), strict=True):
                acc[length] = acc.get(length, 0) + count
    n_ok = (peaks >= 0).sum(axis=0)
    kept = []
    for i in np.flatnonzero(n_ok >= params.min_normals).tolist():
        values = peaks[peaks[:, i] >= 0, i].astype(float)
        kept.append(
            {
                **_site_record(sites, i),
                "normals": int(values.size),
                "mean_peaks": round(float(values.mean()), 4),
                "sd_peaks": round(float(values.std(ddof=1)) if values.size > 1 else 0.0, 4),
                "median_reads": int(np.median(reads[peaks[:, i] >= 0, i])),
                "distribution": {str(k): v for k, v in sorted(pooled[i].items())},
            }
        )
    document = {
        "format": BASELINE_FORMAT,
        "version": BASELINE_VERSION,
        "reference": {"path": str(reference), "contigs": lengths},
        "regions": None if regions_bed is None else str(regions_bed),
        "normals": bams,
        "parameters": asdict(params),
        "sites_scanned": int(len(sites)),
        "sites_dropped": int(len(sites) - len(kept)),
        "sites": kept,
    }
    log.info(
        "MSI baseline: %d normals, %d sites scanned, %d kept (>= %d normals with >= %d reads)",
        len(bams),
        len(sites),
        len(kept),
        params.min_normals,
        params.min_reads,
    )
    if output is not None:
        write_json(output, document)
    return document


_BASELINE_SITE_KEYS = {
    "chrom": str,
    "pos": int,
    "end": int,
    "unit": str,
    "mean_peaks": (int, float),
    "sd_peaks": (int, float),
}


def load_baseline(path) -> tuple[dict, Sites]:
    """Read and check a baseline written by :func:`build_baseline`; returns ``(document, sites)``."""
    from .._io import read_json
    from ..errors import InputError

    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != BASELINE_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"expected an MSI baseline (format {BASELINE_FORMAT!r}); found {found!r}", path=path)
    if doc.get("version") != BASELINE_VERSION:
        raise InputError(
            f"expected MSI baseline version {BASELINE_VERSION}; found {doc.get('version')!r}", path=path
        )
    contigs = (doc.get("reference") or {}).get("contigs")
    if not isinstance(contigs, dict) or not isinstance(doc.get("sites"), list):
        raise InputError(
            "expected 'reference.contigs' and 'sites' in the MSI baseline; found none", path=path
        )
    for n, site in enumerate(doc["sites"], 1):
        for key, kind in _BASELINE_SITE_KEYS.items():
            if (
                not isinstance(site, dict)
                or not isinstance(site.get(key), kind)
                or isinstance(site.get(key), bool)
            ):
                raise InputError(
                    f"expected site {n} to have {key!r} ({getattr(kind, '__name__', 'number')}); "
                    f"found {site.get(key) if isinstance(site, dict) else site!r}",
                    path=path,
                )
    rows = sorted(
        doc["sites"],
        key=lambda s: (list(contigs).index(s["chrom"]) if s["chrom"] in contigs else len(contigs), s["pos"]),
    )
    doc["sites"] = rows
    sites = Sites(
        np.array([s["chrom"] for s in rows], dtype=object),
        np.array([s["pos"] - 1 for s in rows], dtype=np.int64),
        np.array([s["end"] for s in rows], dtype=np.int64),
        np.array([s["unit"] for s in rows], dtype=object),
    )
    return doc, sites


def score_tumor_only(
    tumor_bam, baseline, reference=None, params: MsiParams | None = None, use_jit: bool = True
) -> dict:
    """mSINGS-style tumour-only MSI against a baseline (:func:`build_baseline`): a site with
    >= ``min_reads`` spanning reads is unstable when its number of length peaks exceeds the
    baseline's mean + ``sd_multiplier`` × SD. Score = % unstable of evaluable sites. The read
    filters and site set are the baseline's; ``params`` supplies the calling thresholds.
    ``reference`` is needed only to decode a CRAM.
    """
    params = (params or MsiParams()).check()
    doc, sites = load_baseline(baseline)
    stored = doc.get("parameters") or {}
    reads_params = MsiParams(
        **{
            **asdict(params),
            **{
                k: stored[k]
                for k in ("flank", "min_mapq", "min_mean_bq", "peak_fraction", "peak_min_reads")
                if k in stored
            },
        }
    ).check()
    lengths = {str(k): int(v) for k, v in doc["reference"]["contigs"].items()}
    tumor = site_distributions(tumor_bam, sites, reads_params, reference, lengths, use_jit=use_jit)
    evaluable = np.flatnonzero(tumor.reads >= params.min_reads)
    listed = []
    unstable = 0
    for i in evaluable.tolist():
        lt, ct = tumor.of(i)
        peaks = count_peaks(ct, reads_params.peak_fraction, reads_params.peak_min_reads)
        base = doc["sites"][i]
        limit = float(base["mean_peaks"]) + params.sd_multiplier * float(base["sd_peaks"])
        if peaks > limit:
            unstable += 1
            listed.append(
                {
                    **_site_record(sites, i),
                    "tumor_reads": int(tumor.reads[i]),
                    "tumor_peaks": peaks,
                    "baseline_mean_peaks": base["mean_peaks"],
                    "baseline_sd_peaks": base["sd_peaks"],
                    "tumor_modal_length": _modal(lt, ct),
                }
            )
    return _result(
        "tumor_only",
        sites,
        int(evaluable.size),
        unstable,
        listed,
        params,
        {
            "tumor_bam": str(tumor_bam),
            "baseline": str(baseline),
            "baseline_normals": len(doc.get("normals") or []),
        },
    )


def compute_msi_bam(
    tumor_bam,
    *,
    reference=None,
    normal_bam=None,
    baseline=None,
    regions=None,
    params: MsiParams | None = None,
    use_jit: bool = True,
) -> dict:
    """MSI section from reads: paired when ``normal_bam`` is given (``reference`` required),
    else tumour-only against ``baseline``. ``regions``: interval set (0-based half-open) limiting the
    paired site scan; ignored in tumour-only mode (the baseline fixes the sites)."""
    from ..errors import ConfigError

    if normal_bam is not None and baseline is not None:
        raise ConfigError("expected either a normal BAM or an MSI baseline; found both")
    if normal_bam is not None:
        if reference is None:
            raise ConfigError(
                "expected --reference for paired BAM-based MSI (sites are scanned in it); found none"
            )
        return score_paired(tumor_bam, normal_bam, reference, regions, params, use_jit=use_jit)
    if baseline is not None:
        return score_tumor_only(tumor_bam, baseline, reference, params, use_jit=use_jit)
    raise ConfigError("expected a normal BAM or an MSI baseline for BAM-based MSI; found neither")
