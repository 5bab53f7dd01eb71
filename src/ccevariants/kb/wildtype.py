"""Is a wild-type requirement assessable? Absence of a call proves nothing unless the loci were seen.

A ``wildtype`` statement (e.g. RAS wild-type for cetuximab / panitumumab in colorectal cancer) is
satisfied only when every gene / codon it names was **assessable** in this sample, decided per
requirement (gene, and its codons when the biomarker names codons or protein changes), first
applicable rule wins:

1. ``coverage`` per locus -- biomarkers.json ``coverage`` has locus entries for the gene's codons
   (keys ``codon`` / ``residue`` / ``protein_position``, 1-based residues, with ``adequate``): every
   named codon needs an adequately covered locus entry; any inadequate one makes it not assessable.
2. ``coverage`` per gene -- a ``coverage`` entry for the gene: ``adequate: true`` → assessable,
   ``false`` → not assessable (measured coverage is never overridden by a declared BED).
3. ``callable_bed`` -- no coverage data for the gene, but the caller gave the sample's callable BED
   *and* the annotation: every genomic base of every named codon (or, for gene-level requirements,
   every coding base of the reporting transcript) lies inside the BED.
4. otherwise not assessable (no coverage data, no BED: the absence of calls is uninformative).

A non-PASS call at a required locus also makes the requirement not assessable (a filtered KRAS G12D
must be reviewed, not read as wild-type).

Coordinates: residues are 1-based protein positions; genomic loci are 1-based ``(chrom, pos)``;
the BED is 0-based half-open (read by :func:`ccevariants.biomarkers._regions.read_bed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import Biomarker, parse_protein_change

RESIDUE_KEYS = ("codon", "residue", "protein_position", "aa_position")


@dataclass
class Assessment:
    """Outcome for one wild-type biomarker: ``assessable``, the basis per gene and one line per rule."""

    assessable: bool
    basis: dict[str, str] = field(
        default_factory=dict
    )  # gene -> coverage_locus | coverage_gene | callable_bed
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "assessable": self.assessable,
            "basis": dict(sorted(self.basis.items())),
            "details": list(self.lines),
            "problems": list(self.problems),
        }


def requirements(b: Biomarker) -> list[tuple[str, tuple[int, ...] | None]]:
    """``[(gene, residues or None)]`` for the ``absent`` biomarkers of a wild-type biomarker.

    Codon and variant biomarkers name 1-based residues; any other type (exon, functional, CNA, ...)
    is a gene-level requirement (``None``: the whole coding sequence must be assessable).
    """
    out: dict[str, set[int] | None] = {}
    for absent in b.absent:
        if not absent.gene:
            continue
        if absent.type == "codon":
            residues = {pos for _ref, pos in absent.codons}
        elif absent.type == "variant":
            residues = {p[1] for p in (parse_protein_change(a) for a in absent.alterations) if p}
        else:
            residues = None
        if not residues or out.get(absent.gene, set()) is None:
            out[absent.gene] = None
        else:
            out.setdefault(absent.gene, set()).update(residues)
    return [(g, None if r is None else tuple(sorted(r))) for g, r in sorted(out.items())]


def coverage_tables(biomarkers: dict) -> tuple[dict[str, dict], dict[tuple[str, int], list[dict]]]:
    """Gene entries and per-locus entries (keyed by gene and 1-based residue) of ``coverage``.

    Accepts the biomarkers.json ``coverage`` list of gene entries ``{gene, adequate, ...}`` whose
    optional ``loci`` list holds locus entries, or an object ``{"genes": [...], "loci": [...]}``; a
    locus entry names its gene and residue (``codon`` / ``residue`` / ``protein_position``) and has
    ``adequate``. Locus entries without a residue (genomic positions only) are not used here.
    """
    cov = biomarkers.get("coverage") if isinstance(biomarkers, dict) else None
    gene_entries: list = []
    locus_entries: list = []
    if isinstance(cov, list):
        gene_entries = cov
    elif isinstance(cov, dict):
        gene_entries = list(cov.get("genes") or cov.get("per_gene") or [])
        locus_entries = list(cov.get("loci") or cov.get("per_locus") or [])
    genes: dict[str, dict] = {}
    for entry in gene_entries:
        if not isinstance(entry, dict) or not entry.get("gene"):
            continue
        gene = str(entry["gene"]).upper()
        genes[gene] = entry
        for locus in entry.get("loci") or []:
            if isinstance(locus, dict):
                locus_entries.append({"gene": gene, **locus})
    loci: dict[tuple[str, int], list[dict]] = {}
    for locus in locus_entries:
        if not isinstance(locus, dict) or not locus.get("gene"):
            continue
        residue = next((locus[k] for k in RESIDUE_KEYS if isinstance(locus.get(k), int)), None)
        if residue is None:
            continue
        loci.setdefault((str(locus["gene"]).upper(), int(residue)), []).append(locus)
    return genes, loci


def codon_loci(index, gene: str, residues: tuple[int, ...] | None) -> tuple[str, np.ndarray] | None:
    """Contig and 0-based genomic positions of the named codons (all coding bases when ``residues``
    is None) on the gene's reporting transcript, or None when the annotation lacks the gene / codons."""
    try:
        t = index.transcript_for_gene(gene)
    except KeyError:
        return None
    rows = index.cds_rows(t)
    starts = np.asarray(index.cds.start[rows], dtype=np.int64)
    ends = np.asarray(index.cds.end[rows], dtype=np.int64)
    if starts.size == 0:
        return None
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    genomic = np.concatenate([np.arange(s, e, dtype=np.int64) for s, e in zip(starts, ends, strict=True)])
    if int(index.transcripts.strand[t]) < 0:
        genomic = genomic[::-1]  # transcript direction: CDS position 1 first
    chrom = str(index.transcripts.chrom[t])
    if residues is None:
        return chrom, genomic
    cds = np.concatenate(
        [np.arange(3 * r - 3, 3 * r, dtype=np.int64) for r in residues]
    )  # 0-based CDS offsets
    if cds.max() >= genomic.size:
        return None
    return chrom, genomic[cds]


def assess(
    b: Biomarker,
    biomarkers: dict,
    regions=None,
    annotation=None,
    filtered_hits: list[str] | None = None,
) -> Assessment:
    """Decide whether the wild-type biomarker ``b`` can be asserted (module docstring rules).

    ``regions``: the sample's callable region (interval set from ``read_bed``), ``annotation``: a
    :class:`~ccevariants.transcripts.TranscriptIndex` (both needed for the BED rule);
    ``filtered_hits``: descriptions of non-PASS calls that match one of the absent biomarkers.
    """
    genes, loci = coverage_tables(biomarkers)
    result = Assessment(assessable=True)
    for hit in filtered_hits or ():
        result.problems.append(
            f"non-PASS call at a required locus: {hit} (review before asserting wild-type)"
        )
    for gene, residues in requirements(b):
        what = gene if residues is None else f"{gene} codons {', '.join(str(r) for r in residues)}"
        verdict = _by_coverage(gene, residues, genes, loci)
        if verdict is None:
            verdict = _by_bed(gene, residues, regions, annotation, biomarkers)
        ok, basis, line = verdict
        (result.lines if ok else result.problems).append(f"{what}: {line}")
        if ok:
            result.basis[gene] = basis
    result.assessable = not result.problems
    return result


def _by_coverage(gene, residues, genes, loci):
    """``(ok, basis, line)`` from coverage data, or None when there is none for this gene."""
    if residues is not None and any((gene, r) in loci for r in residues):
        bad, missing = [], []
        for r in residues:
            entries = loci.get((gene, r))
            if not entries:
                missing.append(r)
            elif not all(bool(e.get("adequate")) for e in entries):
                bad.append(r)
        if bad:
            return False, "coverage_locus", f"codon(s) {', '.join(map(str, bad))} not adequately covered"
        if not missing:
            return True, "coverage_locus", "every codon adequately covered (per-locus coverage)"
        entry = genes.get(gene)
        if entry is not None and entry.get("adequate") is True:
            return (
                True,
                "coverage_locus",
                (f"codon(s) {', '.join(map(str, missing))} without locus data; gene adequately covered"),
            )
        return False, "coverage_locus", f"no locus coverage for codon(s) {', '.join(map(str, missing))}"
    entry = genes.get(gene)
    if entry is None:
        return None
    detail = _coverage_text(entry)
    if entry.get("adequate") is True:
        return True, "coverage_gene", f"gene adequately covered{detail}"
    return False, "coverage_gene", f"gene not adequately covered{detail}"


def _coverage_text(entry: dict) -> str:
    parts = []
    if entry.get("mean_depth") is not None:
        parts.append(f"mean depth {entry['mean_depth']}")
    if entry.get("fraction_at_threshold") is not None:
        parts.append(f"{entry['fraction_at_threshold']} of bases >= {entry.get('threshold', '?')}x")
    return f" ({', '.join(parts)})" if parts else ""


def _by_bed(gene, residues, regions, annotation, biomarkers):
    """``(ok, basis, line)`` from the callable BED and the annotation (always returns a verdict)."""
    if regions is None or annotation is None:
        tmb = biomarkers.get("tmb") if isinstance(biomarkers, dict) else None
        used_bed = isinstance(tmb, dict) and tmb.get("callable_source") == "bed"
        missing = "no callable BED" if regions is None else "no annotation to place the codons"
        hint = (
            "; a callable BED was used for TMB: pass it and the annotation to ccev match (--callable-bed, --annotation)"
            if used_bed and regions is None
            else ""
        )
        return False, "none", f"no coverage data and {missing}: absence of calls is not evidence{hint}"
    from ..biomarkers import _regions

    placed = codon_loci(annotation, gene, residues)
    if placed is None:
        return False, "callable_bed", "gene or codons not found in the annotation"
    chrom, pos0 = placed
    inside = _regions.contains(regions, np.full(pos0.size, chrom, dtype=object), pos0)
    if inside.all():
        scope = "all coding bases" if residues is None else "all bases of these codons"
        return True, "callable_bed", f"{scope} inside the callable BED ({chrom}, {pos0.size} bases)"
    outside = pos0[~inside] + 1
    shown = ", ".join(f"{chrom}:{p}" for p in outside[:6].tolist())
    more = f" (+{outside.size - 6} more)" if outside.size > 6 else ""
    return False, "callable_bed", f"{outside.size} base(s) outside the callable BED: {shown}{more}"
