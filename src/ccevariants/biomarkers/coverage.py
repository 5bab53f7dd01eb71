"""Read depth from a tumour BAM/CRAM, for "not detected with adequate coverage" statements.

* :func:`locus_depths`: depth at single loci, given **1-based** (``chrom``, ``pos``) like every table
  of the pipeline; pysam's ``count_coverage`` takes 0-based half-open intervals and the conversion
  happens here. Counts reads with base quality >= ``min_base_quality``; unmapped, secondary, QC-fail
  and duplicate reads are excluded (pysam's default read filter).
* :func:`gene_coverage`: per gene, over the CDS segments (0-based half-open, from the transcript
  index) of its reporting transcript, with ``samtools bedcov -d`` (htslib, through pysam): mean depth
  and the fraction of coding bases at depth >= ``min_depth``; ``adequate`` when that fraction is
  >= ``min_fraction``. Same default read filter as above.
"""

from __future__ import annotations

from ..contigs import harmonise
from ..errors import InputError

MIN_DEPTH = 25  # the same depth floor as TMB eligibility


def locus_depths(
    bam, loci, min_base_quality: int = 13, min_depth: int = MIN_DEPTH, reference=None
) -> list[dict]:
    """``[{chrom, pos, depth, adequate}]`` for 1-based ``loci`` (iterable of ``(chrom, pos)``).

    A contig absent from the BAM gives ``depth: None, adequate: False`` (not assessable), never 0.
    """
    import pysam

    try:
        handle = pysam.AlignmentFile(
            str(bam), reference_filename=None if reference is None else str(reference)
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a readable, indexed BAM/CRAM; found {exc}", path=bam) from None
    out: list[dict] = []
    with handle:
        names = set(handle.references)
        if not handle.has_index():
            raise InputError("expected a BAM/CRAM index (.bai/.crai) next to the file; found none", path=bam)
        for chrom, pos in loci:
            contig = harmonise(str(chrom), names)
            if contig is None or pos < 1:
                out.append({"chrom": str(chrom), "pos": int(pos), "depth": None, "adequate": False})
                continue
            counts = handle.count_coverage(contig, int(pos) - 1, int(pos), quality_threshold=min_base_quality)
            depth = int(sum(c[0] for c in counts))
            out.append({"chrom": str(chrom), "pos": int(pos), "depth": depth, "adequate": depth >= min_depth})
    return out


MIN_FRACTION = 0.95  # pipeline default (configurable), not a clinical standard


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
    """``[{gene, transcript, cds_bases, mean_depth, fraction_at_threshold, threshold, min_fraction,
    adequate}]`` sorted by gene.

    ``genes`` is a :class:`~ccevariants.biomarkers._genes.GeneModel`. Genes: ``gene_names`` when
    given (a name the annotation lacks is an :class:`InputError`), else the protein-coding genes
    whose CDS overlaps ``regions`` (an interval set, e.g. the callable BED), else every
    protein-coding gene. A gene on a contig the BAM lacks gets ``mean_depth: None, adequate: False``.
    """
    import tempfile
    from pathlib import Path

    import numpy as np
    import pysam

    from . import _regions

    try:
        handle = pysam.AlignmentFile(
            str(bam), reference_filename=None if reference is None else str(reference)
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a readable, indexed BAM/CRAM; found {exc}", path=bam) from None
    with handle:
        if not handle.has_index():
            raise InputError("expected a BAM/CRAM index (.bai/.crai) next to the file; found none", path=bam)
        bam_contigs = set(handle.references)

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
    rows = []  # (gene, transcript_id, contig or None, starts, ends)
    for t in dict.fromkeys(chosen):
        sel = genes.cds_tx == t
        if not sel.any():
            continue
        starts, ends = genes.cds_start[sel], genes.cds_end[sel]
        chrom = str(genes.tx_chrom[t])
        if regions is not None and gene_names is None:
            hit = _regions.overlaps_any(regions, np.full(starts.size, chrom, dtype=object), starts, ends)
            if not hit.any():
                continue
        gene = str(genes.gene_name[genes.tx_gene[t]])
        tid = str(index.transcripts["transcript_id"][t])
        rows.append((gene, tid, harmonise(chrom, bam_contigs), starts, ends))

    sums: dict[int, list[int]] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        bed = Path(tmp) / "cds.bed"
        n_lines = 0
        with open(bed, "w", encoding="ascii") as out:
            for i, (_gene, _tid, contig, starts, ends) in enumerate(rows):
                if contig is None:
                    continue
                for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                    out.write(f"{contig}\t{s}\t{e}\t{i}\n")
                    n_lines += 1
        if n_lines:
            args = ["-d", str(int(min_depth))]
            if reference is not None:
                args += ["--reference", str(reference)]
            text = pysam.samtools.bedcov(*args, str(bed), str(bam))
            for line in text.splitlines():
                fields = line.split("\t")
                i, depth_sum, at_threshold = int(fields[3]), int(fields[4]), int(fields[5])
                acc = sums.setdefault(i, [0, 0])
                acc[0] += depth_sum
                acc[1] += at_threshold
    out_rows = []
    for i, (gene, tid, contig, starts, ends) in enumerate(rows):
        length = int((ends - starts).sum())
        if contig is None:
            mean, fraction, adequate = None, None, False
        else:
            depth_sum, at_threshold = sums.get(i, [0, 0])
            mean = round(depth_sum / length, 2)
            fraction = round(at_threshold / length, 4)
            adequate = fraction >= min_fraction
        out_rows.append(
            {
                "gene": gene,
                "transcript": tid,
                "cds_bases": length,
                "mean_depth": mean,
                "fraction_at_threshold": fraction,
                "threshold": int(min_depth),
                "min_fraction": float(min_fraction),
                "adequate": bool(adequate),
            }
        )
    return sorted(out_rows, key=lambda r: r["gene"])
