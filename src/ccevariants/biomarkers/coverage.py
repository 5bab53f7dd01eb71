"""Read depth from a tumour BAM/CRAM at the loci that decide pertinent negatives and wild-type calls.

A variant that was not called is only "not detected" when its locus was sequenced deeply enough;
this module measures that.

* :func:`assess_coverage` (the full assessment): depth over the **actionable territory** of the
  patient's tumour type — the pertinent-negative genes of :mod:`ccevariants.report.clinical` (codons,
  exons or whole CDS, as each negative is defined) and the loci of the knowledge base's codon /
  variant / exon / wild-type statements for that tumour type (or every tumour type when none is
  given) — per codon/exon locus and per gene, plus sample-level QC over the callable region
  (median depth, fraction of bases at the threshold). Codons are placed on the genome through the
  transcript index (reporting transcript, contracts §8).
* :func:`gene_coverage`: per-gene whole-CDS coverage (the list ``compute_biomarkers`` writes under
  ``coverage`` for ``--bam``), each gene with its codon loci.
* :func:`locus_depths`: depth at single 1-based loci (pysam ``count_coverage``, base quality >= 13).

Depth definition (:func:`depth_over`): reads that are unmapped, secondary, QC-fail or duplicates are
skipped (as ``samtools depth`` does by default; supplementary alignments count), as are reads below
``min_mapq``; every aligned base (CIGAR ``M``/``=``/``X``) adds 1, deletions and skips do not, base
quality is not filtered. This equals ``samtools depth -a`` (tested, and compared in
``benchmarks/coverage_msi.py``). The aligned blocks are collected with pysam and turned into a depth
vector by a Numba difference-array kernel.

Thresholds: ``min_depth`` default per assay (:data:`MIN_DEPTH_BY_ASSAY`: panel 100x, WES 50x, WGS
20x; pipeline defaults, configurable, **not** clinical standards — a laboratory sets them from its
validated limit of detection). A codon locus is adequate when every one of its bases reaches the
threshold; an exon or whole-CDS locus when the fraction of its coding bases at the threshold is
>= ``min_fraction`` (default 0.95). A gene is adequate when all its loci are.

Coordinates: inputs and outputs are **1-based inclusive** (``start``/``end``/``pos`` in the JSON);
internal arrays are 0-based half-open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..contigs import harmonise
from ..errors import ConfigError, InputError

MIN_DEPTH = 25  # gene_coverage's historical default: the TMB depth floor
MIN_DEPTH_BY_ASSAY = {"panel": 100, "wes": 50, "wgs": 20}
MIN_FRACTION = 0.95  # pipeline default (configurable), not a clinical standard
#: samtools' default read filter: UNMAP, SECONDARY, QCFAIL, DUP
FLAG_FILTER = 0x4 | 0x100 | 0x200 | 0x400
#: disease codes that apply to every solid tumour in the knowledge base
PAN_CANCER_CODES = frozenset({"SOLID", "PAN", "ALL", "TISSUE"})
#: windows closer than this are read in one pass
_JOIN_GAP = 2000


def _open(bam, reference=None):
    import pysam

    try:
        handle = pysam.AlignmentFile(
            str(bam), reference_filename=None if reference is None else str(reference)
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a readable, indexed BAM/CRAM; found {exc}", path=bam) from None
    if not handle.has_index():
        handle.close()
        raise InputError("expected a BAM/CRAM index (.bai/.crai) next to the file; found none", path=bam)
    return handle


def min_depth_for(assay: str | None, min_depth: int | None = None) -> int:
    """The depth threshold: ``min_depth`` when given, else the assay default (panel when unknown)."""
    if min_depth is not None:
        if int(min_depth) < 1:
            raise ConfigError(f"expected a minimum depth >= 1; found {min_depth}")
        return int(min_depth)
    if assay is not None and assay not in MIN_DEPTH_BY_ASSAY:
        raise ConfigError(f"expected assay panel, wes or wgs; found {assay!r}")
    return MIN_DEPTH_BY_ASSAY[assay or "panel"]


# --------------------------------------------------------------------------------------------------
# depth engine


def _depth_kernel_impl(starts, ends, lo, n):
    """Depth over ``[lo, lo + n)`` from aligned blocks ``[starts[i], ends[i])`` (0-based)."""
    diff = np.zeros(n + 1, dtype=np.int64)
    for i in range(starts.shape[0]):
        s = starts[i] - lo
        e = ends[i] - lo
        if s < 0:
            s = 0
        if e > n:
            e = n
        if e > s:
            diff[s] += 1
            diff[e] -= 1
    out = np.empty(n, dtype=np.int32)
    acc = 0
    for i in range(n):
        acc += diff[i]
        out[i] = acc
    return out


_kernel = None


def _depth_kernel(starts, ends, lo, n):
    global _kernel
    if _kernel is None:
        from .._numba import jit

        _kernel = jit(_depth_kernel_impl)
    return _kernel(starts, ends, np.int64(lo), np.int64(n))


def _blocks(handle, contig: str, start0: int, end0: int, min_mapq: int):
    starts: list[int] = []
    ends: list[int] = []
    add_s, add_e = starts.append, ends.append
    for read in handle.fetch(contig, start0, end0):
        if read.flag & FLAG_FILTER or (min_mapq and read.mapping_quality < min_mapq):
            continue
        for s, e in read.get_blocks():
            add_s(s)
            add_e(e)
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def depth_over(handle, contig: str, start0: int, end0: int, min_mapq: int = 0) -> np.ndarray:
    """Per-base depth (int32) over ``[start0, end0)`` (0-based half-open) of an open pysam file."""
    starts, ends = _blocks(handle, contig, start0, end0, min_mapq)
    return _depth_kernel(starts, ends, start0, end0 - start0)


class _DepthCache:
    """Depth vectors for windows covering every requested interval, read once per window."""

    def __init__(self, handle, requests: dict[str, list[tuple[int, int]]], min_mapq: int):
        self.windows: dict[str, list[tuple[int, int, np.ndarray]]] = {}
        for contig, ivs in requests.items():
            merged: list[list[int]] = []
            for s, e in sorted(ivs):
                if merged and s <= merged[-1][1] + _JOIN_GAP:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            self.windows[contig] = [(s, e, depth_over(handle, contig, s, e, min_mapq)) for s, e in merged]

    def get(self, contig: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Depths of the bases of intervals ``[starts[i], ends[i])``, concatenated."""
        parts = []
        wins = self.windows.get(contig, [])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            for ws, we, depth in wins:
                if ws <= s and e <= we:
                    parts.append(depth[s - ws : e - ws])
                    break
            else:  # pragma: no cover - every interval was requested
                raise RuntimeError("coverage bug: interval outside the read windows")
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def depth_at_loci(bam, chroms, positions, min_mapq: int = 0, reference=None) -> np.ndarray:
    """Depth (samtools-depth definition, module docstring) at 1-based ``positions`` on ``chroms``
    (parallel sequences); -1 where the BAM lacks the contig. Batched: loci are grouped into windows
    read once each (:data:`_JOIN_GAP`), so 10,000 loci cost a few streaming passes, not 10,000 fetches."""
    chroms = np.asarray(chroms, dtype=object)
    pos0 = np.asarray(positions, dtype=np.int64) - 1
    out = np.full(pos0.size, -1, dtype=np.int64)
    with _open(bam, reference) as handle:
        names = set(handle.references)
        lengths = dict(zip(handle.references, handle.lengths, strict=True))
        for chrom in dict.fromkeys(chroms.tolist()):
            contig = harmonise(str(chrom), names)
            if contig is None:
                continue
            idx = np.flatnonzero(chroms == chrom)
            p = pos0[idx]
            if (p < 0).any() or (p >= lengths[contig]).any():
                bad = int(p[(p < 0) | (p >= lengths[contig])][0]) + 1
                raise InputError(f"expected positions within {contig} (1..{lengths[contig]}); found {bad}")
            order = np.argsort(p, kind="stable")
            p_sorted = p[order]
            breaks = np.flatnonzero(np.diff(p_sorted) > _JOIN_GAP) + 1
            for block in np.split(np.arange(p_sorted.size), breaks):
                lo, hi = int(p_sorted[block[0]]), int(p_sorted[block[-1]]) + 1
                depth = depth_over(handle, contig, lo, hi, min_mapq)
                out[idx[order[block]]] = depth[p_sorted[block] - lo]
    return out


def _summary(depth: np.ndarray, threshold: int) -> dict:
    if depth.size == 0:
        return {"mean_depth": None, "min_depth": None, "fraction_at_threshold": None}
    return {
        "mean_depth": round(float(depth.mean()), 2),
        "min_depth": int(depth.min()),
        "fraction_at_threshold": round(float((depth >= threshold).mean()), 4),
    }


# --------------------------------------------------------------------------------------------------
# the actionable territory


@dataclass
class GeneScope:
    """What must be covered in one gene: codons (1-based residues), exons (transcript numbering),
    or the whole CDS (``whole``), and why (``sources``)."""

    gene: str
    codons: set[int] = field(default_factory=set)
    exons: set[int] = field(default_factory=set)
    whole: bool = False
    sources: set[str] = field(default_factory=set)


_RESIDUE = re.compile(r"^[A-Z*]?(\d+)")


def _residue(alteration: str) -> int | None:
    m = _RESIDUE.match(alteration.strip())
    return int(m.group(1)) if m else None


def actionable_scopes(lineage=None, statements=None, gene_names=None) -> dict[str, GeneScope]:
    """Gene → :class:`GeneScope` for a tumour ``lineage`` (OncoTree codes root → leaf; None: every
    tumour type) from the report's pertinent negatives and the KB ``statements`` (objects of
    :mod:`ccevariants.kb.model`, e.g. ``load_snapshot(p).statements``). ``gene_names`` restricts the
    genes. Fusion, copy-number and characteristic biomarkers have no locus here."""
    from ..report import clinical

    scopes: dict[str, GeneScope] = {}

    def scope(gene: str) -> GeneScope:
        return scopes.setdefault(gene, GeneScope(gene))

    if lineage:
        _code, negatives = clinical.negatives_for(list(lineage))
    else:
        negatives = tuple(n for table in clinical.PERTINENT_NEGATIVES.values() for n in table)
    for neg in negatives:
        if neg.kind != "variant" or not neg.gene:
            continue
        sc = scope(neg.gene)
        sc.sources.add(f"pertinent negative: {neg.label}")
        if neg.alteration:
            r = _residue(neg.alteration)
            if r is not None:
                sc.codons.add(r)
        elif neg.codons or neg.exons:
            sc.codons.update(neg.codons)
            sc.exons.update(neg.exons)
        else:
            sc.whole = True
    codes = set(lineage or ())

    def add_biomarker(b, sid: str) -> None:
        if b.type == "wildtype":
            for sub in b.absent:
                add_biomarker(sub, sid)
            return
        if b.type == "all_of":
            for sub in b.components:
                add_biomarker(sub, sid)
            return
        if not b.gene:
            return
        if b.type == "codon":
            scope(b.gene).codons.update(pos for _ref, pos in b.codons)
        elif b.type == "variant":
            residues = [r for r in (_residue(a) for a in b.alterations) if r is not None]
            if not residues:
                return
            scope(b.gene).codons.update(residues)
        elif b.type == "exon" and b.exon is not None:
            scope(b.gene).exons.add(int(b.exon))
        elif b.type == "functional":
            scope(b.gene).whole = True
        else:
            return
        scope(b.gene).sources.add(f"KB {sid}")

    for st in statements or ():
        if lineage and not (set(st.disease_codes) & (codes | PAN_CANCER_CODES)):
            continue
        if lineage and set(st.disease_exclude) & codes:
            continue
        add_biomarker(st.biomarker, st.id)
    if gene_names is not None:
        wanted = set(gene_names)
        scopes = {g: s for g, s in scopes.items() if g in wanted}
        for g in wanted - set(scopes):
            scopes[g] = GeneScope(g, whole=True, sources={"requested"})
    return scopes


def _transcript_layout(index, t: int):
    """(contig, CDS starts/ends sorted, genomic positions in transcript order) of transcript ``t``."""
    rows = index.cds_rows(t)
    starts = np.asarray(index.cds.start[rows], dtype=np.int64)
    ends = np.asarray(index.cds.end[rows], dtype=np.int64)
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    genomic = (
        np.concatenate([np.arange(s, e, dtype=np.int64) for s, e in zip(starts, ends, strict=True)])
        if starts.size
        else np.zeros(0, dtype=np.int64)
    )
    if int(index.transcripts.strand[t]) < 0:
        genomic = genomic[::-1]
    return str(index.transcripts.chrom[t]), starts, ends, genomic


def _runs(pos0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted 0-based positions → contiguous half-open intervals."""
    if pos0.size == 0:
        return pos0, pos0
    p = np.sort(pos0)
    breaks = np.flatnonzero(np.diff(p) != 1) + 1
    s = p[np.r_[0, breaks]]
    e = p[np.r_[breaks - 1, p.size - 1]] + 1
    return s, e


@dataclass
class _Locus:
    gene: str
    label: str
    kind: str  # codon | exon | cds
    key: int | None  # residue or exon number
    contig: str | None
    starts: np.ndarray
    ends: np.ndarray


def _loci_for(index, scope: GeneScope, bam_contigs) -> tuple[str | None, list[_Locus], int | None]:
    """Loci of one gene scope on its reporting transcript: (transcript id, loci, CDS length)."""
    try:
        t = int(index.transcript_for_gene(scope.gene))
    except KeyError:
        return None, [], None
    chrom, cds_s, cds_e, genomic = _transcript_layout(index, t)
    if genomic.size == 0:
        return None, [], None
    tid = str(index.transcripts["transcript_id"][t])
    contig = harmonise(chrom, bam_contigs)
    loci: list[_Locus] = []
    if scope.whole:
        loci.append(_Locus(scope.gene, f"{scope.gene} CDS", "cds", None, contig, cds_s, cds_e))
    for exon in sorted(scope.exons):
        rows = index.exon_rows(t)
        numbers = np.asarray(index.exons.exon_number[rows])
        hit = np.flatnonzero(numbers == exon)
        if hit.size == 0:
            continue
        es = int(np.asarray(index.exons.start[rows])[hit[0]])
        ee = int(np.asarray(index.exons.end[rows])[hit[0]])
        s = np.maximum(cds_s, es)
        e = np.minimum(cds_e, ee)
        keep = e > s
        if keep.any():
            loci.append(
                _Locus(scope.gene, f"{scope.gene} exon {exon}", "exon", exon, contig, s[keep], e[keep])
            )
    for residue in sorted(scope.codons):
        if 3 * residue > genomic.size:
            continue
        s, e = _runs(genomic[3 * residue - 3 : 3 * residue])
        loci.append(_Locus(scope.gene, f"{scope.gene} codon {residue}", "codon", residue, contig, s, e))
    return tid, loci, int(genomic.size)


def assess_coverage(
    bam,
    genes,
    lineage=None,
    statements=None,
    regions=None,
    assay: str | None = None,
    min_depth: int | None = None,
    min_fraction: float = MIN_FRACTION,
    gene_names=None,
    reference=None,
    min_mapq: int = 0,
) -> dict:
    """Coverage of the actionable territory and sample QC.

    ``genes``: a :class:`~ccevariants.biomarkers._genes.GeneModel`; ``lineage``: OncoTree codes
    root → leaf (None: every tumour type); ``statements``: KB statements; ``regions``: the callable
    region (interval set of :mod:`._regions`, 0-based) for the QC block (None: the actionable loci).

    Returns ``{"threshold", "min_fraction", "genes": [gene entries], "qc": {...}}``; a gene entry is
    ``{gene, transcript, scope, cds_bases, bases, mean_depth, min_depth, fraction_at_threshold,
    threshold, min_fraction, adequate, sources, loci: [{label, kind, codon|exon, chrom, start, end,
    bases, mean_depth, min_depth, fraction_at_threshold, adequate}]}`` (1-based inclusive start/end;
    ``start``/``end`` span the locus, which may be split across exons). A gene on a contig the BAM
    lacks gets ``mean_depth: None, adequate: False`` (not assessable, never "0x").
    """
    threshold = min_depth_for(assay, min_depth)
    if not 0 < float(min_fraction) <= 1:
        raise ConfigError(f"expected a coverage fraction in (0, 1]; found {min_fraction}")
    scopes = actionable_scopes(lineage, statements, gene_names)
    if gene_names is not None:
        missing = [g for g in gene_names if g not in _annotated_names(genes)]
        if missing:
            raise InputError(f"expected a gene of the annotation; found {missing[0]!r}")
    index = genes.index
    with _open(bam, reference) as handle:
        bam_contigs = set(handle.references)
        plan = []
        requests: dict[str, list[tuple[int, int]]] = {}
        for name in sorted(scopes):
            tid, loci, cds_len = _loci_for(index, scopes[name], bam_contigs)
            if tid is None:
                continue
            plan.append((scopes[name], tid, loci, cds_len))
            for locus in loci:
                if locus.contig is not None:
                    requests.setdefault(locus.contig, []).extend(
                        zip(locus.starts.tolist(), locus.ends.tolist(), strict=True)
                    )
        qc_ivs: list[tuple[str, np.ndarray, np.ndarray]] = []
        if regions is not None:
            for chrom, (rs, re_) in regions.items():
                contig = harmonise(str(chrom), bam_contigs)
                if contig is None:
                    continue
                qc_ivs.append((contig, np.asarray(rs, dtype=np.int64), np.asarray(re_, dtype=np.int64)))
                requests.setdefault(contig, []).extend(zip(rs.tolist(), re_.tolist(), strict=True))
        cache = _DepthCache(handle, requests, min_mapq)
    entries = []
    all_locus_depths = []
    for sc, tid, loci, cds_len in plan:
        locus_rows = []
        gene_depths = []
        assessable = all(locus.contig is not None for locus in loci)
        for locus in loci:
            row = {"label": locus.label, "kind": locus.kind}
            if locus.key is not None:
                row[locus.kind] = locus.key  # "codon": residue (read by the matcher) or "exon": number
            row |= {
                "chrom": locus.contig,
                "start": int(locus.starts.min()) + 1,
                "end": int(locus.ends.max()),
                "bases": int((locus.ends - locus.starts).sum()),
            }
            if locus.contig is None:
                row.update(
                    {"mean_depth": None, "min_depth": None, "fraction_at_threshold": None, "adequate": False}
                )
            else:
                depth = cache.get(locus.contig, locus.starts, locus.ends)
                gene_depths.append(depth)
                all_locus_depths.append(depth)
                row.update(_summary(depth, threshold))
                if locus.kind == "codon":
                    row["adequate"] = bool(depth.size and depth.min() >= threshold)
                else:
                    row["adequate"] = bool(depth.size and (depth >= threshold).mean() >= min_fraction)
            locus_rows.append(row)
        if loci and assessable:
            summary = _summary(np.concatenate(gene_depths), threshold)
        else:
            summary = {"mean_depth": None, "min_depth": None, "fraction_at_threshold": None}
        scope_parts = []
        if sc.whole:
            scope_parts.append("cds")
        if sc.exons:
            scope_parts.append("exons " + ",".join(map(str, sorted(sc.exons))))
        if sc.codons:
            scope_parts.append("codons " + ",".join(map(str, sorted(sc.codons))))
        entries.append(
            {
                "gene": sc.gene,
                "transcript": tid,
                "scope": "; ".join(scope_parts),
                "cds_bases": cds_len,
                "bases": int(sum(r["bases"] for r in locus_rows)),
                **summary,
                "threshold": threshold,
                "min_fraction": float(min_fraction),
                "adequate": bool(loci) and assessable and all(r["adequate"] for r in locus_rows),
                "sources": sorted(sc.sources),
                "loci": locus_rows,
            }
        )
    qc_depth = [cache.get(c, s, e) for c, s, e in qc_ivs]
    basis = "callable_region" if regions is not None else "actionable_loci"
    depth = np.concatenate(qc_depth or all_locus_depths or [np.zeros(0, dtype=np.int32)])
    qc = {
        "basis": basis,
        "bases": int(depth.size),
        "median_depth": float(np.median(depth)) if depth.size else None,
        "mean_depth": round(float(depth.mean()), 2) if depth.size else None,
        "fraction_at_threshold": round(float((depth >= threshold).mean()), 4) if depth.size else None,
        "threshold": threshold,
    }
    return {
        "threshold": threshold,
        "min_fraction": float(min_fraction),
        "lineage": list(lineage) if lineage else None,
        "genes": entries,
        "qc": qc,
    }


def _annotated_names(genes) -> set[str]:
    return set(genes.gene_name.tolist())


# --------------------------------------------------------------------------------------------------
# single loci and whole-CDS gene coverage


def locus_depths(
    bam, loci, min_base_quality: int = 13, min_depth: int = MIN_DEPTH, reference=None
) -> list[dict]:
    """``[{chrom, pos, depth, adequate}]`` for 1-based ``loci`` (iterable of ``(chrom, pos)``).

    A contig absent from the BAM gives ``depth: None, adequate: False`` (not assessable), never 0.
    """
    out: list[dict] = []
    with _open(bam, reference) as handle:
        names = set(handle.references)
        for chrom, pos in loci:
            contig = harmonise(str(chrom), names)
            if contig is None or pos < 1:
                out.append({"chrom": str(chrom), "pos": int(pos), "depth": None, "adequate": False})
                continue
            counts = handle.count_coverage(contig, int(pos) - 1, int(pos), quality_threshold=min_base_quality)
            depth = int(sum(c[0] for c in counts))
            out.append({"chrom": str(chrom), "pos": int(pos), "depth": depth, "adequate": depth >= min_depth})
    return out


def gene_coverage(
    bam,
    genes,
    gene_names=None,
    regions=None,
    min_depth: int = MIN_DEPTH,
    min_fraction: float = MIN_FRACTION,
    reference=None,
    workdir=None,
) -> list[dict]:
    """Whole-CDS coverage per gene: ``[{gene, transcript, cds_bases, mean_depth, min_depth,
    fraction_at_threshold, threshold, min_fraction, adequate, loci}]`` sorted by gene.

    ``genes`` is a :class:`~ccevariants.biomarkers._genes.GeneModel`. Genes: ``gene_names`` when
    given (a name the annotation lacks is an :class:`InputError`), else the protein-coding genes
    whose CDS overlaps ``regions`` (an interval set, e.g. the callable BED), else every
    protein-coding gene. ``adequate``: fraction of CDS bases at >= ``min_depth`` is >= ``min_fraction``.
    ``loci``: the gene's clinically relevant codons (pertinent negatives of every tumour type), each
    adequate when all its bases reach ``min_depth`` — the matcher's per-codon wild-type check reads
    them. A gene on a contig the BAM lacks gets ``mean_depth: None, adequate: False``.
    ``workdir`` is accepted for compatibility and unused.
    """
    from . import _regions

    del workdir
    index = genes.index
    if gene_names is not None:
        chosen = []
        for name in gene_names:
            try:
                chosen.append(int(index.transcript_for_gene(name)))
            except KeyError:
                raise InputError(f"expected a gene of the annotation; found {name!r}") from None
    else:
        coding = np.flatnonzero(genes.gene_biotype == "protein_coding")
        chosen = []
        for g in coding.tolist():
            try:
                chosen.append(int(index.transcript_for_gene(str(genes.gene_id[g]))))
            except KeyError:
                continue
    hotspots = actionable_scopes(None, None)
    with _open(bam, reference) as handle:
        bam_contigs = set(handle.references)
        rows = []
        requests: dict[str, list[tuple[int, int]]] = {}
        for t in dict.fromkeys(chosen):
            chrom, starts, ends, genomic = _transcript_layout(index, t)
            if starts.size == 0:
                continue
            if regions is not None and gene_names is None:
                hit = _regions.overlaps_any(regions, np.full(starts.size, chrom, dtype=object), starts, ends)
                if not hit.any():
                    continue
            gene = str(genes.gene_name[genes.tx_gene[t]])
            tid = str(index.transcripts["transcript_id"][t])
            contig = harmonise(chrom, bam_contigs)
            codons = sorted(hotspots[gene].codons) if gene in hotspots else []
            rows.append((gene, tid, contig, starts, ends, genomic, codons))
            if contig is not None:
                requests.setdefault(contig, []).extend(zip(starts.tolist(), ends.tolist(), strict=True))
        cache = _DepthCache(handle, requests, 0)
    out_rows = []
    for gene, tid, contig, starts, ends, genomic, codons in rows:
        length = int((ends - starts).sum())
        loci = []
        if contig is None:
            summary = {"mean_depth": None, "min_depth": None, "fraction_at_threshold": None}
            adequate = False
        else:
            depth = cache.get(contig, starts, ends)
            summary = _summary(depth, min_depth)
            adequate = summary["fraction_at_threshold"] >= min_fraction
            for residue in codons:
                if 3 * residue > genomic.size:
                    continue
                pos0 = np.sort(genomic[3 * residue - 3 : 3 * residue])
                s, e = _runs(pos0)
                d = cache.get(contig, s, e)
                loci.append(
                    {
                        "codon": residue,
                        "chrom": contig,
                        "start": int(pos0[0]) + 1,
                        "end": int(pos0[-1]) + 1,
                        "min_depth": int(d.min()),
                        "mean_depth": round(float(d.mean()), 2),
                        "adequate": bool(d.min() >= min_depth),
                    }
                )
        out_rows.append(
            {
                "gene": gene,
                "transcript": tid,
                "cds_bases": length,
                **summary,
                "threshold": int(min_depth),
                "min_fraction": float(min_fraction),
                "adequate": bool(adequate),
                "loci": loci,
            }
        )
    return sorted(out_rows, key=lambda r: r["gene"])
