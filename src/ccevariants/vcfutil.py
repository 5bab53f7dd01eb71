"""Shared VCF helpers: reading plain/gzip/bgzip text, header checks, contig harmonisation, builds.

Coordinates: VCF POS values are 1-based; FASTA fetches through pysam are 0-based half-open and
are converted where they happen.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .contigs import candidates
from .errors import InputError

VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")

#: Primary-chromosome lengths used to recognise a build from ``##contig`` lines or a FASTA index.
#: Source: GRC assembly reports for GRCh37.p13 (GCF_000001405.25) and GRCh38.p14
#: (GCF_000001405.40); NCBI36/hg18 chr1 from the UCSC hg18 chromInfo table.
BUILD_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh38": {"1": 248956422, "2": 242193529, "17": 83257441, "X": 156040895},
    "GRCh37": {"1": 249250621, "2": 243199373, "17": 81195210, "X": 155270560},
    "NCBI36": {"1": 247249719},
}


def compression(path: str | Path) -> str:
    """``"bgzf"``, ``"gzip"`` or ``"plain"`` from the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    # BGZF: gzip with FEXTRA and a 'BC' subfield (SAM/BAM spec, section 4.1)
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    return "gzip"


def iter_text_lines(path: str | Path) -> Iterator[str]:
    """Lines of a plain, gzip or bgzip text file; errors become InputError naming the file.

    A truncated or corrupt compressed stream raises InputError (with the number of lines read).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing VCF file; found none", path=path)
    kind = compression(path)
    count = 0
    try:
        if kind == "plain":
            fh = open(path, encoding="utf-8", newline="")
        else:
            fh = gzip.open(path, "rt", encoding="utf-8", newline="")
        with fh:
            for line in fh:
                count += 1
                yield line
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"expected a complete {kind} stream; found a truncated or corrupt file after line {count} ({exc})",
            path=path,
            line=count + 1,
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"expected UTF-8 text; found undecodable bytes ({exc.reason})", path=path, line=count + 1
        ) from None


def parse_meta(line: str) -> tuple[str, dict[str, str]] | None:
    """``##KEY=<ID=x,Number=1,...>`` -> (KEY, {ID: x, ...}); None for non-structured lines."""
    m = re.match(r"^##([A-Za-z0-9_.\-]+)=<(.*)>\s*$", line)
    if not m:
        return None
    fields: dict[str, str] = {}
    for km in re.finditer(r'([A-Za-z0-9_]+)=("(?:[^"\\]|\\.)*"|[^,]*)', m.group(2)):
        fields.setdefault(km.group(1), km.group(2))
    return m.group(1), fields


@dataclass
class Header:
    """Parsed VCF header: the raw ``##`` lines, the sample names and per-kind definitions."""

    meta: list[str]
    samples: list[str]
    n_columns: int
    header_line_no: int

    def defined(self, kind: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for ln in self.meta:
            p = parse_meta(ln)
            if p and p[0] == kind and "ID" in p[1]:
                out[p[1]["ID"]] = p[1]
        return out

    def contigs(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for cid, f in self.defined("contig").items():
            length = f.get("length")
            out[cid] = int(length) if length and length.isdigit() else None
        return out


def read_header(lines: Iterator[str], path: str | Path) -> Header:
    """Consume the header lines of a VCF iterator; validate the ``#CHROM`` line.

    Raises InputError for a missing ``##fileformat`` first line, a data line before ``#CHROM``,
    a ``#CHROM`` line with wrong column names, or no ``#CHROM`` line at all.
    """
    meta: list[str] = []
    n = 0
    for line in lines:
        n += 1
        text = line.rstrip("\r\n")
        if n == 1 and text.startswith("BCF"):
            raise InputError(
                "expected VCF text (plain, gzip or bgzip); found BCF — convert it with 'bcftools view -Oz'",
                path=path,
                line=1,
            )
        if n == 1 and not text.startswith("##fileformat=VCF"):
            raise InputError(
                f"expected '##fileformat=VCFv4.x' as the first line; found {text[:40]!r}", path=path, line=1
            )
        if text.startswith("##"):
            meta.append(text)
            continue
        if text.startswith("#CHROM"):
            cols = text.split("\t")
            fixed = tuple(cols[:8])
            if fixed != VCF_COLUMNS:
                raise InputError(
                    f"expected tab-separated columns {' '.join(VCF_COLUMNS)}; found {' '.join(fixed)}",
                    path=path,
                    line=n,
                )
            if len(cols) == 9:
                raise InputError(
                    "expected sample columns after FORMAT; found FORMAT without samples", path=path, line=n
                )
            if len(cols) > 9 and cols[8] != "FORMAT":
                raise InputError(f"expected column 9 to be FORMAT; found {cols[8]!r}", path=path, line=n)
            samples = cols[9:]
            dup = {s for s in samples if samples.count(s) > 1}
            if dup:
                raise InputError(
                    f"expected unique sample names; found duplicates {sorted(dup)}", path=path, line=n
                )
            return Header(meta=meta, samples=samples, n_columns=len(cols), header_line_no=n)
        raise InputError(
            f"expected the '#CHROM' header line before data; found {text[:40]!r}", path=path, line=n
        )
    if n == 0:
        raise InputError("expected a VCF header; found an empty file", path=path)
    raise InputError("expected the '#CHROM' header line; found end of file", path=path, line=n)


# --------------------------------------------------------------------------------------------
# Contig naming and builds
# --------------------------------------------------------------------------------------------


def contig_candidates(name: str) -> list[str]:
    """Equivalent spellings of a contig name (``chr1``↔``1``, ``chrM``↔``MT``); see :mod:`.contigs`."""
    return candidates(name)


class ContigMapper:
    """Map input contig names onto the reference's names (or leave them when no reference)."""

    def __init__(self, reference_names: Sequence[str] | None):
        self.ref = None if reference_names is None else set(reference_names)
        self.cache: dict[str, str | None] = {}

    def map(self, name: str) -> str | None:
        """Reference spelling of ``name``; None when the reference has no equivalent contig."""
        hit = self.cache.get(name, "")
        if hit != "":
            return hit
        if self.ref is None:
            out: str | None = name
        else:
            out = next((c for c in contig_candidates(name) if c in self.ref), None)
        self.cache[name] = out
        return out


def natural_contig_key(name: str) -> tuple:
    """Sort key: 1..22, X, Y, M/MT, then other names alphabetically (``chr`` prefix ignored)."""
    base = name[3:] if name.startswith("chr") else name
    if base.isdigit():
        return (0, int(base), "")
    rank = {"X": 1, "Y": 2, "M": 3, "MT": 3}.get(base)
    if rank is not None:
        return (rank, 0, "")
    return (4, 0, name)


def build_of(contig: str, length: int | None) -> str | None:
    """Build name (GRCh37/GRCh38/NCBI36) when ``length`` is that build's length of ``contig``."""
    if length is None:
        return None
    key = contig[3:] if contig.startswith("chr") else contig
    for build, table in BUILD_LENGTHS.items():
        if table.get(key) == length:
            return build
    return None


def guess_build(contigs: dict[str, int | None]) -> str | None:
    """First recognisable build from a contig→length table (e.g. a FASTA index or ##contig lines)."""
    for name, length in contigs.items():
        b = build_of(name, length)
        if b:
            return b
    return None


def build_from_text(meta: Sequence[str]) -> str | None:
    """Build named in ``##reference=``/``##assembly=`` lines (hg19/b37/GRCh37, hg38/GRCh38)."""
    for ln in meta:
        if ln.startswith(("##reference=", "##assembly=")):
            low = ln.lower()
            if re.search(r"grch38|hg38|\bb38\b", low):
                return "GRCh38"
            if re.search(r"grch37|hg19|\bb37\b|human_g1k_v37|hs37d5", low):
                return "GRCh37"
    return None
