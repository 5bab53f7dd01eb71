"""Copy-number alterations: read segment / gene-level copy-number files and call genes.

Accepted inputs (detected from the header; column names are matched case-insensitively):

=====================  ===========================================================  ==============
format                 required columns                                             coordinates
=====================  ===========================================================  ==============
``simple``             ``chrom start end copy_number`` (+ optional ``gene``)         1-based incl.
``pcgr``               ``Chromosome Start End nMajor nMinor`` (CN = nMajor+nMinor)   1-based incl.
``cnvkit``             ``chromosome start end log2`` (``.cns``/``.cnr``)             0-based BED
``purple_gene``        ``chromosome start end gene minCopyNumber``                   1-based incl.
``purple_segment``     ``chromosome start end copyNumber``                           1-based incl.
``ascat``              ``chr startpos endpos nMajor nMinor`` (CN = nMajor+nMinor)    1-based incl.
``sequenza``           ``chromosome start.pos end.pos CNt``                          1-based incl.
``facets``             ``chrom start end tcn.em`` (chrom 23/24 = X/Y)                1-based incl.
``gatk``               ``CONTIG START END MEAN_LOG2_COPY_RATIO`` (``@`` header)       1-based incl.
``vcf``                ``SVTYPE=DEL/DUP/CNV`` with ``CN`` (INFO or FORMAT)           POS+1..END
=====================  ===========================================================  ==============

CNVkit copy number = 2·2^log2 (diploid reference); with a tumour purity p it is adjusted to the
tumour cells: CN_tumour = (CN_obs − 2(1−p))/p, clipped at 0 (the same for GATK's log2 copy ratio). A ``cn`` column (``cnvkit call``
output, already rescaled by the caller) is used as given instead. The other formats already carry
absolute copy numbers from callers that model purity (PURPLE, ASCAT via PCGR) and are used as given;
the ``simple`` format is defined as absolute (purity-adjusted) copy number.

Gene calls: a gene's copy number is the **minimum** over the segments overlapping it (as PURPLE's
``minCopyNumber``); amplification when that minimum is >= ``amp_threshold`` (default 6, i.e. the
whole gene is amplified), deletion when it is < ``del_threshold`` (default 0.5: part of the gene is
homozygously lost). Rows with a ``gene`` value in gene-level formats are called directly.
Positions in the output are 1-based inclusive (contracts §4).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError

log = logging.getLogger(__name__)

AMP_THRESHOLD = 6.0
DEL_THRESHOLD = 0.5

#: format name → required columns (lower case) ; checked in this order
#: (the first three are the chromosome, start and end columns)
FORMATS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("simple", ("chrom", "start", "end", "copy_number")),
    ("pcgr", ("chromosome", "start", "end", "nmajor", "nminor")),
    ("ascat", ("chr", "startpos", "endpos", "nmajor", "nminor")),
    ("purple_gene", ("chromosome", "start", "end", "gene", "mincopynumber")),
    ("purple_segment", ("chromosome", "start", "end", "copynumber")),
    ("sequenza", ("chromosome", "start.pos", "end.pos", "cnt")),
    ("facets", ("chrom", "start", "end", "tcn.em")),
    ("gatk", ("contig", "start", "end", "mean_log2_copy_ratio")),
    ("cnvkit", ("chromosome", "start", "end", "log2")),
)
#: formats whose values are observed log2 ratios (purity adjustment applies)
LOG2_FORMATS = ("cnvkit", "gatk")
#: the copy-number column(s) per format (summed); log2 formats use their ratio column
_VALUE_COLUMNS = {
    "simple": ("copy_number",),
    "pcgr": ("nmajor", "nminor"),
    "ascat": ("nmajor", "nminor"),
    "purple_gene": ("mincopynumber",),
    "purple_segment": ("copynumber",),
    "sequenza": ("cnt",),
    "facets": ("tcn.em",),
    "gatk": ("mean_log2_copy_ratio",),
    "cnvkit": ("log2",),
}
_MISSING = {"", "na", "nan", ".", "none", "null"}
_NO_GENE = {"", "-", ".", "antitarget", "background"}


@dataclass
class CopyNumberTable:
    """Segments (or gene-level rows) with absolute copy number; 1-based inclusive coordinates."""

    path: str
    format: str
    segments: pd.DataFrame  # chrom, start, end (1-based incl.), copy_number, gene ('' when none), line
    skipped: dict[str, int] = field(default_factory=dict)
    purity_adjusted: bool = False


def _check_purity(purity: float | None) -> None:
    if purity is not None and not (0 < purity <= 1):
        raise ConfigError(f"expected tumour purity in (0, 1]; found {purity}")


def read_copy_number(path, purity: float | None = None) -> CopyNumberTable:
    """Read any supported copy-number file (see module docstring)."""
    _check_purity(purity)
    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing copy-number file; found none", path=path)
    name = path.name.lower()
    from .._io import open_text

    with open_text(path) as handle:
        first = handle.readline()
    if name.endswith((".vcf", ".vcf.gz", ".bcf")) or first.startswith("##fileformat=VCF"):
        return _read_vcf(path)
    return _read_table(path, purity)


def _read_table(path: Path, purity: float | None) -> CopyNumberTable:
    from .._io import open_text

    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith(("##", "@")):  # '@': GATK's SAM-style header
                continue
            if header is None:
                header = [h.strip().lstrip("#") for h in text.split("\t")]
                header_line = lineno
                continue
            fields = text.split("\t")
            if len(fields) != len(header):
                raise InputError(
                    f"expected {len(header)} tab-separated fields as in the header; found {len(fields)}",
                    path=path,
                    line=lineno,
                )
            rows.append(fields)
            lines.append(lineno)
    if header is None:
        raise InputError("expected a header line with copy-number columns; found an empty file", path=path)
    lower = [h.lower() for h in header]
    fmt = None
    for candidate, required in FORMATS:
        if all(c in lower for c in required):
            fmt = candidate
            break
    if fmt is None:
        expected = "; ".join(f"{n}: {' '.join(cols)}" for n, cols in FORMATS)
        raise InputError(
            f"expected the columns of a known copy-number format ({expected}); found {' '.join(header)}",
            path=path,
            line=header_line,
        )
    col = {h: i for i, h in enumerate(lower)}
    chrom_key, start_key, end_key = dict(FORMATS)[fmt][:3]
    out_chrom: list[str] = []
    out_start: list[int] = []
    out_end: list[int] = []
    out_cn: list[float] = []
    out_gene: list[str] = []
    out_line: list[int] = []
    skipped: dict[str, int] = {}
    # ``cnvkit call`` output carries an integer ``cn`` (already purity-rescaled when called with
    # --purity): use it as is rather than adjusting log2 a second time.
    called = fmt == "cnvkit" and "cn" in col

    def number(value: str, column: str, lineno: int, integer: bool = False) -> float | None:
        if value.strip().lower() in _MISSING:
            return None
        try:
            return int(value) if integer else float(value)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise InputError(
                f"expected {kind} in column {column!r}; found {value!r}", path=path, line=lineno
            ) from None

    for fields, lineno in zip(rows, lines, strict=True):
        chrom = fields[col[chrom_key]].strip()
        if fmt == "facets" and chrom in ("23", "24"):
            chrom = {"23": "X", "24": "Y"}[chrom]  # FACETS numbers the sex chromosomes
        start = number(fields[col[start_key]], header[col[start_key]], lineno, integer=True)
        end = number(fields[col[end_key]], header[col[end_key]], lineno, integer=True)
        if start is None or end is None or not chrom:
            raise InputError(
                "expected chromosome, start and end on every row; found a missing value",
                path=path,
                line=lineno,
            )
        if fmt == "cnvkit":
            start += 1  # BED-style 0-based start → 1-based inclusive
        if end < start:
            raise InputError(f"expected start <= end; found start={start}, end={end}", path=path, line=lineno)
        if called:
            cn = number(fields[col["cn"]], header[col["cn"]], lineno)
        else:
            values = [number(fields[col[c]], header[col[c]], lineno) for c in _VALUE_COLUMNS[fmt]]
            cn = None if any(v is None for v in values) else sum(values)
            if cn is not None and fmt in LOG2_FORMATS:
                cn = log2_to_copy_number(cn, purity)
        if cn is None or math.isnan(cn):
            skipped["missing_copy_number"] = skipped.get("missing_copy_number", 0) + 1
            continue
        if cn < -0.5:
            raise InputError(f"expected a copy number >= 0; found {cn}", path=path, line=lineno)
        cn = max(cn, 0.0)  # callers (PURPLE) emit small negative fits for homozygous losses
        gene = ""
        if "gene" in col and fmt in ("simple", "purple_gene"):
            gene = fields[col["gene"]].strip()
            if gene.lower() in _NO_GENE:
                gene = ""
        elif "gene" in col and fmt == "cnvkit":
            gene = ",".join(g for g in fields[col["gene"]].split(",") if g.strip().lower() not in _NO_GENE)
        out_chrom.append(chrom)
        out_start.append(int(start))
        out_end.append(int(end))
        out_cn.append(float(cn))
        out_gene.append(gene)
        out_line.append(lineno)
    frame = pd.DataFrame(
        {
            "chrom": pd.Series(out_chrom, dtype=object),
            "start": np.asarray(out_start, dtype=np.int64),
            "end": np.asarray(out_end, dtype=np.int64),
            "copy_number": np.asarray(out_cn, dtype=float),
            "gene": pd.Series(out_gene, dtype=object),
            "line": np.asarray(out_line, dtype=np.int64),
        }
    )
    adjusted = fmt in LOG2_FORMATS and purity is not None and not called
    return CopyNumberTable(str(path), fmt, frame, skipped, purity_adjusted=adjusted)


def log2_to_copy_number(log2: float, purity: float | None = None) -> float:
    """CNVkit log2 ratio → absolute copy number (diploid), purity-adjusted when ``purity`` is given."""
    observed = 2.0 * 2.0**log2
    if purity is None:
        return observed
    return max(0.0, (observed - 2.0 * (1.0 - purity)) / purity)


def _read_vcf(path: Path) -> CopyNumberTable:
    import pysam

    try:
        vcf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a readable VCF; found {exc}", path=path) from None
    chroms, starts, ends, cns, lines = [], [], [], [], []
    skipped: dict[str, int] = {}
    samples = list(vcf.header.samples)
    with vcf:
        for n, rec in enumerate(vcf, 1):
            svtype = rec.info.get("SVTYPE") if "SVTYPE" in rec.header.info else None
            if isinstance(svtype, tuple):
                svtype = svtype[0]
            if svtype not in ("DEL", "DUP", "CNV"):
                skipped["not_copy_number_record"] = skipped.get("not_copy_number_record", 0) + 1
                continue
            if list(rec.filter.keys()) not in ([], ["PASS"]):
                skipped["not_pass"] = skipped.get("not_pass", 0) + 1
                continue
            cn = None
            if "CN" in rec.header.info and rec.info.get("CN") is not None:
                cn = rec.info.get("CN")
            elif "CN" in rec.header.formats and samples:
                cn = rec.samples[_tumour_sample(samples)].get("CN")
            if isinstance(cn, tuple):
                cn = cn[0]
            if cn is None or (isinstance(cn, float) and math.isnan(cn)) or cn < 0:
                skipped["missing_copy_number"] = skipped.get("missing_copy_number", 0) + 1
                continue
            chroms.append(rec.chrom)
            starts.append(rec.pos + 1)  # POS is the padding base before the event
            ends.append(max(rec.stop, rec.pos + 1))
            cns.append(float(cn))
            lines.append(n)
    frame = pd.DataFrame(
        {
            "chrom": pd.Series(chroms, dtype=object),
            "start": np.asarray(starts, dtype=np.int64),
            "end": np.asarray(ends, dtype=np.int64),
            "copy_number": np.asarray(cns, dtype=float),
            "gene": pd.Series([""] * len(chroms), dtype=object),
            "line": np.asarray(lines, dtype=np.int64),
        }
    )
    return CopyNumberTable(str(path), "vcf", frame, skipped)


def _tumour_sample(samples: list[str]) -> str:
    for s in samples:
        if s.upper() in ("TUMOR", "TUMOUR") or "tumo" in s.lower():
            return s
    return samples[-1] if len(samples) > 1 else samples[0]


def call_genes(
    table: CopyNumberTable,
    genes=None,
    *,
    amp_threshold: float = AMP_THRESHOLD,
    del_threshold: float = DEL_THRESHOLD,
) -> tuple[list[dict], dict]:
    """Gene-level amplifications and deletions (contracts §4 ``cna``) and a summary.

    ``genes`` is a :class:`~ccevariants.biomarkers._genes.GeneModel` (segments are mapped to the
    protein-coding genes they overlap) or None (only rows that name a gene are called).
    """
    seg = table.segments
    calls: dict[tuple[str, str], dict] = {}
    summary = {
        "format": table.format,
        "segments": int(len(seg)),
        "skipped": dict(table.skipped),
        "purity_adjusted": table.purity_adjusted,
        "amp_threshold": amp_threshold,
        "del_threshold": del_threshold,
        "genes_assessed": 0,
        "unmapped_segments": 0,
    }

    def consider(gene: str, gene_id: str, chrom: str, cn_min: float, cn_max: float, start: int, end: int):
        summary["genes_assessed"] += 1
        if cn_min >= amp_threshold:
            alteration = "amplification"
        elif cn_min < del_threshold:
            alteration = "deletion"
        else:
            return
        key = (gene, alteration)
        entry = {
            "gene": gene,
            "alteration": alteration,
            "copy_number": round(cn_min, 3),
            "max_copy_number": round(cn_max, 3),
            "chrom": chrom,
            "start": int(start),
            "end": int(end),
            "gene_id": gene_id,
            "source": table.format,
        }
        if key not in calls:
            calls[key] = entry

    gene_level = seg["gene"].to_numpy() != ""
    use_coordinates = genes is not None and table.format not in ("purple_gene",)
    named = gene_level & ((table.format in ("simple", "purple_gene")) | (not use_coordinates))
    for row in seg[named].itertuples(index=False):
        for gene in row.gene.split(","):
            consider(gene, "", row.chrom, row.copy_number, row.copy_number, row.start, row.end)
    rest = seg[~named]
    if len(rest) and not use_coordinates:
        summary["unmapped_segments"] = int(len(rest))
        log.warning(
            "%s: %d copy-number segments not mapped to genes (no annotation given)", table.path, len(rest)
        )
    elif len(rest):
        _map_segments(rest, genes, consider, summary)
    out = sorted(calls.values(), key=lambda c: (_chrom_key(c["chrom"]), c["start"], c["gene"]))
    return out, summary


def _map_segments(seg: pd.DataFrame, genes, consider, summary) -> None:
    """Overlap segments (1-based incl.) with protein-coding genes (index: 0-based half-open)."""
    coding = genes.gene_biotype == "protein_coding"
    if not coding.any():
        coding = np.ones(genes.gene_biotype.size, dtype=bool)
    for chrom, part in seg.groupby("chrom", sort=False):
        key = genes.chrom(str(chrom))
        if key is None:
            summary["unmapped_segments"] += int(len(part))
            continue
        part = part.sort_values("start", kind="stable")
        s0 = part["start"].to_numpy(dtype=np.int64) - 1
        e0 = part["end"].to_numpy(dtype=np.int64)
        cn = part["copy_number"].to_numpy(dtype=float)
        running_end = np.maximum.accumulate(e0)
        gidx = np.flatnonzero((genes.gene_chrom == key) & coding)
        gs = genes.gene_start[gidx]
        ge = genes.gene_end[gidx]
        lo = np.searchsorted(running_end, gs, side="right")
        hi = np.searchsorted(s0, ge, side="left")
        for g, a, b, g_start, g_end in zip(gidx, lo, hi, gs, ge, strict=True):
            if b <= a:
                continue
            window = np.arange(a, b)
            window = window[(s0[window] < g_end) & (e0[window] > g_start)]
            if window.size == 0:
                continue
            values = cn[window]
            pick = window[np.argmin(values)]
            consider(
                str(genes.gene_name[g]),
                str(genes.gene_id[g]),
                str(chrom),
                float(values.min()),
                float(values.max()),
                int(s0[pick] + 1),
                int(e0[pick]),
            )


def _chrom_key(chrom: str) -> tuple[int, str]:
    bare = chrom[3:] if chrom.startswith("chr") else chrom
    return (int(bare), "") if bare.isdigit() else (1000, bare)
