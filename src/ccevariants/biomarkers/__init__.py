"""Biomarkers stage (contracts §4): TMB, MSI (from reads, else a VCF-based estimate), copy-number alterations, fusions.

:func:`compute_biomarkers` reads the annotated variant table (contracts §3) and the optional
copy-number, SV and fusion inputs, and writes ``biomarkers.json`` atomically. Submodules:
:mod:`.tmb`, :mod:`.msi`, :mod:`.cna`, :mod:`.fusions`; interval helpers in :mod:`._regions`
(0-based half-open), gene look-ups over the transcript index in :mod:`._genes`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


def _load_variants(variants):
    import pandas as pd

    from ..errors import InputError
    from .tmb import REQUIRED_COLUMNS

    if isinstance(variants, pd.DataFrame):
        table, where = variants, "<variant table>"
    else:
        where = str(variants)
        if not Path(variants).exists():
            raise InputError(
                "expected an existing annotated variant table (Parquet); found none", path=variants
            )
        try:
            table = pd.read_parquet(variants)
        except Exception as exc:  # pyarrow raises several unrelated types for a non-Parquet file
            raise InputError(
                f"expected a Parquet variant table; found unreadable file ({exc})", path=variants
            ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"expected the annotated-table columns (contracts §3) {', '.join(REQUIRED_COLUMNS)}; "
            f"found none of {', '.join(missing)}",
            path=where,
        )
    return table


def _reference_contigs(reference) -> dict[str, int] | None:
    if reference is None:
        return None
    from ..contigs import read_fai
    from ..errors import InputError

    fai = Path(str(reference) + ".fai")
    if fai.exists():
        return read_fai(fai)
    if not Path(reference).exists():
        raise InputError("expected an existing reference FASTA; found none", path=reference)
    import pysam

    with pysam.FastaFile(str(reference)) as fasta:
        return dict(zip(fasta.references, fasta.lengths, strict=True))


def load_gene_model(annotation):
    """Transcript index (contracts §8) wrapped for biomarker look-ups; None when no annotation."""
    if annotation is None:
        return None
    from ._genes import GeneModel

    try:
        from ..transcripts import load_annotation
    except ImportError as exc:  # pragma: no cover - only before the annotation stage is installed
        from ..errors import ConfigError

        raise ConfigError(
            f"expected ccevariants.transcripts (annotation stage) to be installed; found {exc}"
        ) from None
    return GeneModel(load_annotation(annotation))


def compute_biomarkers(
    variants,
    output: PathLike | None,
    annotation: PathLike | None = None,
    reference: PathLike | None = None,
    cnv: PathLike | None = None,
    sv_vcf: PathLike | None = None,
    fusions: PathLike | None = None,
    assay: str | None = None,
    callable_bed: PathLike | None = None,
    callable_mb: float | None = None,
    purity: float | None = None,
    tumor_only: bool = False,
    *,
    genes=None,
    tmb_threshold: float = 10.0,
    amp_threshold: float = 6.0,
    del_threshold: float = 0.5,
    tumor_sample: str | None = None,
    protein_domains: PathLike | None = None,
    bam: PathLike | None = None,
    coverage_genes: list[str] | None = None,
    coverage_min_depth: int | None = None,
    coverage_min_fraction: float = 0.95,
    lineage: list[str] | None = None,
    kb_statements=None,
    normal_bam: PathLike | None = None,
    msi_baseline: PathLike | None = None,
    msi_regions: PathLike | None = None,
    msi_min_sites: int | None = None,
) -> dict:
    """Compute every biomarker and write ``output`` (JSON, contracts §4) atomically; returns the document.

    ``variants``: annotated Parquet table path or a DataFrame with the contracts §3 columns.
    ``genes``: an already-built :class:`._genes.GeneModel` (else built from ``annotation``).
    ``protein_domains``: kinase-domain TSV (``gene start end [name]``, amino acids) for
    ``kinase_domain_retained``; default: the bundled UniProt table ``data/kinase_domains.tsv`` (genes
    absent from the table get null with a reason).
    ``bam``: tumour BAM/CRAM → ``coverage`` (:func:`.coverage.assess_coverage`: per gene and per
    actionable locus — the pertinent-negative genes of the tumour type ``lineage`` (OncoTree codes root →
    leaf) and the codon/variant/exon/wild-type loci of ``kb_statements`` — with ``adequate`` flags at
    ``coverage_min_depth`` (default by assay) and sample QC in ``coverage_qc``).
    ``normal_bam`` (matched normal, paired MSIsensor-style) or ``msi_baseline`` (baseline JSON of
    normals, tumour-only mSINGS-style) with ``bam``: MSI scored from reads (:func:`.msi.compute_msi_bam`)
    over the sites of ``msi_regions`` (BED), else of the callable BED, else of the whole reference;
    without them the VCF-based estimate is the fallback (``msi.basis == "vcf"``).
    Nothing is written when any input is invalid.
    """
    from .._io import write_json
    from ..errors import ConfigError
    from . import _regions
    from . import cna as cna_mod
    from . import fusions as fusion_mod
    from .msi import compute_msi
    from .tmb import compute_tmb, one_row_per_variant

    if assay is not None and assay not in ("panel", "wes", "wgs"):
        raise ConfigError(f"expected assay panel, wes or wgs; found {assay!r}")
    if purity is not None and not (0 < float(purity) <= 1):
        raise ConfigError(f"expected tumour purity in (0, 1]; found {purity}")
    if not 0 < float(coverage_min_fraction) <= 1:
        raise ConfigError(f"expected a coverage fraction in (0, 1]; found {coverage_min_fraction}")
    if callable_mb is not None and not float(callable_mb) > 0:
        raise ConfigError(f"expected callable megabases > 0; found {callable_mb}")

    table = _load_variants(variants)
    contigs = _reference_contigs(reference)
    if genes is None:
        genes = load_gene_model(annotation)
    bed = _regions.read_bed(callable_bed, contigs) if callable_bed is not None else None
    cds = genes.cds_intervals() if genes is not None else None
    warnings: list[str] = []

    tmb = compute_tmb(
        table,
        assay=assay,
        callable_bed=bed,
        cds=cds,
        callable_mb=callable_mb,
        tumor_only=tumor_only,
        threshold=tmb_threshold,
    )
    rows = one_row_per_variant(table)
    msi_mb = (
        callable_mb
        if callable_mb is not None
        else (_regions.total_length(bed) / 1e6 if bed is not None else None)
    )
    if normal_bam is not None or msi_baseline is not None:
        if bam is None:
            raise ConfigError(
                "expected --bam (the tumour BAM/CRAM) together with --normal-bam/--msi-baseline; found none"
            )
        from .msi import MsiParams, compute_msi_bam, read_regions

        msi_sites = bed
        if msi_regions is not None:
            if reference is None:
                raise ConfigError("expected --reference together with --msi-regions; found none")
            msi_sites = read_regions(msi_regions, reference)
        msi = compute_msi_bam(
            bam,
            reference=reference,
            normal_bam=normal_bam,
            baseline=msi_baseline,
            regions=msi_sites,
            params=MsiParams() if msi_min_sites is None else MsiParams(min_sites=int(msi_min_sites)),
        )
    else:
        msi = compute_msi(rows, reference, callable_regions=bed, callable_mb=msi_mb, tumor_only=tumor_only)
        if bam is not None:
            msi["bam_not_used"] = (
                "a tumour BAM was given without --normal-bam or --msi-baseline: MSI was not scored from reads"
            )

    cna_calls: list[dict] = []
    cna_summary = None
    if cnv is not None:
        cn_table = cna_mod.read_copy_number(cnv, purity=purity)
        cna_calls, cna_summary = cna_mod.call_genes(
            cn_table, genes, amp_threshold=amp_threshold, del_threshold=del_threshold
        )
        if cna_summary["unmapped_segments"]:
            warnings.append(f"{cna_summary['unmapped_segments']} copy-number segments not mapped to genes")

    if protein_domains is None:
        # bundled UniProt kinase-domain table (data/kinase_domains.tsv); --protein-domains overrides it
        from importlib import resources

        protein_domains = Path(str(resources.files("ccevariants") / "data" / "kinase_domains.tsv"))
    domains = fusion_mod.read_protein_domains(protein_domains)
    fusion_calls: list[dict] = []
    fusion_summary: dict = {}
    if sv_vcf is not None:
        sv = fusion_mod.read_sv_vcf(sv_vcf, tumor_sample=tumor_sample)
        calls, summary = fusion_mod.fusions_from_junctions(
            sv.junctions, genes, source="sv_vcf", domains=domains
        )
        fusion_calls.extend(calls)
        fusion_summary["sv_vcf"] = {**sv.counts, **summary}
        if sv.counts["unpaired_breakends"]:
            warnings.append(
                f"{sv.counts['unpaired_breakends']} unpaired breakends in {sv_vcf} (MATEID not in file)"
            )
        if genes is None and sv.junctions:
            warnings.append(f"{len(sv.junctions)} SV junctions not assessed for fusions: no annotation given")
    if fusions is not None:
        calls, summary = fusion_mod.read_fusion_table(fusions, genes, domains)
        fusion_calls.extend(calls)
        fusion_summary["fusion_table"] = summary

    coverage = coverage_qc = None
    if bam is not None:
        if genes is None:
            raise ConfigError(
                "expected --annotation together with --bam (coverage is computed per gene CDS); found none"
            )
        from .coverage import assess_coverage

        assessed = assess_coverage(
            bam,
            genes,
            lineage=lineage,
            statements=kb_statements,
            regions=bed,
            assay=assay,
            min_depth=coverage_min_depth,
            min_fraction=coverage_min_fraction,
            gene_names=coverage_genes,
            reference=reference,
        )
        coverage = assessed["genes"]
        coverage_qc = assessed["qc"]

    document = {
        "tmb": tmb,
        "msi": msi,
        "cna": cna_calls,
        "fusions": fusion_calls,
        "cna_summary": cna_summary,
        "fusion_summary": fusion_summary,
        "warnings": warnings,
        "coverage": coverage,
        "coverage_qc": coverage_qc,
        "inputs": {
            "variants": None if not isinstance(variants, str | os.PathLike) else str(variants),
            "annotation": None if annotation is None else str(annotation),
            "reference": None if reference is None else str(reference),
            "cnv": None if cnv is None else str(cnv),
            "sv_vcf": None if sv_vcf is None else str(sv_vcf),
            "fusions": None if fusions is None else str(fusions),
            "callable_bed": None if callable_bed is None else str(callable_bed),
            "assay": assay,
            "purity": purity,
            "tumor_only": bool(tumor_only),
            "normal_bam": None if normal_bam is None else str(normal_bam),
            "msi_baseline": None if msi_baseline is None else str(msi_baseline),
        },
    }
    for message in warnings:
        log.warning(message)
    if output is not None:
        write_json(output, document)
    return document


__all__ = ["compute_biomarkers", "load_gene_model"]
