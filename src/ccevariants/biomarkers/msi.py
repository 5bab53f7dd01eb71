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
"""

from __future__ import annotations

import logging

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
