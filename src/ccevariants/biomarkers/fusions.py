"""Gene fusions from structural-variant VCFs and from fusion-caller tables.

Positions are **1-based** (VCF/table convention) in :class:`Junction` and in the output; the
transcript index is 0-based half-open and conversions happen at the look-up.

SV VCF (Manta, Delly, GRIDSS, SvABA …). Each record becomes a *junction*: two breakends, each with
the side of the breakpoint that is kept in the rearranged molecule (``left`` = bases <= pos,
``right`` = bases >= pos). From the VCF 4.2 breakend notation (ALT of a record at ``pos``):

=========  ================  =================
ALT        side at ``pos``   side at mate ``p``
=========  ================  =================
``t[p[``   left              right
``t]p]``   left              left
``]p]t``   right             left
``[p[t``   right             right
=========  ================  =================

Symbolic records (``<DEL> <DUP> <INV>``, Delly ``<TRA>``) use ``CHR2`` (default: same contig) and
``END``; the sides come from Delly's ``CT`` (``3to5`` = left/right, ``5to3`` = right/left,
``3to3`` = left/left, ``5to5`` = right/right) or Manta's ``INV3``/``INV5`` flags, else from the type
(DEL 3to5, DUP 5to3, INV both 3to3 and 5to5). ``INS`` and single breakends (``A.``/``.A``) make no fusion and are counted.
Breakend pairs (``MATEID``) are reported once. A BND whose ``MATEID`` is not in the file is an
*unpaired breakend*: it is still used (its ALT fully describes the junction) and counted in the
summary with a warning, since it usually means the file was filtered one-sided.

5′/3′ partner: a gene on the + strand that keeps its ``left`` side keeps its 5′ part (and a − strand
gene keeping ``right``); keeping the other side keeps its 3′ part. A junction is reported as a fusion
when one breakend keeps a gene's 5′ part and the other keeps a different gene's 3′ part — the
joined molecule then reads 5′ gene → 3′ gene in sense.

Reading frame (on each gene's reporting transcript, or the gene's longest-CDS transcript spanning
the breakpoint when the reporting one does not): with ``b5`` = coding bases of the 5′ partner at
or upstream of its breakpoint and ``b3`` = coding bases of the 3′ partner upstream of its breakpoint,
the fusion is in frame when ``b5 ≡ b3 (mod 3)``. Undeterminable (null, with the reason) when a
breakpoint lies outside the coding part (5′ break before the 5′ CDS start or after its end, 3′ break
after the 3′ CDS end, or before its start: the whole 3′ CDS with its own start codon is kept), when a
genomic breakpoint falls inside an exon (splicing of the fusion transcript cannot be predicted from
DNA), or without an annotation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

_BRACKET = re.compile(r"^([A-Za-z.*]*)([\[\]])(.+):(\d+)([\[\]])([A-Za-z.*]*)$")
_CT_SIDES = {
    "3to5": ("left", "right"),
    "5to3": ("right", "left"),
    "3to3": ("left", "left"),
    "5to5": ("right", "right"),
}
_TYPE_SIDES = {
    "DEL": [("left", "right")],
    "DUP": [("right", "left")],
    "INV": [("left", "left"), ("right", "right")],
}


@dataclass
class Junction:
    """One rearrangement junction; positions 1-based."""

    chrom1: str
    pos1: int
    side1: str
    chrom2: str
    pos2: int
    side2: str
    record_id: str
    svtype: str
    filter: str
    supporting_reads: int | None
    line: int
    mate_id: str | None = None

    def key(self) -> tuple:
        a = (self.chrom1, self.pos1, self.side1)
        b = (self.chrom2, self.pos2, self.side2)
        return (a, b) if a <= b else (b, a)


@dataclass
class SvReadResult:
    junctions: list[Junction]
    counts: dict[str, int] = field(default_factory=dict)


def parse_breakend_alt(alt: str) -> tuple[str, str, int, str] | None:
    """``(side_at_pos, mate_chrom, mate_pos, side_at_mate)`` from a bracket ALT, None if not one."""
    m = _BRACKET.match(alt)
    if not m or m.group(2) != m.group(5):
        return None
    prefix, bracket, chrom, pos, _, suffix = m.groups()
    if prefix and suffix or not (prefix or suffix):
        return None
    side_here = "left" if prefix else "right"
    if prefix:
        side_mate = "right" if bracket == "[" else "left"
    else:
        side_mate = "left" if bracket == "]" else "right"
    return side_here, chrom, int(pos), side_mate


def _info(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if text == ".":
        return out
    for item in text.split(";"):
        key, _, value = item.partition("=")
        out[key] = value if _ else "1"
    return out


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.split(",")[-1])
    except ValueError:
        return None


def _tumour_column(samples: list[str], tumor_sample: str | None) -> int | None:
    if not samples:
        return None
    if tumor_sample and tumor_sample in samples:
        return samples.index(tumor_sample)
    for i, s in enumerate(samples):
        if s.upper() in ("TUMOR", "TUMOUR") or "tumo" in s.lower():
            return i
    return len(samples) - 1


def _support(info: dict[str, str], fmt: list[str], sample: list[str] | None) -> int | None:
    """Reads supporting the junction in the tumour sample, else from INFO.

    Tumour FORMAT first: Delly ``DV + RV`` (variant pairs + junction reads), Manta ``PR + SR`` alt
    counts, GRIDSS ``VF``; then INFO: Delly ``PE + SR`` (all samples), GRIDSS ``VF``.
    """
    if sample is not None:
        values = dict(zip(fmt, sample, strict=False))
        if "DV" in values or "RV" in values:
            return (_int(values.get("DV")) or 0) + (_int(values.get("RV")) or 0)
        if "PR" in values or "SR" in values:
            return (_int(values.get("PR")) or 0) + (_int(values.get("SR")) or 0)
        if "VF" in values and _int(values["VF"]) is not None:
            return _int(values["VF"])
    if "PE" in info:
        return (_int(info.get("PE")) or 0) + (_int(info.get("SR")) or 0)
    if "VF" in info:
        return _int(info["VF"])
    return None


def read_sv_vcf(path, tumor_sample: str | None = None) -> SvReadResult:
    """All junctions in an SV VCF (any FILTER; see module docstring), with per-reason counts."""
    from .._io import open_text

    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing SV VCF; found none", path=path)
    records: list[tuple[int, list[str]]] = []
    samples: list[str] = []
    saw_header = False
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            if line.startswith("##"):
                continue
            if line.startswith("#CHROM"):
                saw_header = True
                samples = line.rstrip("\r\n").split("\t")[9:]
                continue
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if not saw_header or len(fields) < 8:
                raise InputError(
                    "expected a VCF record with at least 8 tab-separated fields after the #CHROM header; "
                    f"found {line.strip()[:60]!r}",
                    path=path,
                    line=lineno,
                )
            records.append((lineno, fields))
    tcol = _tumour_column(samples, tumor_sample)
    counts = {
        "records": len(records),
        "junctions": 0,
        "unpaired_breakends": 0,
        "single_breakends": 0,
        "insertions": 0,
        "other_records": 0,
    }
    ids = {fields[2] for _, fields in records if fields[2] != "."}
    used_mates: set[str] = set()
    seen: set[tuple] = set()
    junctions: list[Junction] = []
    for lineno, fields in records:
        chrom, pos_text, rid, _ref, alt, _qual, filt, info_text = fields[:8]
        try:
            pos = int(pos_text)
        except ValueError:
            raise InputError(f"expected an integer POS; found {pos_text!r}", path=path, line=lineno) from None
        info = _info(info_text)
        fmt = fields[8].split(":") if len(fields) > 8 else []
        sample = fields[9 + tcol].split(":") if tcol is not None and len(fields) > 9 + tcol else None
        support = _support(info, fmt, sample)
        svtype = info.get("SVTYPE", "")
        alt = alt.split(",")[0]
        parsed = parse_breakend_alt(alt)
        if parsed is not None:
            if rid in used_mates:
                continue  # the mate record of a pair already reported
            mate = info.get("MATEID")
            if mate:
                mate = mate.split(",")[0]
                if mate in ids:
                    used_mates.add(mate)
                else:
                    counts["unpaired_breakends"] += 1
                    log.warning(
                        "%s:%d: breakend %s has MATEID=%s which is not in the file; using its ALT alone",
                        path,
                        lineno,
                        rid,
                        mate,
                    )
            side1, chrom2, pos2, side2 = parsed
            candidates = [(chrom, pos, side1, chrom2, pos2, side2)]
            svtype = svtype or "BND"
        elif svtype == "BND" or alt.startswith(".") or alt.endswith("."):
            if (alt.startswith(".") or alt.endswith(".")) and len(alt) > 1:
                counts["single_breakends"] += 1
                continue
            raise InputError(
                f"expected a breakend ALT in VCF notation (t[p[, t]p], ]p]t, [p[t); found {alt!r}",
                path=path,
                line=lineno,
            )
        elif svtype in ("DEL", "DUP", "INV", "TRA") or alt in ("<DEL>", "<DUP>", "<INV>", "<TRA>"):
            svtype = svtype or alt.strip("<>")
            end = _int(info.get("END"))
            chrom2 = info.get("CHR2", chrom)
            if end is None:
                raise InputError(
                    f"expected INFO/END on a {svtype} record; found none", path=path, line=lineno
                )
            ct = info.get("CT")
            if svtype == "INV" and ("INV3" in info or "INV5" in info):  # Manta inversion junction flags
                ct = "3to3" if "INV3" in info else "5to5"
            if ct in _CT_SIDES:
                sides = [_CT_SIDES[ct]]
            elif svtype in _TYPE_SIDES:
                sides = _TYPE_SIDES[svtype]
            else:
                raise InputError(
                    f"expected INFO/CT (3to5, 5to3, 3to3, 5to5) on a {svtype} record; found {ct!r}",
                    path=path,
                    line=lineno,
                )
            candidates = [(chrom, pos, s1, chrom2, end, s2) for s1, s2 in sides]
        elif svtype == "INS" or alt == "<INS>":
            counts["insertions"] += 1
            continue
        else:
            counts["other_records"] += 1
            continue
        for c1, p1, s1, c2, p2, s2 in candidates:
            junction = Junction(
                c1, p1, s1, c2, p2, s2, rid, svtype, filt, support, lineno, info.get("MATEID")
            )
            if junction.key() in seen:
                continue
            seen.add(junction.key())
            junctions.append(junction)
    counts["junctions"] = len(junctions)
    return SvReadResult(junctions, counts)


# --------------------------------------------------------------------------------------------
# gene partners and reading frame
# --------------------------------------------------------------------------------------------
def keeps_5prime(side: str, strand: int) -> bool:
    """True when keeping ``side`` of a breakpoint keeps the 5′ part of a gene on ``strand``."""
    return (side == "left") == (strand >= 0)


def reading_frame(
    genes, gene5: str, chrom5: str, pos5: int, gene3: str, chrom3: str, pos3: int, genomic: bool
) -> tuple[bool | None, str, dict]:
    """In-frame status of a 5′/3′ fusion on the reporting transcripts; positions 1-based.

    ``genomic``: breakpoints are DNA breakpoints (SV calls): a break inside an exon is undeterminable.
    Returns ``(in_frame, reason, detail)``.
    """
    if genes is None:
        return None, "no annotation given", {}
    detail: dict = {}
    tx = {}
    for role, gene, chrom in (("5", gene5, chrom5), ("3", gene3, chrom3)):
        try:
            t = genes.index.transcript_for_gene(gene)
        except (KeyError, ValueError, IndexError):
            t = None
        if t is None or t < 0:
            return None, f"gene {gene} not in the annotation", detail
        if genes.chrom(chrom) != str(genes.tx_chrom[t]):
            return None, f"breakpoint {chrom} is not on {gene}'s contig", detail
        t = _transcript_spanning(genes, int(t), (pos5 if role == "5" else pos3) - 1)
        tx[role] = t
        detail["transcript" + role] = str(genes.index.transcripts["transcript_id"][t])
    t5, t3 = tx["5"], tx["3"]
    detail.update(_exon_detail(genes, t5, pos5 - 1, t3, pos3 - 1))
    strand5 = int(genes.tx_strand[t5])
    # coding bases at or upstream of the 5′ break = coding bases upstream of the next base 3′ of it
    nxt = pos5 if strand5 >= 0 else pos5 - 2
    c5 = genes.coding_position(t5, nxt)
    here5 = genes.coding_position(t5, pos5 - 1)
    c3 = genes.coding_position(t3, pos3 - 1)
    if c5.cds_length == 0 or c3.cds_length == 0:
        return None, "non-coding reporting transcript", detail
    if genomic and (here5.kind == "exon" or c3.kind == "exon"):
        return (
            None,
            "genomic breakpoint inside an exon: fusion transcript splicing not predictable from DNA",
            detail,
        )
    if here5.kind == "outside" or c3.kind == "outside":
        return None, "breakpoint outside the reporting transcript", detail
    b5, b3 = c5.coding_before, c3.coding_before
    detail.update({"coding_bases_5": b5, "coding_bases_lost_3": b3})
    if b5 == 0:
        return None, "5′ breakpoint upstream of the 5′ partner's coding sequence", detail
    if b5 >= c5.cds_length:
        return None, "5′ breakpoint downstream of the 5′ partner's coding sequence", detail
    if b3 >= c3.cds_length:
        return None, "3′ breakpoint downstream of the 3′ partner's coding sequence", detail
    if b3 == 0:
        return (
            None,
            "3′ partner keeps its whole coding sequence (breakpoint upstream of its start codon)",
            detail,
        )
    return (b5 % 3) == (b3 % 3), "reading frame from reporting transcripts", detail


def _transcript_spanning(genes, reporting: int, pos0: int) -> int:
    """The reporting transcript when it spans 0-based ``pos0``, else the gene's coding transcript
    with the longest CDS that does (alternative first/last exons), else the reporting one."""
    t_table = genes.index.transcripts
    if int(t_table["start"][reporting]) <= pos0 < int(t_table["end"][reporting]):
        return reporting
    best, best_len = reporting, 0
    for t in np.flatnonzero(genes.tx_gene == genes.tx_gene[reporting]).tolist():
        if not int(t_table["start"][t]) <= pos0 < int(t_table["end"][t]):
            continue
        sel = genes.cds_tx == t
        length = int((genes.cds_end[sel] - genes.cds_start[sel]).sum())
        if length > best_len:
            best, best_len = t, length
    return best


def _exon_detail(genes, t5: int, pos5_0: int, t3: int, pos3_0: int) -> dict:
    """Last exon kept of the 5′ partner, first exon kept of the 3′ partner (transcript numbering),
    and the intron numbers when the breakpoints are intronic; null outside the transcript."""
    out = {"exon5_last": None, "intron5": None, "exon3_first": None, "intron3": None}
    try:
        kind, number = genes.index.exon_at(t5, pos5_0)
        out["exon5_last"] = number
        out["intron5"] = number if kind == "intron" else None
    except ValueError:
        pass
    try:
        kind, number = genes.index.exon_at(t3, pos3_0)
        out["exon3_first"] = number + 1 if kind == "intron" else number
        out["intron3"] = number if kind == "intron" else None
    except ValueError:
        pass
    return out


def _genes_at(genes, chrom: str, pos1: int) -> list[int]:
    """Genes at 1-based ``pos1``: protein-coding first, shortest first (read-through genes span several)."""
    hits = genes.genes_overlapping(chrom, pos1 - 1, pos1)
    coding = [int(h) for h in hits if genes.gene_biotype[h] == "protein_coding"]
    pool = coding or [int(h) for h in hits]
    return sorted(pool, key=lambda g: (int(genes.gene_end[g] - genes.gene_start[g]), g))


def fusions_from_junctions(
    junctions: list[Junction], genes, source: str, pass_only: bool = True, domains: dict | None = None
) -> tuple[list[dict], dict]:
    """Gene fusions implied by SV junctions (needs a :class:`GeneModel`); ``domains`` from
    :func:`read_protein_domains` for ``kinase_domain_retained``."""
    summary = {
        "junctions": len(junctions),
        "not_pass": 0,
        "not_genic": 0,
        "same_gene": 0,
        "not_sense": 0,
        "fusions": 0,
    }
    out: list[dict] = []
    if genes is None:
        summary["not_assessed_no_annotation"] = len(junctions)
        return out, summary
    for j in junctions:
        if pass_only and j.filter not in ("PASS", "."):
            summary["not_pass"] += 1
            continue
        g1s = _genes_at(genes, j.chrom1, j.pos1)
        g2s = _genes_at(genes, j.chrom2, j.pos2)
        if not g1s or not g2s:
            summary["not_genic"] += 1
            continue
        found = None
        same = False
        for g1 in g1s:
            for g2 in g2s:
                if g1 == g2 or genes.gene_name[g1] == genes.gene_name[g2]:
                    same = True
                    continue
                p1 = keeps_5prime(j.side1, int(genes.gene_strand[g1]))
                p2 = keeps_5prime(j.side2, int(genes.gene_strand[g2]))
                if p1 != p2:
                    found = (
                        (g1, j.chrom1, j.pos1, g2, j.chrom2, j.pos2)
                        if p1
                        else (g2, j.chrom2, j.pos2, g1, j.chrom1, j.pos1)
                    )
                    break
            if found:
                break
        if not found:
            summary["same_gene" if same else "not_sense"] += 1
            continue
        g5, c5, p5, g3, c3, p3 = found
        name5, name3 = str(genes.gene_name[g5]), str(genes.gene_name[g3])
        in_frame, reason, detail = reading_frame(genes, name5, c5, p5, name3, c3, p3, genomic=True)
        out.append(
            _entry(
                name5,
                name3,
                c5,
                p5,
                c3,
                p3,
                in_frame,
                reason,
                j.supporting_reads,
                source,
                {"record_id": j.record_id, "svtype": j.svtype, "filter": j.filter, **detail},
                domains,
            )
        )
    summary["fusions"] = len(out)
    return out, summary


def _entry(
    gene5, gene3, chrom5, pos5, chrom3, pos3, in_frame, reason, reads, source, extra, domains=None
) -> dict:
    retained, domain_reason = domain_retention(domains, gene5, gene3, in_frame, extra)
    return {
        "gene5": gene5,
        "gene3": gene3,
        "chrom5": str(chrom5),
        "pos5": int(pos5),
        "chrom3": str(chrom3),
        "pos3": int(pos3),
        "in_frame": in_frame,
        "in_frame_reason": reason,
        "supporting_reads": None if reads is None else int(reads),
        "source": source,
        "kinase_domain_retained": retained,
        "kinase_domain_reason": domain_reason,
        **extra,
    }


# --------------------------------------------------------------------------------------------
# fusion-caller tables
# --------------------------------------------------------------------------------------------
TABLE_FORMATS = {
    "arriba": ("gene1", "gene2", "breakpoint1", "breakpoint2"),
    "star-fusion": (
        "fusionname",
        "junctionreadcount",
        "spanningfragcount",
        "leftbreakpoint",
        "rightbreakpoint",
    ),
    "pcgr": ("fusiongene", "leftbreakpoint", "rightbreakpoint", "splitreads"),
    "fusioncatcher": (
        "gene_1_symbol(5end_fusion_partner)",
        "gene_2_symbol(3end_fusion_partner)",
        "fusion_point_for_gene_1(5end_fusion_partner)",
        "fusion_point_for_gene_2(3end_fusion_partner)",
    ),
}


def _breakpoint(text: str, path, lineno: int) -> tuple[str, int]:
    """``chr:pos`` or ``chr:pos:strand`` → (chrom, 1-based pos)."""
    parts = text.strip().split(":")
    if len(parts) >= 3 and parts[-1] in ("+", "-"):
        parts = parts[:-1]
    if len(parts) < 2 or not parts[-1].isdigit():
        raise InputError(
            f"expected a breakpoint 'chrom:pos[:strand]'; found {text!r}", path=path, line=lineno
        )
    return ":".join(parts[:-1]), int(parts[-1])


def read_fusion_table(path, genes=None, domains: dict | None = None) -> tuple[list[dict], dict]:
    """Fusions from an Arriba, STAR-Fusion or PCGR-style table (format from the header)."""
    from .._io import open_text

    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing fusion table; found none", path=path)
    header = None
    out: list[dict] = []
    fmt = None
    summary = {"rows": 0, "fusions": 0}
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            if header is None:
                header = [h.strip().lstrip("#").lower() for h in text.split("\t")]
                for name, required in TABLE_FORMATS.items():
                    if all(r in header for r in required):
                        fmt = name
                        break
                if fmt is None:
                    expected = "; ".join(f"{n}: {' '.join(c)}" for n, c in TABLE_FORMATS.items())
                    raise InputError(
                        f"expected the columns of a fusion table ({expected}); found {text.strip()[:120]!r}",
                        path=path,
                        line=lineno,
                    )
                continue
            if text.startswith("#"):
                continue
            fields = text.split("\t")
            if len(fields) < len(header):
                raise InputError(
                    f"expected {len(header)} tab-separated fields; found {len(fields)}",
                    path=path,
                    line=lineno,
                )
            row = dict(zip(header, fields, strict=False))
            summary["rows"] += 1
            out.append(_table_row(fmt, row, path, lineno, genes, domains))
    if header is None:
        raise InputError("expected a header line in the fusion table; found an empty file", path=path)
    summary["format"] = fmt
    summary["fusions"] = len(out)
    return out, summary


def _reads(row: dict, *keys: str) -> int | None:
    total = 0
    seen = False
    for k in keys:
        v = row.get(k, "").strip()
        if v and v not in (".", "NA"):
            try:
                total += int(float(v))
                seen = True
            except ValueError:
                continue
    return total if seen else None


def _table_row(fmt: str, row: dict, path, lineno: int, genes, domains=None) -> dict:
    caller_frame = None
    if fmt == "pcgr":
        names = row["fusiongene"].split("--")
        if len(names) != 2:
            raise InputError(
                f"expected FusionGene 'GENE5--GENE3'; found {row['fusiongene']!r}", path=path, line=lineno
            )
        gene5, gene3 = names
        c5, p5 = _breakpoint(row["leftbreakpoint"], path, lineno)
        c3, p3 = _breakpoint(row["rightbreakpoint"], path, lineno)
        reads = _reads(row, "splitreads")
    elif fmt == "star-fusion":
        names = row["fusionname"].split("--")
        if len(names) != 2:
            raise InputError(
                f"expected FusionName 'GENE5--GENE3'; found {row['fusionname']!r}", path=path, line=lineno
            )
        gene5, gene3 = names
        c5, p5 = _breakpoint(row["leftbreakpoint"], path, lineno)
        c3, p3 = _breakpoint(row["rightbreakpoint"], path, lineno)
        reads = _reads(row, "junctionreadcount", "spanningfragcount")
        kind = row.get("prot_fusion_type", "").strip().upper()
        caller_frame = {"INFRAME": True, "FRAMESHIFT": False}.get(kind)
    elif fmt == "fusioncatcher":
        gene5 = row["gene_1_symbol(5end_fusion_partner)"].strip()
        gene3 = row["gene_2_symbol(3end_fusion_partner)"].strip()
        c5, p5 = _breakpoint(row["fusion_point_for_gene_1(5end_fusion_partner)"], path, lineno)
        c3, p3 = _breakpoint(row["fusion_point_for_gene_2(3end_fusion_partner)"], path, lineno)
        reads = _reads(row, "spanning_pairs", "spanning_unique_reads")
        caller_frame = {"in-frame": True, "out-of-frame": False}.get(row.get("predicted_effect", "").strip())
    else:  # arriba: gene1 makes the 5′ end of the transcript, gene2 the 3′ end (Arriba documentation)
        gene5, gene3 = row["gene1"].split(",")[0].split("(")[0], row["gene2"].split(",")[0].split("(")[0]
        c5, p5 = _breakpoint(row["breakpoint1"], path, lineno)
        c3, p3 = _breakpoint(row["breakpoint2"], path, lineno)
        reads = _reads(row, "split_reads1", "split_reads2", "discordant_mates")
        frame = row.get("reading_frame", "").strip()
        caller_frame = {"in-frame": True, "out-of-frame": False}.get(frame)
    in_frame, reason, detail = reading_frame(genes, gene5, c5, p5, gene3, c3, p3, genomic=False)
    if caller_frame is not None:  # the caller saw the expressed transcripts: its call wins
        in_frame, reason = caller_frame, f"reported by {fmt}"
    return _entry(
        gene5, gene3, c5, p5, c3, p3, in_frame, reason, reads, fmt, {"line": lineno, **detail}, domains
    )


# --------------------------------------------------------------------------------------------
# protein (kinase) domains
# --------------------------------------------------------------------------------------------
def read_protein_domains(path) -> dict[str, list[tuple[int, int, str]]]:
    """Kinase-domain table: TSV ``gene start end [name]``, 1-based inclusive amino-acid positions on
    the protein of the gene's reporting transcript (e.g. UniProt "Protein kinase" features for a
    MANE transcript whose protein equals the UniProt canonical). Returns gene → [(start, end, name)]."""
    from .._io import open_text

    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing protein-domain table; found none", path=path)
    out: dict[str, list[tuple[int, int, str]]] = {}
    header = None
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith("##"):
                continue
            fields = text.split("\t")
            if header is None:
                header = [f.strip().lstrip("#").lower() for f in fields]
                if header[:3] != ["gene", "start", "end"]:
                    raise InputError(
                        f"expected a header 'gene<TAB>start<TAB>end[<TAB>name]'; found {text.strip()[:80]!r}",
                        path=path,
                        line=lineno,
                    )
                continue
            if len(fields) < 3:
                raise InputError(
                    f"expected at least 3 tab-separated fields; found {len(fields)}", path=path, line=lineno
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(
                    f"expected integer amino-acid start and end; found {fields[1]!r} and {fields[2]!r}",
                    path=path,
                    line=lineno,
                ) from None
            if not 1 <= start <= end:
                raise InputError(
                    f"expected 1 <= start <= end; found start={start}, end={end}", path=path, line=lineno
                )
            name = fields[3].strip() if len(fields) > 3 else "kinase domain"
            out.setdefault(fields[0].strip(), []).append((start, end, name))
    if header is None:
        raise InputError("expected a header line in the protein-domain table; found an empty file", path=path)
    return out


def domain_retention(domains, gene5: str, gene3: str, in_frame, detail: dict) -> tuple[bool | None, str]:
    """Is a listed (kinase) domain kept whole in the fusion protein?

    5′ partner keeps residues 1..⌊b5/3⌋; 3′ partner, translated in the 5′ frame only when in frame,
    keeps residues from ⌊b3/3⌋+1 (+1 more when b3 is not a whole number of codons) to its end.
    """
    if not domains:
        return None, "no protein-domain table given"
    listed5, listed3 = domains.get(gene5), domains.get(gene3)
    if not listed5 and not listed3:
        return None, f"no domain listed for {gene5} or {gene3}"
    b5, b3 = detail.get("coding_bases_5"), detail.get("coding_bases_lost_3")
    if b5 is None or b3 is None:
        return None, "breakpoint position in the coding sequence not determined"
    kept = []
    if listed5:
        last = b5 // 3
        kept += [f"{gene5} {name} {s}-{e}" for s, e, name in listed5 if e <= last]
    if listed3 and in_frame:
        first = b3 // 3 + 1 + (1 if b3 % 3 else 0)
        kept += [f"{gene3} {name} {s}-{e}" for s, e, name in listed3 if s >= first]
    if kept:
        return True, "retained: " + ", ".join(kept)
    if listed3 and in_frame is None and not listed5:
        return None, f"{gene3} domain retention depends on the reading frame, which is undetermined"
    return False, "listed domain not kept whole" + (
        "" if in_frame or not listed3 else " (3′ partner out of frame)"
    )
