"""Tumour mutational burden (TMB) from the annotated variant table (contracts §3 → §4 ``tmb``).

Definition (after the FoundationOne method, Chalmers et al., Genome Med 2017;9:34, PMID 28420421):
TMB = eligible somatic coding mutations / callable coding megabases, where a mutation is eligible when

* it is a PASS (or unfiltered ``.``) SNV, MNV or indel (no symbolic / structural alleles),
* it overlaps a coding sequence — any coding consequence, **including synonymous** (synonymous
  changes are counted because they raise the sampling size, Chalmers 2017),
* its reference span overlaps the callable region (``--callable-bed``) when one is given,
* tumour VAF >= 0.05 and tumour depth >= 25 (variants without read support are excluded and counted),
* in tumour-only mode it does not look germline: VAF in [0.45, 0.55] or >= 0.95 is excluded
  (heuristic; no population database is consulted offline).

Difference from FoundationOne: known COSMIC hotspots and truncations in tumour suppressors are **not**
excluded (no COSMIC offline), which slightly inflates panel TMB relative to F1CDx.

Denominator (``callable_source``):
``bed``  — the merged BED size, intersected with the annotated CDS when an annotation is given
(numerator counts coding variants only, so the denominator is coding territory too);
``assay`` — ``callable_mb`` declared for the assay (CLI ``--callable-mb`` or config), or for wes/wgs
without a BED the whole annotated CDS (every coding base assumed callable: an upper bound on the
territory, so TMB is a lower bound); ``none`` — unknown (panel without a size): ``not_assessable``.

Positions: the table's ``pos`` is 1-based (contracts §3); interval sets are 0-based half-open.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from . import _regions

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 10.0
MIN_VAF = 0.05
MIN_DEPTH = 25
GERMLINE_HET = (0.45, 0.55)
GERMLINE_HOM = 0.95
#: Declared callable coding megabases per assay (config key ``tmb.assay_callable_mb``); None = unknown.
ASSAY_CALLABLE_MB: dict[str, float | None] = {"panel": None, "wes": None, "wgs": None}

#: Sequence Ontology terms that mean "the variant changes the coding sequence" (incl. synonymous).
CODING_TERMS = frozenset(
    {
        "missense_variant",
        "synonymous_variant",
        "stop_gained",
        "stop_lost",
        "stop_retained_variant",
        "start_lost",
        "start_retained_variant",
        "initiator_codon_variant",
        "frameshift_variant",
        "inframe_insertion",
        "inframe_deletion",
        "protein_altering_variant",
        "coding_sequence_variant",
        "incomplete_terminal_codon_variant",
    }
)

REQUIRED_COLUMNS = ("variant_id", "chrom", "pos", "ref", "alt", "filter", "t_dp", "t_af", "consequence")


def _is_coding(consequence: pd.Series) -> np.ndarray:
    """Per row: does the ``&``-joined SO term list contain a coding term? (evaluated per distinct value)"""
    codes, uniques = pd.factorize(consequence.fillna("").astype(str), sort=False)
    per_unique = np.fromiter(
        (bool(CODING_TERMS.intersection(u.split("&"))) for u in uniques), dtype=bool, count=len(uniques)
    )
    return per_unique[codes] if len(uniques) else np.zeros(len(codes), dtype=bool)


def one_row_per_variant(table: pd.DataFrame) -> pd.DataFrame:
    """The ``pick`` row of each variant (first row when none is picked), with ``coding`` = any row coding."""
    if table.empty:
        out = table.copy()
        out["coding"] = np.zeros(0, dtype=bool)
        return out
    coding_any = (
        pd.Series(_is_coding(table["consequence"]), index=table.index).groupby(table["variant_id"]).any()
    )
    if "pick" in table.columns:
        ordered = table.assign(_pick=~table["pick"].fillna(False).astype(bool)).sort_values(
            ["variant_id", "_pick"], kind="stable"
        )
        rows = ordered.drop_duplicates("variant_id", keep="first").drop(columns="_pick")
    else:
        rows = table.drop_duplicates("variant_id", keep="first")
    rows = rows.copy()
    rows["coding"] = coding_any.reindex(rows["variant_id"]).to_numpy()
    return rows.sort_values(["chrom", "pos", "ref", "alt"], kind="stable").reset_index(drop=True)


def _allele_props(alleles: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(length, is a plain base string) per row, computed once per distinct allele."""
    codes, uniques = pd.factorize(alleles.astype(str), sort=False)
    lengths = np.fromiter((len(u) for u in uniques), dtype=np.int64, count=len(uniques))
    plain = np.fromiter((bool(u) and u.isalpha() for u in uniques), dtype=bool, count=len(uniques))
    return lengths[codes], plain[codes]


def variant_class(ref: pd.Series, alt: pd.Series) -> np.ndarray:
    """``snv``/``mnv``/``indel``/``other`` (symbolic, breakend, spanning deletion, missing) per allele."""
    if len(ref) == 0:
        return np.zeros(0, dtype=object)
    ref_len, ref_plain = _allele_props(ref)
    alt_len, alt_plain = _allele_props(alt)
    out = np.full(ref_len.size, "other", dtype=object)
    ok = ref_plain & alt_plain
    same = ok & (ref_len == alt_len)
    out[same & (ref_len == 1)] = "snv"
    out[same & (ref_len > 1)] = "mnv"
    out[ok & (ref_len != alt_len)] = "indel"
    return out


def eligible_mask(
    rows: pd.DataFrame,
    *,
    callable_regions: _regions.IntervalSet | None,
    tumor_only: bool,
    min_vaf: float = MIN_VAF,
    min_depth: int = MIN_DEPTH,
) -> tuple[np.ndarray, dict[str, int]]:
    """Apply the eligibility rules in order; returns the mask and the count removed by each rule."""
    excluded: dict[str, int] = {}
    keep = np.ones(len(rows), dtype=bool)

    def apply(reason: str, ok: np.ndarray) -> None:
        nonlocal keep
        dropped = keep & ~ok
        excluded[reason] = int(dropped.sum())
        keep = keep & ok

    filt = rows["filter"].fillna("").astype(str).to_numpy()
    apply("not_pass", np.isin(filt, ["PASS", "."]))
    apply("not_snv_mnv_indel", variant_class(rows["ref"], rows["alt"]) != "other")
    apply("not_coding", rows["coding"].to_numpy(dtype=bool))
    if callable_regions is not None:
        start0 = rows["pos"].to_numpy(dtype=np.int64) - 1
        end0 = start0 + rows["ref"].astype(str).str.len().to_numpy(dtype=np.int64)
        apply(
            "outside_callable",
            _regions.overlaps_any(callable_regions, rows["chrom"].to_numpy(), start0, end0),
        )
    depth = pd.to_numeric(rows["t_dp"], errors="coerce").fillna(-1).to_numpy()
    vaf = pd.to_numeric(rows["t_af"], errors="coerce").to_numpy(dtype=float)
    apply("missing_read_support", (depth >= 0) & ~np.isnan(vaf))
    apply("low_depth", depth >= min_depth)
    apply("low_vaf", np.nan_to_num(vaf, nan=0.0) >= min_vaf)
    if tumor_only:
        lo, hi = GERMLINE_HET
        germline = ((vaf >= lo) & (vaf <= hi)) | (vaf >= GERMLINE_HOM)
        apply("likely_germline_tumor_only", ~germline)
    return keep, excluded


def compute_tmb(
    table: pd.DataFrame,
    *,
    assay: str | None = None,
    callable_bed: _regions.IntervalSet | None = None,
    cds: _regions.IntervalSet | None = None,
    callable_mb: float | None = None,
    tumor_only: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    assay_callable_mb: dict[str, float | None] | None = None,
) -> dict:
    """TMB section of ``biomarkers.json`` (contracts §4), with the definition and exclusions recorded.

    ``callable_bed`` and ``cds`` are 0-based half-open interval sets whose contig names match the
    table's ``chrom`` spelling (or differ only by the ``chr`` prefix).
    """
    rows = one_row_per_variant(table)
    notes: list[str] = []
    callable_regions = callable_bed
    if callable_bed is not None and cds is not None:
        callable_regions = _regions.intersect(_harmonised(callable_bed, cds), cds)
    keep, excluded = eligible_mask(rows, callable_regions=callable_regions, tumor_only=tumor_only)
    eligible = int(keep.sum())

    sizes = {**ASSAY_CALLABLE_MB, **(assay_callable_mb or {})}
    source = "none"
    mb: float | None = None
    if callable_mb is not None:
        if not callable_mb > 0:
            from ..errors import ConfigError

            raise ConfigError(f"expected callable megabases > 0; found {callable_mb}")
        mb, source = float(callable_mb), "assay"
        notes.append(f"callable territory declared as {mb:g} Mb")
    elif callable_bed is not None:
        if cds is not None:
            mb = _regions.total_length(callable_regions) / 1e6
            notes.append("callable territory = callable BED ∩ annotated CDS")
        else:
            mb = _regions.total_length(callable_bed) / 1e6
            notes.append(
                "callable territory = callable BED (no annotation given: BED assumed to be coding target)"
            )
        source = "bed"
        if mb == 0:
            notes.append("callable BED does not overlap any annotated CDS")
            mb, source = None, "none"
    elif assay is not None and sizes.get(assay) is not None:
        mb, source = float(sizes[assay]), "assay"
        notes.append(f"callable territory = declared size of the {assay} assay")
    elif assay in ("wes", "wgs") and cds is not None:
        mb, source = _regions.total_length(cds) / 1e6, "assay"
        notes.append(
            f"{assay} without a callable BED: every annotated CDS base assumed callable "
            "(territory over-estimated, so TMB is a lower bound)"
        )
    else:
        notes.append(
            "callable territory unknown (give --callable-bed or --callable-mb"
            + ("" if assay != "panel" else "; a panel has no default size")
            + ")"
        )

    value = None if mb is None else round(eligible / mb, 2)
    if value is None:
        status = "not_assessable"
    else:
        status = "high" if value >= threshold else "low"
        if mb < 1.0:
            notes.append(f"callable territory {mb:.3f} Mb < 1 Mb: TMB estimate has wide sampling error")
    if excluded.get("missing_read_support") and eligible == 0:
        status, value = "not_assessable", None
        notes.append("no tumour read support (depth/VAF) in the variant table")
    notes.append(
        "not a validated TMB assay: the 10 mut/Mb threshold was established with FoundationOne CDx "
        "(FDA pembrolizumab TMB-H label); values from other assays are not calibrated to it"
    )
    definition = (
        "coding SNV/MNV/indel incl. synonymous (FoundationOne method, Chalmers 2017, PMID 28420421), "
        f"PASS, tumour VAF >= {MIN_VAF}, depth >= {MIN_DEPTH}"
        + (", tumour-only: VAF 0.45-0.55 or >= 0.95 excluded as likely germline" if tumor_only else "")
        + "; per callable coding Mb"
    )
    return {
        "value": value,
        "eligible_variants": eligible,
        "callable_mb": None if mb is None else round(mb, 6),
        "callable_source": source,
        "definition": definition,
        "threshold": float(threshold),
        "status": status,
        "validated": False,
        "assay": assay,
        "tumor_only": bool(tumor_only),
        "variants_considered": len(rows),
        "excluded": excluded,
        "notes": notes,
    }


def _harmonised(intervals: _regions.IntervalSet, target: _regions.IntervalSet) -> _regions.IntervalSet:
    """Rename contigs of ``intervals`` to the spelling used by ``target`` (``chr1`` ↔ ``1``)."""
    from ..contigs import harmonise

    out: _regions.IntervalSet = {}
    for chrom, value in intervals.items():
        out[harmonise(chrom, target) or chrom] = value
    return out
