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

import numpy as np

from .contigs import candidates
from .errors import InputError

try:  # ISA-L's gzip reader (a declared dependency): the same stream at ~3× the speed of zlib's
    from isal import igzip as _gzip
    from isal import isal_zlib as _isal_zlib

    #: What reading a truncated or corrupt gzip/BGZF stream raises (besides OSError subclasses).
    DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (
        EOFError,
        gzip.BadGzipFile,
        zlib.error,
        _isal_zlib.error,
    )
except ImportError:  # pragma: no cover - the dependency is declared; the standard library still works
    _gzip = gzip
    DECOMPRESS_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def open_bytes(path: str | Path, kind: str | None = None):
    """A binary reader of the plain, gzip or BGZF file ``path`` (all members; ``kind`` as
    :func:`compression` gives it, read from the file when None). Errors on a bad stream: one of
    :data:`DECOMPRESS_ERRORS`."""
    kind = kind or compression(path)
    return open(path, "rb") if kind == "plain" else _gzip.open(path, "rb")


def _truncated(path, kind: str, lines: int, exc: BaseException) -> InputError:
    """The error for a compressed stream that breaks off after ``lines`` whole lines."""
    return InputError(
        f"expected a complete {kind} stream; found a truncated or corrupt file after line {lines} ({exc})",
        path=path,
        line=lines + 1,
    )


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
        with open_bytes(path, kind) as fh:
            for raw in fh:
                count += 1
                try:  # line by line, so the error names the line that holds the byte
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(
                        f"expected UTF-8 text; found undecodable bytes ({exc.reason})", path=path, line=count
                    ) from None
                yield line
    except DECOMPRESS_ERRORS as exc:
        raise _truncated(path, kind, count, exc) from None


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


# --------------------------------------------------------------------------------------------
# Columnar byte helpers (fast paths over whole blocks of VCF text)
# --------------------------------------------------------------------------------------------

#: Bytes per block read by :func:`body_blocks` (each block ends at a newline).
BLOCK_BYTES = 8 << 20


def body_blocks(path: str | Path, skip_lines: int, block: int | None = None) -> Iterator[bytes]:
    """Raw bytes of a plain/gzip/bgzip text file after its first ``skip_lines`` lines.

    Yields blocks of about ``block`` bytes (default :data:`BLOCK_BYTES`) that each end with
    ``\\n`` (a final line without one gets it). Raises ValueError
    when a skipped (header) line holds a carriage return; decompression errors propagate
    (OSError and :data:`DECOMPRESS_ERRORS`; :func:`checked_body_blocks` makes them an InputError).
    """
    block = block or BLOCK_BYTES
    path = Path(path)
    with open_bytes(path) as fh:
        for _ in range(skip_lines):
            line = fh.readline()
            if b"\r" in line:
                raise ValueError("carriage return in header")
        yield from line_blocks(fh, block)


def checked_body_blocks(path: str | Path, skip_lines: int, block: int | None = None) -> Iterator[bytes]:
    """:func:`body_blocks`, where a truncated or corrupt compressed stream is an InputError naming the
    last line read whole, as in :func:`iter_text_lines` (the blocks before it have been yielded)."""
    lines = skip_lines
    try:
        for chunk in body_blocks(path, skip_lines, block):
            yield chunk
            lines += chunk.count(b"\n")
    except DECOMPRESS_ERRORS as exc:
        raise _truncated(path, compression(path), lines, exc) from None


def line_blocks(fh, size: int) -> Iterator[bytes]:
    """Blocks of about ``size`` bytes of complete lines (each ends with ``\\n``; a final line
    without one gets it) read from the binary stream ``fh``."""
    rest = b""
    while True:
        chunk = fh.read(size)
        if not chunk:
            break
        data = rest + chunk if rest else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[: cut + 1]
    if rest:
        yield rest + b"\n"


def _gather_loop(src, starts, lengths, sep, out):  # pragma: no cover - compiled by Numba
    """Kernel of :func:`gather_segments` (``sep`` < 0: no separator)."""
    k = 0
    for i in range(starts.shape[0]):
        copy_bytes(out, k, src, starts[i], lengths[i])
        k += lengths[i]
        if sep >= 0:
            out[k] = sep
            k += 1
    return k


_GATHER: dict = {}
copy_bytes = None  # (the compiled memcpy, ``_numba.copy_bytes``: set by _build_gather)


def _build_gather() -> dict:
    from ._numba import copy_bytes, helper

    _gather_loop.__globals__["copy_bytes"] = copy_bytes
    return {"gather": helper(_gather_loop)}  # (it makes no array: no reference counting)


def gather_segments(arr, starts, lengths, sep: int | None = None):
    """Concatenate ``arr[starts[i]:starts[i]+lengths[i]]`` for all i (uint8 arrays; one compiled
    loop, no per-segment Python). With ``sep`` (a byte value) each segment is followed by that
    byte. Returns a uint8 array.
    """
    import numpy as np

    from ._numba import build_once
    from .kernels import read_only

    gather = build_once(_GATHER, _build_gather)["gather"]
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if len(lengths) and (lengths.min() < 0 or starts.min() < 0 or (starts + lengths).max() > len(arr)):
        raise ValueError("segment outside the source array")
    total = int(lengths.sum()) + (len(lengths) if sep is not None else 0)
    out = np.empty(total, dtype=np.uint8)
    if total:
        src = read_only(np.ascontiguousarray(arr, dtype=np.uint8))
        gather(src, starts, lengths, -1 if sep is None else sep, out)
    return out


def _scan_loop(arr, ntabs, starts, tabs, pos, multi, new_chrom):  # pragma: no cover - Numba
    """Kernel of :func:`scan_records`; returns the number of lines, or -1 at the first bad one."""
    n = 0
    i = 0
    size = arr.shape[0]
    prev_s = -1
    prev_e = -1
    while i < size:
        s = i
        k = 0
        j = i
        while arr[j] != 10:
            if arr[j] == 9:
                if k >= ntabs:
                    return -1
                tabs[n, k] = j
                k += 1
            j += 1
        if k != ntabs:
            return -1
        starts[n] = s
        c_end = tabs[n, 0]
        if c_end == s:
            return -1
        ps = c_end + 1
        pe = tabs[n, 1]
        if pe - ps < 1 or pe - ps > 18 or arr[ps] == 48:
            return -1
        v = 0
        for q in range(ps, pe):
            d = np.int64(arr[q]) - 48
            if d < 0 or d > 9:
                return -1
            v = v * 10 + d
        pos[n] = v
        rs = tabs[n, 2] + 1
        r_end = tabs[n, 3]
        if r_end - rs < 1:
            return -1
        for q in range(rs, r_end):
            c = arr[q] | 32
            if c < 97 or c > 122:
                return -1
        a_s = tabs[n, 3] + 1
        a_e = tabs[n, 4]
        if a_e - a_s < 1:
            return -1
        m = 0
        for q in range(a_s, a_e):
            if arr[q] == 44:
                m = 1
                break
        multi[n] = m
        changed = 1
        if prev_s >= 0 and c_end - s == prev_e - prev_s:
            changed = 0
            for q in range(c_end - s):
                if arr[s + q] != arr[prev_s + q]:
                    changed = 1
                    break
        new_chrom[n] = changed
        prev_s = s
        prev_e = c_end
        n += 1
        i = j + 1
    return n


def _strip_loop(src, out):  # pragma: no cover - compiled by Numba
    """Kernel of :func:`strip_info_values`."""
    k = 0
    in_value = False
    for i in range(src.shape[0]):
        b = src[i]
        if in_value:
            if b == 59 or b == 10:
                in_value = False
                out[k] = b
                k += 1
        else:
            out[k] = b
            k += 1
            if b == 61:
                in_value = True
    return k


_KERNELS: dict = {}


def _kernel(name: str):
    if name not in _KERNELS:
        from ._numba import jit

        _KERNELS[name] = jit({"scan": _scan_loop, "strip": _strip_loop}[name])
    return _KERNELS[name]


def scan_records(block: bytes, n_columns: int, min_columns: int = 9):
    """Columnar facts of a block of VCF records (every line ending in ``\\n``), or None when a
    line breaks the rules of the line-by-line pre-pass (column count, POS, REF, ALT, empty CHROM).

    ``min_columns``: fewer columns in the header give None (the pre-pass wants samples; 8 = sites
    only is fine for a reader). Returns ``(starts, tabs, pos, multi, new_chrom)``: per line its first byte, the positions of its
    ``n_columns - 1`` tabs (shape (n, n_columns - 1)), POS (1-based, parsed), whether ALT holds a
    comma, and whether CHROM differs from the previous line's (first line: True).
    """
    n = block.count(b"\n")
    arr = np.frombuffer(block, dtype=np.uint8)
    starts = np.empty(n, np.int64)
    tabs = np.empty((n, n_columns - 1), np.int64)
    pos = np.empty(n, np.int64)
    multi = np.empty(n, np.uint8)
    new_chrom = np.empty(n, np.uint8)
    if (
        n_columns < max(min_columns, 8)
        or _kernel("scan")(arr, n_columns - 1, starts, tabs, pos, multi, new_chrom) != n
    ):
        return None
    return starts, tabs, pos, multi.astype(bool), new_chrom.astype(bool)


def strip_info_values(info: np.ndarray) -> bytes:
    """INFO text with every value removed (``A=1;B;C=x`` → ``A=;B;C=``), i.e.
    ``re.sub(rb"=[^;\\n]*", b"=", info)`` as one compiled loop."""
    out = np.empty(len(info), dtype=np.uint8)
    k = _kernel("strip")(np.ascontiguousarray(info, dtype=np.uint8), out)
    return out[:k].tobytes()
