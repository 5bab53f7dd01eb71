"""Consequence annotation (contract §3): VCF → VCF with VEP-style ``CSQ`` + Parquet table.

Variants are streamed in chunks; each chunk is turned into NumPy arrays (0-based half-open trimmed
alleles), overlapped with the transcript index by the overlap kernel, and every (variant,
transcript) pair is classified by the consequence kernel (``ccevariants.kernels``). Python then only
formats strings (HGVS, CSQ) per output row. Positions written out are 1-based (VCF ``POS``, HGVS,
cDNA/CDS/protein positions).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict, deque
from functools import cached_property
from pathlib import Path

import numpy as np

from . import _arrow
from . import hgvs as H
from .bgzf import EOF as BGZF_EOF
from .errors import CcevariantsError, InputError, ReferenceMismatchError
from .kernels import read_only
from .progress import Progress
from .tbi import TabixBuilder
from .transcripts import DEFAULT_PICK_ORDER, TranscriptIndex, load_annotation, pick_keys

log = logging.getLogger(__name__)

#: Default reach of upstream_gene_variant / downstream_gene_variant (VEP's ``--distance``), bases.
FLANK = 5000
CSQ_FIELDS = (
    "Allele",
    "Consequence",
    "IMPACT",
    "SYMBOL",
    "Gene",
    "Feature",
    "BIOTYPE",
    "STRAND",
    "EXON",
    "INTRON",
    "HGVSc",
    "HGVSp",
    "HGVSp_short",
    "cDNA_position",
    "CDS_position",
    "Protein_position",
    "Amino_acids",
    "Codons",
    "PICK",
)
TABLE_COLUMNS = (
    "variant_id",
    "chrom",
    "pos",
    "ref",
    "alt",
    "filter",
    "t_dp",
    "t_ad_ref",
    "t_ad_alt",
    "n_dp",
    "n_ad_ref",
    "n_ad_alt",
    "t_af",
    "n_af",
    "gene",
    "gene_id",
    "transcript",
    "biotype",
    "strand",
    "consequence",
    "impact",
    "exon",
    "intron",
    "hgvsc",
    "hgvsp",
    "hgvsp_short",
    "cds_position",
    "protein_position",
    "amino_acids",
    "codons",
    "pick",
    "mane",
    "canonical",
)
NMD_BIOTYPES = ("nonsense_mediated_decay", "NMD")
#: Parquet columns written dictionary-encoded: long strings repeated across many rows of a row group.
#: The others are written plain (zstd still compresses them): per-variant values (IDs, positions,
#: HGVS, REF/ALT), numbers and flags, where hashing every value costs more than it saves (1 M-record
#: benchmark: ~0.45 CPU s less, the file ~1 MB larger).
#: They are handed to the writer as Arrow dictionary arrays (distinct values of the chunk + an index
#: per row, as the annotator makes them), so no string is copied per row or hashed by the writer;
#: the file is written without the Arrow schema, so readers get plain string columns.
_DICTIONARY_COLUMNS = (
    "chrom", "ref", "alt", "filter", "gene", "gene_id", "transcript", "biotype", "consequence", "impact", "exon",
    "intron", "amino_acids", "codons",
)  # fmt: skip
#: Parquet columns with min/max statistics: those that let a reader skip row groups. Row groups
#: are chunks of position-sorted records, so a region query (chrom, pos) or "picked rows only"
#: prunes them; the min/max of gene, transcript or consequence strings over a chunk spans nearly
#: the whole alphabet and prunes nothing, while computing it costs ~0.4 CPU s per 1 M records.
_STATISTICS_COLUMNS = ("chrom", "pos", "pick")


def parse_pick_order(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_PICK_ORDER
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in items if x not in ("mane", "canonical", "length")]
    if bad or not items:
        from .errors import ConfigError

        raise ConfigError(f"expected --pick-order items from mane,canonical,length; found {text!r}")
    return items


class _FastaView:
    """A FASTA handle that also answers to the other contig naming convention (``1`` for ``chr1``)."""

    def __init__(self, fasta):
        self.fasta = fasta
        self.references = fasta.references
        self._names = set(fasta.references)

    def fetch(self, chrom, start, end):
        if chrom not in self._names:
            from .contigs import harmonise

            chrom = harmonise(chrom, self._names) or chrom
        return self.fasta.fetch(chrom, start, end)


class _SharedFasta:
    """A FASTA handle that chunk threads share: one ``fetch`` at a time (an htslib ``faidx`` handle
    is not thread-safe). Exposes what :class:`Annotator` reads of it."""

    def __init__(self, fasta):
        import threading

        self.fasta = fasta
        self.references = fasta.references
        self.lengths = fasta.lengths
        self._lock = threading.Lock()

    def fetch(self, *args, **kwargs):
        with self._lock:
            return self.fasta.fetch(*args, **kwargs)


#: Longest stretch of a contig read from the FASTA in one piece to splice transcripts in batches.
SPAN_FETCH_MAX = 4_000_000


class _SeqCache:
    """Spliced transcript sequences (transcript orientation): for the kernels, a batch's as one
    byte buffer (:meth:`spliced`); for the per-row Python formatter, one transcript's as ``str``
    (:meth:`get`, a bounded LRU cache)."""

    def __init__(self, index: TranscriptIndex, fasta, max_items: int = 20000):
        self.index = index
        self.fasta = fasta
        self.max_items = max_items
        self.cache: OrderedDict[int, str] = OrderedDict()
        self._complement = None
        import threading

        self._lock = threading.RLock()  # chunk threads share the cache

    def spliced(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The spliced sequences of transcripts ``ts`` (distinct, ascending) for the kernels, made
        afresh (not cached: no Python object per transcript): ``(buf, seq_off)`` with transcript
        ``t``'s sequence at ``buf[seq_off[t]:]`` (its spliced length; -1 for the others). One FASTA
        read per group of transcripts on a contig within ``SPAN_FETCH_MAX / 2`` of each other,
        spliced by a compiled loop."""
        from .kernels import load

        tx, ex = self.index.transcripts, self.index.exons
        seq_off = np.full(len(tx), -1, dtype=np.int64)
        m = np.asarray(ts, dtype=np.int64)
        if not len(m):
            return np.zeros(1, dtype=np.uint8), seq_off
        n_ex = tx.n_exons[m].astype(np.int64)
        e_off = tx.exon_offset[m].astype(np.int64)
        lo, hi = self._exon_spans(m, n_ex, e_off)
        chrom = tx.chrom[m]
        new = np.ones(len(m), dtype=bool)
        new[1:] = (chrom[1:] != chrom[:-1]) | (
            lo[1:] // (SPAN_FETCH_MAX // 2) != lo[:-1] // (SPAN_FETCH_MAX // 2)
        )
        bounds = [*np.flatnonzero(new).tolist(), len(m)]
        kernel = load("alleles").splice
        bufs, at = [], 0
        for i, j in zip(bounds[:-1], bounds[1:], strict=True):
            a, b = int(lo[i:j].min()), int(hi[i:j].max())
            region = self.fasta.fetch(str(chrom[i]), a, b) if b > a else ""
            if len(region) == b - a and region.isascii():
                buf, off = kernel(
                    np.frombuffer(region.encode() or b"\0", dtype=np.uint8), a, ex.start, ex.end,
                    e_off[i:j], n_ex[i:j], tx.strand[m[i:j]] < 0, self.complement(),
                )  # fmt: skip
                buf = buf[: off[-1]]
            else:  # a contig shorter than the annotation says: transcript by transcript
                seqs = [self.index.transcript_cdna_sequence(int(t), self.fasta).encode() for t in m[i:j]]
                off = np.cumsum([0] + [len(x) for x in seqs])
                buf = np.frombuffer(b"".join(seqs), dtype=np.uint8)
            seq_off[m[i:j]] = at + off[:-1]
            bufs.append(buf)
            at += len(buf)
        return (np.concatenate(bufs) if at else np.zeros(1, dtype=np.uint8)), seq_off

    def _exon_spans(self, m, n_ex, e_off) -> tuple[np.ndarray, np.ndarray]:
        """The span of transcripts ``m``'s exons (they need not be sorted; none: an empty span)."""
        ex = self.index.exons
        has = n_ex > 0
        lo, hi = np.zeros(len(m), np.int64), np.zeros(len(m), np.int64)
        if has.any():
            k_ex = n_ex[has]
            seg = np.zeros(len(k_ex), np.int64)
            seg[1:] = np.cumsum(k_ex)[:-1]
            rows = np.repeat(e_off[has] - seg, k_ex) + np.arange(int(k_ex.sum()))
            lo[has] = np.minimum.reduceat(ex.start[rows], seg)
            hi[has] = np.maximum.reduceat(ex.end[rows], seg)
        return lo, hi

    def complement(self) -> np.ndarray:
        """The 256-entry byte map of base complements (made once)."""
        if self._complement is None:
            from .transcripts import _COMPLEMENT

            table = np.arange(256, dtype=np.uint8)
            for a, b in _COMPLEMENT.items():
                table[a] = b
            self._complement = table
        return self._complement

    def _put(self, t: int, seq: str) -> None:
        self.cache[t] = seq
        if len(self.cache) > self.max_items:
            self.cache.popitem(last=False)

    def get(self, t: int) -> str:
        with self._lock:
            seq = self.cache.get(t)
            if seq is None:
                seq = self.index.transcript_cdna_sequence(t, self.fasta)
                self._put(t, seq)
            else:
                self.cache.move_to_end(t)
            return seq


def trim_allele(pos1: int, ref: str, alt: str) -> tuple[int, int, str, str]:
    """VCF allele → trimmed 0-based half-open ``(start, end, ref, alt)``.

    The common suffix is removed first, then the common prefix (the VCF anchor base), which keeps an
    indel at its leftmost placement within the record — the VCF normal form that ``ccev normalize``
    produces (``AGA>A`` at POS p: deletion of ``AG`` at 0-based ``[p-1, p+1)``).
    """
    r, a = ref.upper(), alt.upper()
    while r and a and r[-1] == a[-1]:
        r, a = r[:-1], a[:-1]
    start = pos1 - 1
    while r and a and r[0] == a[0]:
        r, a = r[1:], a[1:]
        start += 1
    return start, start + len(r), r, a


class _Batch:
    """Kernel results for one batch of alleles (0-based half-open trimmed alleles, pair arrays)."""

    __slots__ = (
        "chroms", "starts", "ends", "t_refs", "t_alts", "symbolic",
        "p_var", "p_tx", "flags", "ints", "irow", "aa_off", "aa_ref", "aa_alt", "seq_buf", "seq_off", "windows",
    )  # fmt: skip

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


class _Strings:
    """A string column as ``values`` and a per-row ``index`` into them (``unique``: the values are
    known to be distinct, as :meth:`distinct` makes them)."""

    __slots__ = ("values", "index", "unique")

    def __init__(self, values, index, unique: bool = False):
        self.values = values
        self.index = index
        self.unique = unique

    @classmethod
    def distinct(cls, values, index) -> _Strings:
        """The column ``values[index]`` over the distinct values of ``values`` (a list of str or a
        pyarrow string array; :func:`_factorize`)."""
        uniq, code = _factorize(values)
        return cls(uniq, code[np.asarray(index)], unique=True)

    def objects(self) -> np.ndarray:
        values = self.values
        if hasattr(values, "to_pylist"):  # a pyarrow array
            values = values.to_pylist()
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr[self.index]

    def _value_array(self):
        """``values`` as a pyarrow string array."""
        import pyarrow as pa

        return _arrow.array(self.values, type=pa.string())

    def arrow(self):
        """The column as a pyarrow string array (a take of the values)."""
        import pyarrow as pa

        return self._value_array().take(_arrow.array(self.index, type=pa.int64()))

    def dictionary(self):
        """The column as a dictionary array (:func:`ccevariants._arrow.dictionary`)."""
        return _arrow.dictionary(self._value_array(), self.index, unique=self.unique)


class _Texts:
    """A column of short strings (trimmed alleles) as one byte buffer and offsets: string ``i`` is
    ``buf[off[i]:off[i + 1]]``. Indexing reads it as a list of str (made once, on first use: the
    per-allele Python paths); the kernels take the buffer."""

    __slots__ = ("buf", "off", "_list")

    def __init__(self, buf: np.ndarray, off: np.ndarray, values: list[str] | None = None):
        self.buf = buf
        self.off = off
        self._list = values

    @classmethod
    def spans(cls, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> _Texts:
        """The strings ``buf[starts[i]:ends[i]]``, copied into one buffer (:func:`vcfutil.gather_segments`)."""
        from .vcfutil import gather_segments

        lens = np.asarray(ends, dtype=np.int64) - starts
        off = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=off[1:])
        out = gather_segments(buf, starts, lens)
        return cls(out if len(out) else np.zeros(1, np.uint8), off)

    @classmethod
    def of(cls, values) -> _Texts:
        """``values`` (a list of str, or already a ``_Texts``) as a ``_Texts``."""
        return values if isinstance(values, _Texts) else cls.from_list(values)

    def isascii(self) -> bool:
        return bool((self.buf[: self.off[-1]] < 128).all())

    def upper(self) -> np.ndarray:
        """The buffer with ASCII lower-case letters in upper case."""
        b = self.buf
        return np.where((b >= 97) & (b <= 122), b - 32, b).astype(np.uint8)

    @classmethod
    def from_list(cls, values: list[str]) -> _Texts:
        off, blob = _arrow.utf8(values)
        buf = np.frombuffer(blob, dtype=np.uint8).copy() if off[-1] else np.zeros(1, np.uint8)
        return cls(buf, off, list(values))

    def arrow(self):
        """As a pyarrow string array (over the same buffer)."""
        return _arrow.from_offsets(self.off, self.buf)

    def __len__(self) -> int:
        return len(self.off) - 1

    def __getitem__(self, i: int) -> str:
        return self.tolist()[i]

    def tolist(self) -> list[str]:
        if self._list is None:
            o = self.off.tolist()
            data = self.buf.tobytes()
            self._list = [data[a:b].decode() for a, b in zip(o[:-1], o[1:], strict=True)]
        return self._list

    def lens(self) -> np.ndarray:
        return np.diff(self.off)

    def take(self, idx: np.ndarray) -> _Texts:
        """The strings ``idx``, in one new buffer."""
        idx = np.asarray(idx, dtype=np.int64)
        return _Texts.spans(self.buf, self.off[:-1][idx], self.off[1:][idx])


class _Contigs:
    """Per-allele contig names as the distinct ``names`` and a per-allele ``code`` into them (a chunk
    holds few contigs: no str per allele). Reads as a sequence of names."""

    __slots__ = ("names", "code")

    def __init__(self, names: list[str], code: np.ndarray):
        uniq = list(dict.fromkeys(names))
        if len(uniq) != len(names):  # a name in several runs: one code each
            remap = np.array([uniq.index(x) for x in names], dtype=np.int64)
            code = remap[code]
        self.names = uniq
        self.code = np.asarray(code, dtype=np.int64)

    @classmethod
    def of(cls, chroms) -> _Contigs:
        if isinstance(chroms, _Contigs):
            return chroms
        names = list(dict.fromkeys(chroms))
        code_of = {c: k for k, c in enumerate(names)}
        return cls(names, np.fromiter(map(code_of.__getitem__, chroms), dtype=np.int64, count=len(chroms)))

    def __len__(self) -> int:
        return len(self.code)

    def __getitem__(self, i: int) -> str:
        return self.names[self.code[i]]

    def __iter__(self):
        names = self.names
        return (names[c] for c in self.code.tolist())


class _Spans:
    """Strings as spans of one byte buffer: value ``i`` is ``buf[start[i]:end[i]]`` (UTF-8). The CSQ
    entries a formatting kernel writes stay where it wrote them, between the row's other fields,
    until :func:`_csq_lines` copies each into its output line (no copy of them on the way)."""

    __slots__ = ("buf", "start", "end")

    def __init__(self, buf: np.ndarray, start: np.ndarray, end: np.ndarray):
        self.buf, self.start, self.end = buf, start, end

    def __len__(self) -> int:
        return len(self.start)

    def filter(self, keep: np.ndarray) -> _Spans:
        return _Spans(self.buf, self.start[keep], self.end[keep])

    def to_pylist(self) -> list[str]:
        raw = self.buf.tobytes()
        return [raw[a:b].decode() for a, b in zip(self.start.tolist(), self.end.tolist(), strict=True)]

    @classmethod
    def of(cls, values) -> _Spans:
        """``values`` (a list of str, a pyarrow string array or :class:`_Spans`) as spans, over their
        own bytes (:func:`ccevariants._arrow.buffers`: read-only; no copy of an Arrow array)."""
        if isinstance(values, _Spans):
            return values
        off, buf = _arrow.buffers(values)
        return cls(buf, off[:-1], off[1:])

    @classmethod
    def concat(cls, pieces) -> _Spans:
        """The values of ``pieces`` (as :meth:`of` takes them) in order, over one buffer: the pieces'
        buffers one after the other (a bulk copy, not per value)."""
        spans = [cls.of(piece) for piece in pieces]
        base = np.cumsum([0] + [len(s.buf) for s in spans[:-1]])
        return cls(
            read_only(np.concatenate([s.buf for s in spans])),
            np.concatenate([s.start + b for s, b in zip(spans, base, strict=True)]),
            np.concatenate([s.end + b for s, b in zip(spans, base, strict=True)]),
        )


class _Pieces:
    """The distinct values of a string column, collected piece by piece (lists of str, pyarrow
    string arrays or :class:`_Spans`) and joined once."""

    __slots__ = ("parts", "n")

    def __init__(self, first: list[str]):
        self.parts = [first]
        self.n = len(first)

    def __len__(self) -> int:
        return self.n

    def add(self, values) -> None:
        self.parts.append(values)
        self.n += len(values)

    def values(self):
        """A list when every piece is one, :class:`_Spans` when a piece is, else one pyarrow string
        array."""
        if all(isinstance(p, list) for p in self.parts):
            return [v for p in self.parts for v in p]
        if any(isinstance(p, _Spans) for p in self.parts):
            return _Spans.concat(self.parts)
        import pyarrow as pa

        return pa.concat_arrays(
            [
                p if isinstance(p, pa.Array) else _arrow.array(p, type=pa.string())
                for p in self.parts
                if len(p)
            ]
        )


class Annotator:
    """Annotates batches of alleles against one transcript index and one FASTA."""

    def __init__(
        self,
        index: TranscriptIndex,
        fasta,
        pick_order=DEFAULT_PICK_ORDER,
        use_jit: bool = True,
        distance: int = FLANK,
    ):
        """``distance``: how far from a transcript a variant is still reported, as
        upstream/downstream_gene_variant (VEP's ``--distance``; 0: not at all)."""
        from .kernels import load

        if distance < 0:
            raise ValueError(f"expected an up/downstream distance >= 0; found {distance}")
        self.distance = int(distance)
        self.index = index
        self.pick_order = pick_order
        self.k_overlap = load("overlap", use_jit)
        self.k_csq = load("consequence", use_jit)
        self.k_fmt = load("format", use_jit)
        self.k_alleles = load("alleles", use_jit)
        self.seqs = _SeqCache(index, None)
        self.use_fasta(fasta)
        import threading

        self._local = threading.local()  # per-thread scratch: the reference windows of a batch
        self._coords_lock = threading.Lock()
        self._range_cache: dict[str, tuple[int, int]] = {}
        self.fasta_contigs = set(fasta.references)
        self.contig_lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        tx = index.transcripts
        self.t_nmd = np.isin(tx.biotype, NMD_BIOTYPES)
        self.t_strand = tx.strand.astype(np.int64)
        self.t_frame = tx.cds_frame.astype(np.int64)
        self.coords: OrderedDict[int, H.TranscriptCoords] = OrderedDict()
        # per-transcript attributes as Python objects once (row formatting reads them per row)
        gnames = index.genes.name.tolist()
        gids = index.genes.gene_id.tolist()
        gidx = tx.gene_index.tolist()
        self.tx_info = list(
            zip(
                tx.transcript_id.tolist(),
                tx.biotype.tolist(),
                tx.strand.tolist(),
                tx.n_exons.tolist(),
                [gnames[g] for g in gidx],
                [gids[g] for g in gidx],
                tx.mane.tolist(),
                tx.canonical.tolist(),
                (tx.cds_start >= 0).tolist(),
                strict=True,
            )
        )
        # the pick order is a total order over transcripts: rank them all once
        self.global_rank_arr = (
            pick_keys(index, np.arange(len(tx)), pick_order) if len(tx) else np.zeros(0, dtype=np.int64)
        )
        # per-transcript columns as object arrays: output columns are gathered by fancy indexing
        self.t_id_l = tx.transcript_id.tolist() + [""]
        self.t_biotype_l = tx.biotype.tolist() + [""]
        self.t_gene_l = [gnames[g] for g in gidx] + [""]
        self.t_gene_id_l = [gids[g] for g in gidx] + [""]
        # per transcript, the escaped CSQ fields SYMBOL|Gene|Feature|BIOTYPE|STRAND
        # (escaped column by column: one escape call over each whole column, newline-joined)
        esc = [
            _csq_escape("\n".join(col)).split("\n") if col else []
            for col in (self.t_gene_l[:-1], self.t_gene_id_l[:-1], self.t_id_l[:-1], self.t_biotype_l[:-1])
        ]
        strands = [str(st) if st else "" for st in tx.strand.tolist()]
        self.t_csq_l = ["|".join(x) for x in zip(*esc, strands, strict=True)] + [""]
        self._pa_values: dict = {}
        self.t_mane = np.asarray(tx.mane, dtype=bool)
        self.t_canonical = np.asarray(tx.canonical, dtype=bool)
        self.t_coding = (tx.cds_start >= 0).astype(np.int64)
        self._terms_cache: dict[tuple[int, bool], tuple[list[str], str]] = {}
        # transcripts whose exons are sorted and non-overlapping (TranscriptCoords' binary-search
        # case): the rows the formatting kernel handles
        ex = index.exons
        ok_ex = np.ones(len(ex.start), dtype=bool)
        if len(ex.start):
            ok_ex[:-1] = ex.end[:-1] <= ex.start[1:]
            ok_ex &= ex.start < ex.end
        n_ex = tx.n_exons.astype(np.int64)
        last = tx.exon_offset.astype(np.int64) + n_ex - 1
        # a transcript is sorted when every exon but its last ends before the next starts
        bad = np.concatenate([[0], np.cumsum(~ok_ex)]) if len(ex.start) else np.zeros(1, dtype=np.int64)
        lo = tx.exon_offset.astype(np.int64)
        hi = np.maximum(last, lo)  # exons lo .. hi-1 are checked against their successor
        self.t_sorted = (n_ex > 0) & ((bad[hi] - bad[np.minimum(lo, hi)]) == 0)
        if len(ex.start):
            self.t_sorted &= (
                ex.start[np.minimum(last, len(ex.start) - 1)] < ex.end[np.minimum(last, len(ex.start) - 1)]
            )

    def _transcript_range(self, chrom: str) -> tuple[int, int]:
        """Transcript rows of a VCF/FASTA contig, accepting the other naming convention in the
        annotation (``chr1`` vs ``1``, ``chrM`` vs ``MT``)."""
        hit = self._range_cache.get(chrom)
        if hit is None:
            from .contigs import candidates

            hit = (0, 0)
            for name in candidates(chrom):
                lo, hi = self.index.transcript_range(name)
                if hi > lo:
                    if name != chrom:
                        log.info("contig %s is named %s in the annotation", chrom, name)
                    hit = (lo, hi)
                    break
            self._range_cache[chrom] = hit
        return hit

    def use_fasta(self, fasta) -> None:
        """Read the reference from ``fasta`` (a pysam ``FastaFile``; a forked worker reopens it), one
        fetch at a time however many threads annotate chunks."""
        self.fasta = fasta if isinstance(fasta, _SharedFasta) else _SharedFasta(fasta)
        self.seqs.fasta = _FastaView(self.fasta)

    def _coords(self, t: int) -> H.TranscriptCoords:
        with self._coords_lock:
            c = self.coords.get(t)
            if c is None:
                c = self.coords[t] = H.TranscriptCoords(self.index, t)
                if len(self.coords) > 20000:
                    self.coords.popitem(last=False)
            return c

    def _allele_windows(
        self, chroms, pos1, ref_len, gap: int = 1000, pad: int = 200, max_span: int = 2_000_000
    ):
        """Upper-case reference windows covering clusters of alleles (0-based; consecutive alleles of a
        contig less than ``gap`` bases apart and in the same ``max_span / 2`` of it share one; ``pad``
        bases either side for indel shifts).

        Returns ``(wid, text, off, start, contig_len)`` (window of each allele, -1 if none: a cluster
        longer than ``max_span``), or None when a contig is not in the FASTA."""
        n = len(chroms)
        contigs = _Contigs.of(chroms)
        names, code = contigs.names, contigs.code
        if any(c not in self.fasta_contigs for c in names):
            return None
        p0 = np.asarray(pos1, dtype=np.int64) - 1
        e0 = p0 + ref_len
        reach = np.maximum.accumulate(e0) if n else e0
        new = np.ones(n, dtype=bool)
        new[1:] = (code[1:] != code[:-1]) | (p0[1:] - reach[:-1] > gap) | (p0[1:] < p0[:-1])
        # dense input (a variant every few dozen bases): clusters also end at every max_span / 2 of
        # the contig, so a large chunk does not make one window longer than max_span (whose
        # alleles would all take the Python path)
        block = max_span // 2
        new[1:] |= (p0[1:] // block) != (p0[:-1] // block)
        first = np.flatnonzero(new)
        wid = np.cumsum(new) - 1
        lo = np.minimum.reduceat(p0, first) if n else p0
        hi = np.maximum.reduceat(e0, first) if n else e0
        texts, starts, lens, ok = [], [], [], []
        for c, a, b in zip(code[first].tolist(), lo.tolist(), hi.tolist(), strict=True):
            chrom = names[c]
            clen = self.contig_lengths[chrom]
            a, b = max(0, a - pad), min(clen, b + pad)
            good = b - a <= max_span and a < b
            texts.append(self.fasta.fetch(chrom, a, b).upper() if good else "")
            starts.append(a)
            lens.append(clen)
            ok.append(good)
        wid = np.where(np.asarray(ok, dtype=bool)[wid], wid, -1) if n else wid
        off = np.zeros(len(texts) + 1, dtype=np.int64)
        off[1:] = np.cumsum([len(x) for x in texts])
        return wid, "".join(texts), off, np.asarray(starts, dtype=np.int64), np.asarray(lens, dtype=np.int64)

    def _prepare_kernel(self, chroms, pos1, refs, alts):
        """REF check, trimming and indel placements by the allele kernel (column-wise); alleles it
        leaves (no reference window, a shift past the window) go through :meth:`_prepare_python`.
        None when an allele fails the REF check, a contig is not in the FASTA or an allele is not
        ASCII (the caller then runs the Python path, which raises the error of the first one)."""
        refs, alts = _Texts.of(refs), _Texts.of(alts)
        if not (refs.isascii() and alts.isascii()):
            return None
        ref_len = refs.lens()
        windows = self._allele_windows(chroms, pos1, ref_len)
        if windows is None:
            return None
        wid, win_text, win_off, w_start, w_len = windows
        win_buf = np.frombuffer(win_text.encode() or b"\0", dtype=np.uint8)
        self._local.windows = (wid, win_buf, win_off, w_start, w_len)
        ref_off, alt_off = refs.off, alts.off
        k = self.k_alleles
        status, symbolic, starts, ends, r0, r1, a0, a1, sh_start, sh_end, sh_rot = k.prepare(
            np.asarray(pos1, dtype=np.int64) - 1,
            refs.buf,
            ref_off,
            alts.buf,
            alt_off,
            wid,
            win_buf,
            win_off,
            w_start,
            w_len,
        )
        if (status == k.MISMATCH).any():
            return None
        from .kernels import load

        kr = load("records")
        ref_up, alt_up = refs.upper(), alts.upper()
        t_refs = _Texts.spans(ref_up, ref_off[:-1] + r0, ref_off[:-1] + r1)
        t_alts = _Texts.spans(alt_up, alt_off[:-1] + a0, alt_off[:-1] + a1)
        a_buf, a_off = t_alts.buf, t_alts.off
        sym = np.flatnonzero(symbolic)
        if len(sym):  # a symbolic allele keeps its REF as written
            refs_l = t_refs.tolist()
            for i in sym.tolist():
                refs_l[i] = refs[i]
            t_refs = _Texts.from_list(refs_l)
        # the inserted bases of each placement (rotated for shifted insertions)
        sh_alt_buf = np.vstack([a_buf, a_buf])
        for row in (0, 1):
            rot = np.flatnonzero((sh_rot[row] > 0) & (t_alts.lens() > 0) & (t_refs.lens() == 0))
            kr.rotate_spans(sh_alt_buf[row], a_off, rot, sh_rot[row, rot].astype(np.int64), row == 0)
        fb = np.flatnonzero(status == k.FALLBACK)
        if len(fb):  # alleles the kernel left: per allele in Python, on lists
            sh_alts = [_Texts(b, a_off).tolist() for b in sh_alt_buf]
            out = (
                starts,
                ends,
                list(t_refs.tolist()),
                list(t_alts.tolist()),
                symbolic,
                sh_start,
                sh_end,
                sh_alts,
            )
            self._prepare_python(chroms, pos1, refs, alts, None, fb.tolist(), out)
            return self._as_texts(out)
        return starts, ends, t_refs, t_alts, symbolic, sh_start, sh_end, (sh_alt_buf, a_off)

    @staticmethod
    def _as_texts(prep):
        """:meth:`_prepare_python`'s lists as :class:`_Texts` (and the placements' inserted bases as
        a two-row buffer with the offsets of the ALT texts)."""
        starts, ends, t_refs, t_alts, symbolic, sh_start, sh_end, sh_alts = prep
        t_refs, t_alts = _Texts.from_list(t_refs), _Texts.from_list(t_alts)
        rows = [_Texts.from_list(x) for x in sh_alts]
        if len(t_alts) and not all(np.array_equal(r.off, t_alts.off) for r in rows):  # pragma: no cover
            raise ValueError("a placement changed an inserted sequence's length")
        sh_alt_buf = np.vstack([r.buf[: max(t_alts.off[-1], 1)] for r in rows])
        return starts, ends, t_refs, t_alts, symbolic, sh_start, sh_end, (sh_alt_buf, t_alts.off)

    def _prepare_python(self, chroms, pos1, refs, alts, record_labels, rows, out):
        """The per-allele REF check (raising ReferenceMismatchError), trimming and indel placements of
        alleles ``rows``, written into ``out`` (new arrays when None)."""
        n = len(chroms)
        if out is None:
            out = (
                np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), [""] * n, [""] * n,
                np.zeros(n, dtype=bool), np.zeros((2, n), dtype=np.int64), np.zeros((2, n), dtype=np.int64),
                [[""] * n, [""] * n],
            )  # fmt: skip
        starts, ends, t_refs, t_alts, symbolic, sh_start, sh_end, sh_alts = out
        for i in rows:
            chrom, p, ref, alt = chroms[i], int(pos1[i]), refs[i], alts[i]
            label = record_labels[i] if record_labels is not None else f"{chrom}:{p}"
            label = label.as_py() if hasattr(label, "as_py") else label  # an Arrow array's item
            if chrom not in self.fasta_contigs:
                raise ReferenceMismatchError(
                    f"expected contig {chrom!r} in the reference FASTA; found it absent (record {label})"
                )
            fa = self.fasta.fetch(chrom, p - 1, p - 1 + len(ref)).upper()
            if fa != ref.upper():
                raise ReferenceMismatchError(
                    f"expected REF {fa!r} from the reference at {chrom}:{p}; found {ref!r} (record {label})"
                )
            if not alt or alt[0] in "<*." or "[" in alt or "]" in alt or not set(alt.upper()) <= set("ACGTN"):
                symbolic[i] = True
                starts[i] = p - 1
                ends[i] = p - 1 + len(ref)
                t_refs[i] = ref
                t_alts[i] = ""
            else:
                symbolic[i] = False
                s, e, r, a = trim_allele(p, ref, alt)
                starts[i], ends[i] = s, e
                t_refs[i] = r
                t_alts[i] = a
            # alternative placements of pure indels (row 0: rightmost, row 1: leftmost)
            sh_start[:, i] = starts[i]
            sh_end[:, i] = ends[i]
            sh_alts[0][i] = sh_alts[1][i] = t_alts[i]
            if symbolic[i] or bool(t_refs[i]) == bool(t_alts[i]):
                continue
            clen = self.contig_lengths.get(chrom, 0)
            for row, right in ((0, True), (1, False)):
                s_, e_, r_, a_ = shift_allele(
                    self.fasta, chrom, int(starts[i]), int(ends[i]), t_refs[i], t_alts[i], right, 0, clen
                )
                sh_start[row, i], sh_end[row, i] = s_, e_
                sh_alts[row][i] = a_
        return out

    def _classify(self, chroms, pos1, refs, alts, record_labels=None) -> _Batch:
        """REF check, allele trimming, overlap and consequence kernels for one batch of alleles.

        ``pos1`` are 1-based VCF positions; ``refs``/``alts`` VCF alleles. Raises
        ReferenceMismatchError when REF disagrees with the FASTA or the contig is not in it.
        """
        n = len(chroms)
        self._local.windows = None
        prep = self._prepare_kernel(chroms, pos1, refs, alts)
        if prep is None:  # a REF mismatch, a missing contig or non-ASCII alleles: allele by allele
            prep = self._as_texts(
                self._prepare_python(chroms, pos1, refs, alts, record_labels, range(n), None)
            )
        starts, ends, t_refs, t_alts, symbolic, sh_start, sh_end, (sh_alt_buf, alt_off) = prep
        alt_buf = t_alts.buf
        sh_alt_off = np.vstack([alt_off, alt_off])
        # overlaps per contig
        pv, pt = [], []
        contigs = _Contigs.of(chroms)
        tx = self.index.transcripts
        for c, chrom in enumerate(contigs.names):
            lo, hi = self._transcript_range(chrom)
            rows = np.flatnonzero((contigs.code == c) & ~symbolic)
            if hi <= lo or len(rows) == 0:
                continue
            ts = tx.start[lo:hi]
            te = tx.end[lo:hi]
            vs = starts[rows]
            ve = ends[rows]
            maxlen = self.index.max_transcript_length(chrom)
            counts = self.k_overlap.count_overlaps(vs, ve, ts, te, maxlen, self.distance)
            off = np.zeros(len(rows) + 1, dtype=np.int64)
            off[1:] = np.cumsum(counts)
            out = np.empty(off[-1], dtype=np.int64)
            self.k_overlap.fill_overlaps(vs, ve, ts, te, maxlen, self.distance, off, out)
            pv.append(np.repeat(rows, counts))
            pt.append(out + lo)
        p_var = np.concatenate(pv) if pv else np.zeros(0, dtype=np.int64)
        p_tx = np.concatenate(pt) if pt else np.zeros(0, dtype=np.int64)
        # sequences of the coding transcripts that are hit
        hit = np.zeros(len(tx), dtype=bool)
        hit[p_tx] = True
        seq_buf, seq_off = self.seqs.spliced(np.flatnonzero(hit & (tx.cds_start >= 0)))
        k = self.k_csq
        flags, ints, irow, aa_off, aa_ref, aa_alt = k.consequences(
            p_var,
            p_tx,
            starts,
            ends,
            alt_buf,
            alt_off,
            sh_start,
            sh_end,
            sh_alt_buf,
            sh_alt_off,
            tx.start,
            tx.end,
            self.t_strand,
            tx.cds_start,
            tx.cds_end,
            tx.exon_offset,
            tx.n_exons,
            self.t_frame,
            self.t_nmd,
            self.index.exons.start,
            self.index.exons.end,
            seq_buf,
            seq_off,
            self.distance,
            k.BASE_CODE,
            k.AA_CODE,
        )
        return _Batch(
            chroms, starts, ends, t_refs, t_alts, symbolic, p_var, p_tx, flags, ints, irow, aa_off, aa_ref, aa_alt,
            seq_buf, seq_off, self._local.windows,
        )  # fmt: skip

    def annotate(self, chroms, pos1, refs, alts, record_labels=None) -> list[list[dict]]:
        """Per allele, a list of row dicts (one per overlapping transcript; one intergenic row if none).

        Convenience view of :meth:`annotate_columns` (same values, same order) for tests and small
        batches; ``pos1`` are 1-based VCF positions. Row dicts carry the table columns plus
        ``cdna_position``, ``cds_span``, ``protein_span``, ``_t`` (transcript row, -1 if none) and
        ``_flank_only`` (only up/downstream of the transcript).
        """
        row_var, cols = self.annotate_columns(chroms, pos1, refs, alts, record_labels)
        keys = [c for c in cols if c != "csq_mid"]
        lists = {c: cols[c].tolist() if isinstance(cols[c], np.ndarray) else list(cols[c]) for c in keys}
        result: list[list[dict]] = [[] for _ in range(len(chroms))]
        for r, i in enumerate(row_var.tolist()):
            result[i].append({c: lists[c][r] for c in keys})
        return result

    def annotate_columns(
        self, chroms, pos1, refs, alts, record_labels=None, arrow: bool | str = False, only=None
    ) -> tuple[np.ndarray, dict]:
        """Annotate a batch of alleles column-wise.

        Returns ``(row_var, cols)``: ``row_var[r]`` is the allele (index into the inputs) of output row
        ``r`` (rows grouped by allele, in input order; one intergenic / ``sequence_variant`` row for an
        allele that overlaps no transcript); ``cols`` maps the per-row columns of the table (contract
        §3, transcript part) plus ``cdna_position``/``cds_span``/``protein_span`` (CSQ strings),
        ``_t``, ``_flank_only`` and ``csq_mid`` (the CSQ entry between ``Allele|`` and ``|PICK``)
        to NumPy arrays — string columns as object arrays, or as ``pyarrow`` string arrays with
        ``arrow=True`` (with ``arrow="lazy"``, as ``_Strings`` whose ``arrow()`` makes that array:
        the caller may build them on another thread). Up/downstream rows (most rows) are built from the kernel arrays without
        per-row Python; single-nucleotide rows inside a transcript are formatted by the formatting
        kernel, the other rows inside a transcript by the Python HGVS formatter.

        String columns are assembled as a small list of distinct values plus a per-row index into it
        (``_Strings``), so that no Python object is made per output row. ``only``: materialise just
        these string columns (and the non-string ones).
        """

        b = self._classify(chroms, pos1, refs, alts, record_labels)
        k = self.k_csq
        n = len(b.chroms)
        # pairs grouped by allele (the overlap kernels give them so for sorted input: no copy then)
        in_order = bool(len(b.p_var) == 0 or (b.p_var[1:] >= b.p_var[:-1]).all())
        order = np.arange(len(b.p_var)) if in_order else np.argsort(b.p_var, kind="stable")
        p_var = b.p_var if in_order else b.p_var[order]
        # (the kernel's number rows: one per pair inside its transcript, found through irow)
        ints = b.ints
        irow = b.irow if in_order else b.irow[order]
        # the rows, their transcript columns, positions, flags and PICK: one compiled loop
        (row_var, pos_in_pairs, t, f, flank, strand, key_all, cds_pos, prot_pos, mane, canonical, pick) = (
            self.k_overlap.row_layout(
                p_var, b.p_tx if in_order else b.p_tx[order], b.flags if in_order else b.flags[order],
                ints, irow, n, self.t_strand, self.t_coding, self.t_mane, self.t_canonical,
                self.global_rank_arr, k.UPSTREAM | k.DOWNSTREAM,
            )
        )  # fmt: skip
        is_pair = pos_in_pairs >= 0
        pr = np.flatnonzero(is_pair)  # output rows that are (variant, transcript) pairs
        nrows = len(row_var)
        sym = b.symbolic[row_var]
        strs: dict[str, _Strings] = {}
        # per-transcript columns: index t into the transcript's value ("" for rows without one)
        t_or_none = np.where(t >= 0, t, len(self.t_id_l) - 1)
        for c, attr in (
            ("gene", "t_gene_l"),
            ("gene_id", "t_gene_id_l"),
            ("transcript", "t_id_l"),
            ("biotype", "t_biotype_l"),
        ):
            values, code = self._tx_distinct(attr, arrow)
            strs[c] = _Strings(values, code[t_or_none], unique=True)
        cols: dict = {}
        # consequence / impact: one lookup per distinct (flags, coding) pair
        kind = np.where(sym, 1, 0)  # 0 intergenic, 1 sequence_variant, 2+ distinct pair terms
        cons_v = ["intergenic_variant", "sequence_variant"]
        impact_v = ["MODIFIER", "MODIFIER"]
        if len(pr):
            uniq, inv = _factorize(key_all[pr])
            names = [self._terms(u >> 1, bool(u & 1)) for u in uniq.to_pylist()]
            cons_v += ["&".join(x[0]) for x in names]
            impact_v += [x[1] for x in names]
            kind[pr] = 2 + inv
        strs["consequence"] = _Strings.distinct(cons_v, kind)
        strs["impact"] = _Strings.distinct(impact_v, kind)
        # CSQ entry (between Allele| and |PICK) as three concatenated parts A + B + C: intergenic /
        # sequence_variant constants and per-row text inside transcripts are all in A; up/downstream
        # rows are "Consequence|IMPACT|" (A, per flags) + "SYMBOL|Gene|Feature|BIOTYPE|STRAND"
        # (B, per transcript) + ten empty fields (C)
        mid_v = [
            _csq_entry("", {**_empty_row(c), "pick": False})[1:-1]
            for c in ("intergenic_variant", "sequence_variant")
        ]
        ci_v = [_csq_escape(c) + "|" + _csq_escape(m) + "|" for c, m in zip(cons_v, impact_v, strict=True)]
        mid_i = np.where(sym, 1, 0)
        fr = np.flatnonzero(flank)
        mid_i[fr] = len(mid_v) + kind[fr]
        mid_v = _Pieces(mid_v + ci_v)
        mid_b = np.full(nrows, len(self.t_csq_l) - 1, dtype=np.int64)
        mid_b[fr] = t[fr]
        mid_c = flank.astype(np.int64)
        # rows inside a transcript: exon/intron numbers, HGVS, codons, positions
        detail = (
            "exon", "intron", "hgvsc", "hgvsp", "hgvsp_short", "amino_acids", "codons",
            "cdna_position", "cds_span", "protein_span",
        )  # fmt: skip
        # (the detail columns only when the caller wants them: the VCF needs csq_mid alone)
        detail = tuple(c for c in detail if only is None or c in only)
        fields = None if len(detail) == 10 else (*detail, "csq_mid")
        det_v = {c: _Pieces([""]) for c in detail}
        det_i = np.zeros(nrows, dtype=np.int64)  # 0: "", else 1 + position in the det_v lists
        n_det = 1  # values in each det_v list
        dr = np.flatnonzero(is_pair & ~flank)
        if len(dr):
            # the kernel's numbers and the pair index of each of these rows, gathered once; the
            # rows are then picked by their positions in dr
            d_ints = ints[irow[pos_in_pairs[dr]]]
            d_pair = order[pos_in_pairs[dr]]
            prefixes = self._csq_prefixes(ci_v)
            # single-nucleotide rows: text from the formatting kernel; the others in Python
            kr = self._kernel_rows(b, dr, row_var, t, f, d_ints)
            if len(kr):
                rows_k = dr[kr]
                texts = self._format_snv_rows(
                    b, rows_k, row_var, t, f, d_ints[kr], d_pair[kr], kind, prefixes, fields
                )
                det_i[rows_k] = n_det + np.arange(len(rows_k))
                n_det += len(rows_k)
                mid_i[rows_k] = len(mid_v) + np.arange(len(rows_k))
                for c in detail:
                    det_v[c].add(texts[c])
                mid_v.add(texts["csq_mid"])
            rest = np.ones(len(dr), dtype=bool)
            rest[kr] = False
            rest = np.flatnonzero(rest)  # positions in dr not formatted yet
            if len(rest) and b.windows is not None:
                # other alleles on transcripts with sorted exons: the kernel for indels/MNVs
                sel = rest[self.t_sorted[t[dr[rest]]]]
                if len(sel):
                    rows_o = dr[sel]
                    texts, st, ppos = self._format_other_rows(
                        b, rows_o, row_var, t, f, d_ints[sel], d_pair[sel], kind, prefixes, fields
                    )
                    good = st == 0
                    rows_g = rows_o[good]
                    det_i[rows_g] = n_det + np.arange(len(rows_g))
                    n_det += len(rows_g)
                    mid_i[rows_g] = len(mid_v) + np.arange(len(rows_g))
                    keep = _arrow.array(good)
                    for c in detail:
                        det_v[c].add(texts[c].filter(keep))
                    mid_v.add(texts["csq_mid"].filter(good))
                    prot_pos[rows_g] = ppos[good]
                    rest = np.setdiff1d(rest, sel[good], assume_unique=True)
            if len(rest):
                rows_p = dr[rest]
                rows = self._python_rows(b, rows_p, t, f, d_ints[rest], d_pair[rest])
                det_i[rows_p] = n_det + np.arange(len(rows_p))
                n_det += len(rows_p)
                mid_i[rows_p] = len(mid_v) + np.arange(len(rows_p))
                for c in detail:
                    det_v[c].add([row[c] for row in rows])
                mid_v.add([_csq_entry("", row)[1:-1] for row in rows])
                prot_pos[rows_p] = [row["protein_position"] for row in rows]
        for c in detail:
            strs[c] = _Strings(det_v[c].values(), det_i)
        for c, s_ in strs.items():
            if only is None or c in only:
                cols[c] = (s_ if arrow == "lazy" else s_.arrow()) if arrow else s_.objects()
        parts = (
            _Strings(mid_v.values(), mid_i),
            _Strings(self._tx_values("t_csq_l", arrow), mid_b),
            _Strings(["", "|" * 10], mid_c),
        )
        if arrow:  # assembled with the rest of the CSQ entry by _csq_lines
            cols["csq_mid"] = parts
        else:
            cols["csq_mid"] = parts[0].objects() + parts[1].objects() + parts[2].objects()
        cols["strand"] = strand
        cols["cds_position"] = cds_pos
        cols["protein_position"] = prot_pos
        cols["pick"] = pick
        cols["mane"] = mane
        cols["canonical"] = canonical
        cols["_t"] = t
        cols["_flank_only"] = flank
        return row_var, cols

    @cached_property
    def _ex_cum(self) -> np.ndarray:
        """Per exon row, the exonic bases of its transcript before it (the formatting kernels')."""
        tx, ex = self.index.transcripts, self.index.exons
        return self.k_fmt.exon_cum(
            tx.exon_offset.astype(np.int64), tx.n_exons.astype(np.int64), ex.start, ex.end
        )

    @cached_property
    def _tx_csq_bytes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each transcript's escaped ``SYMBOL|Gene|Feature|BIOTYPE|STRAND`` as (offsets, bytes)."""
        return _arrow.buffers(self.t_csq_l)

    def _csq_prefixes(self, ci_v) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The two parts of a row's CSQ prefix for a formatting kernel, as bytes and int64 offsets:
        ``Consequence|IMPACT|`` per consequence kind (``ci_v``, escaped) and each transcript's
        ``SYMBOL|Gene|Feature|BIOTYPE|STRAND`` (:attr:`_tx_csq_bytes`)."""
        off, buf = _arrow.buffers(ci_v)
        tx_off, tx_buf = self._tx_csq_bytes
        return buf, off, tx_buf, tx_off

    def _format_other_rows(self, b: _Batch, rows, row_var, t, f, ints, pair, kind, prefixes, fields=None):
        """Row text of output rows ``rows`` inside a transcript whose allele is not a substitution of
        one base (formatting kernel ``indel_rows``). Returns ``(texts, status, protein_position)``;
        rows with a non-zero status are to be formatted in Python."""
        kf = self.k_fmt
        i = row_var[rows]
        tt, ff = t[rows], f[rows]
        pre_buf, pre_off, tx_buf, tx_off = prefixes
        rt, at = b.t_refs.take(i), b.t_alts.take(i)
        ref_buf, ref_off, alt_buf, alt_off = rt.buf, rt.off, at.buf, at.off
        # the consequence kernel's peptides of each row, gathered contiguously
        a0 = b.aa_off[pair]
        pr_ = _Texts.spans(b.aa_ref, a0, a0 + np.maximum(ints[:, 10], 0))
        pa_ = _Texts.spans(b.aa_alt, a0, a0 + np.maximum(ints[:, 11], 0))
        pep_ref, pref_off, pep_alt, palt_off = pr_.buf, pr_.off, pa_.buf, pa_.off
        wid, win_buf, win_off, w_start, w_len = b.windows
        tx = self.index.transcripts
        buf, used, status, ppos, spans = kf.indel_rows(
            tt, ff, b.starts[i], b.ends[i], ref_buf, ref_off, alt_buf, alt_off, pep_ref, pref_off, pep_alt,
            palt_off, kind[rows], np.ascontiguousarray(ints), wid[i], win_buf, win_off,
            w_start, w_len, self.t_strand, tx.cds_start, tx.cds_end, tx.exon_offset, tx.n_exons, self.t_frame,
            self.index.exons.start, self.index.exons.end, self._ex_cum, b.seq_buf, b.seq_off, pre_buf, pre_off,
            tx_buf, tx_off,
            self.k_csq.BASE_CODE, self.k_csq.AA_CODE, kf.THREE_CODE, kf.ONE_CODE, kf.COMPLEMENT,
        )  # fmt: skip
        return _kernel_fields(buf, used, spans, fields), status, ppos

    def _tx_values(self, attr: str, arrow: bool):
        """A per-transcript value list (``t_*_l``), as a cached pyarrow array when ``arrow``."""
        if not arrow:
            return getattr(self, attr)
        hit = self._pa_values.get(attr)
        if hit is None:
            import pyarrow as pa

            hit = self._pa_values[attr] = _arrow.array(getattr(self, attr), type=pa.string())
        return hit

    def _tx_distinct(self, attr: str, arrow: bool):
        """The distinct values of a per-transcript list (``t_*_l``; as a pyarrow array when
        ``arrow``) and each transcript's index into them (made once)."""
        key = ("distinct", attr)
        hit = self._pa_values.get(key)
        if hit is None:
            uniq, code = _factorize(self._tx_values(attr, True))
            hit = self._pa_values[key] = (uniq, uniq.to_pylist(), code)
        return (hit[0] if arrow else hit[1]), hit[2]

    def _python_rows(self, b: _Batch, rows, t, f, ints, pair) -> list[dict]:
        """Row dicts (``_row_fields`` + ``_row_detail``) of output rows ``rows`` inside a transcript,
        formatted by the Python HGVS formatter; ``pair``: their indices into the kernel outputs."""
        out = []
        ints_l = ints.tolist()
        t_l = t[rows].tolist()
        f_l = f[rows].tolist()
        aa_off_l = b.aa_off.tolist()
        p_var_l = b.p_var.tolist()
        for j, o in enumerate(pair.tolist()):
            i = p_var_l[o]
            iv = ints_l[j]
            nr_, na_ = max(iv[10], 0), max(iv[11], 0)
            a0 = aa_off_l[o]
            tj, fj = t_l[j], f_l[j]
            row = self._row_fields(tj, fj, iv, False)
            out.append(
                self._row_detail(
                    row,
                    tj,
                    fj,
                    iv,
                    b.aa_ref[a0 : a0 + nr_].tobytes().decode() if nr_ else "",
                    b.aa_alt[a0 : a0 + na_].tobytes().decode() if na_ else "",
                    b.chroms[i],
                    b.starts[i],
                    b.ends[i],
                    b.t_refs[i],
                    b.t_alts[i],
                )
            )
        return out

    def _kernel_rows(self, b: _Batch, dr, row_var, t, f, ints) -> np.ndarray:
        """Indices into ``dr`` (rows inside a transcript) that the formatting kernel handles:
        single-nucleotide alleles on transcripts with sorted exons, a single codon changed (or
        none), no frameshift."""
        k = self.k_csq
        ref_len, alt_len = b.t_refs.lens(), b.t_alts.lens()
        snv = (ref_len == 1) & (alt_len == 1) & ~b.symbolic
        nr, na = np.maximum(ints[:, 10], 0), np.maximum(ints[:, 11], 0)
        w0, w1, c0, c1 = ints[:, 14], ints[:, 15], ints[:, 16], ints[:, 17]
        ok = (
            snv[row_var[dr]]
            & self.t_sorted[t[dr]]
            & ((f[dr] & k.FRAMESHIFT) == 0)
            & (nr == na)
            & (nr <= 1)
            & ((w0 < 0) | ((w0 <= c0) & (c0 + 1 == c1) & (c1 <= w1) & (w1 - w0 <= 12)))
        )
        return np.flatnonzero(ok)

    def _format_snv_rows(
        self, b: _Batch, rows, row_var, t, f, ints, pair, kind, prefixes, fields=None
    ) -> dict:
        """Row text of single-nucleotide rows ``rows`` (output rows; ``pair``: their pair indices
        into the consequence kernel's outputs) from the formatting kernel. ``kind[r]``: row ``r``'s
        ``Consequence|IMPACT|`` in ``prefixes`` (:meth:`_csq_prefixes`)."""
        kf = self.k_fmt
        i = row_var[rows]
        tt, ff = t[rows], f[rows]
        pre_buf, pre_off, tx_buf, tx_off = prefixes
        ref_b = b.t_refs.buf[b.t_refs.off[i]]  # one base each (single-nucleotide rows)
        alt_b = b.t_alts.buf[b.t_alts.off[i]]
        a0 = b.aa_off[pair]
        aa_ref = np.where(ints[:, 10] == 1, b.aa_ref[np.minimum(a0, len(b.aa_ref) - 1)], 0).astype(np.uint8)
        aa_alt = np.where(ints[:, 11] == 1, b.aa_alt[np.minimum(a0, len(b.aa_alt) - 1)], 0).astype(np.uint8)
        tx = self.index.transcripts
        buf, used, spans = kf.snv_rows(
            tt, ff, b.starts[i], ref_b, alt_b, aa_ref, aa_alt, kind[rows], np.ascontiguousarray(ints),
            self.t_strand, tx.cds_start, tx.cds_end, tx.exon_offset, tx.n_exons, self.t_frame,
            self.index.exons.start, self.index.exons.end, self._ex_cum, b.seq_buf, b.seq_off, pre_buf, pre_off,
            tx_buf, tx_off,
            self.k_csq.BASE_CODE, self.k_csq.AA_CODE, kf.THREE_CODE, kf.ONE_CODE, kf.COMPLEMENT,
        )  # fmt: skip
        return _kernel_fields(buf, used, spans, fields)

    def _shift3(self, chrom, start, end, ref, alt, coords):
        """Move a pure insertion/deletion to its 3'-most equivalent position in transcript orientation,
        within the exon or intron that holds it (HGVS 3' rule as applied by VEP). 0-based half-open."""
        anchor = start if ref else start - (0 if coords.strand >= 0 else 1)
        lo, hi = _feature_bounds(coords, max(anchor, 0))
        return shift_allele(self.fasta, chrom, start, end, ref, alt, coords.strand >= 0, lo, hi)

    def _terms(self, f: int, coding: bool) -> tuple[list[str], str]:
        key = (f, coding)
        hit = self._terms_cache.get(key)
        if hit is None:
            k = self.k_csq
            names = [k.SO_TERMS[b] for b in range(len(k.SO_TERMS)) if f >> b & 1]
            if not names:
                names = ["coding_sequence_variant"] if coding else ["non_coding_transcript_variant"]
            impact = next((k.IMPACT[nm] for nm in names if nm in k.IMPACT), "MODIFIER")
            hit = self._terms_cache[key] = (names, impact)
        return hit

    def _row_fields(self, t, f, ints, flank_only) -> dict:
        tid, biotype, strand, ne, gname, gid, mane, canonical, coding = self.tx_info[t]
        names, impact = self._terms(f, coding)
        exon = (
            "" if ints[0] < 0 else (f"{ints[0]}/{ne}" if ints[0] == ints[1] else f"{ints[0]}-{ints[1]}/{ne}")
        )
        intron = (
            ""
            if ints[2] < 0
            else (f"{ints[2]}/{ne - 1}" if ints[2] == ints[3] else f"{ints[2]}-{ints[3]}/{ne - 1}")
        )
        return {
            "gene": gname,
            "gene_id": gid,
            "transcript": tid,
            "biotype": biotype,
            "strand": strand,
            "consequence": "&".join(names),
            "impact": impact,
            "exon": exon,
            "intron": intron,
            "hgvsc": "",
            "hgvsp": "",
            "hgvsp_short": "",
            "cds_position": ints[6] if ints[6] > 0 else -1,
            "protein_position": ints[8] if ints[8] > 0 else -1,
            "amino_acids": "",
            "codons": "",
            "pick": False,
            "mane": mane,
            "canonical": canonical,
            "cdna_position": _span(ints[4], ints[5]),
            "cds_span": _span(ints[6], ints[7]),
            "protein_span": _span(ints[8], ints[9]),
            "_t": t,
            "_flank_only": flank_only,
        }

    def _row_detail(self, row, t, f, ints, ref_aa, alt_aa, chrom, start, end, ref, alt) -> dict:
        coding = self.tx_info[t][8]
        names = row["consequence"].split("&")
        coords = self._coords(t)
        hs, he, href, halt = int(start), int(end), ref, alt
        if bool(href) != bool(halt):  # pure insertion or deletion: 3' shift (HGVS)
            hs, he, href, halt = self._shift3(chrom, hs, he, href, halt, coords)
        prev = ""
        if hs == he and halt:
            n = len(halt)
            if coords.strand >= 0:
                prev = self.fasta.fetch(chrom, max(0, hs - n), hs).upper()
            else:
                prev = H.revcomp(self.fasta.fetch(chrom, hs, hs + n).upper())
        row["hgvsc"] = H.hgvsc(coords, hs, he, href, halt, prev)
        nameset = set(names)
        tx = self.index.transcripts
        if ints[8] > 0 and coding:
            seq = self.seqs.get(t)
            before = after = ""
            dup = False
            o = coords.cds_c0 + int(tx.cds_frame[t])
            ps = int(ints[8])

            def aa_at(pos1):
                c = o + 3 * (pos1 - 1)
                if pos1 < 1 or c + 3 > len(seq):
                    return ""
                return _translate(seq[c : c + 3])

            if not ref_aa and not alt_aa:
                before = aa_at(ps)
            elif not ref_aa and "frameshift_variant" not in nameset:
                # HGVS 3' rule on the protein: move the inserted peptide C-terminally through repeats
                while alt_aa and aa_at(ps) == alt_aa[0] and alt_aa[0] != "*":
                    alt_aa = alt_aa[1:] + alt_aa[0]
                    ps += 1
                before, after = aa_at(ps - 1), aa_at(ps)
                n = len(alt_aa)
                dup = ps - n >= 1 and "".join(aa_at(x) for x in range(ps - n, ps)) == alt_aa
                # an insertion is reported at the residue before it (VEP Protein_position "5-6")
                row["protein_position"] = ps - 1
                row["protein_span"] = _span(ps - 1, ps)
            elif not alt_aa and "frameshift_variant" not in nameset and "*" not in ref_aa:
                while ref_aa and aa_at(ps + len(ref_aa)) == ref_aa[0]:
                    ref_aa = ref_aa[1:] + ref_aa[0]
                    ps += 1
                row["protein_position"] = ps
                row["protein_span"] = _span(ps, ps + len(ref_aa) - 1)
            ext_aa = chr(ints[18]) if ints[18] > 0 else ""
            p = H.hgvsp(nameset, ps, ref_aa, alt_aa, int(ints[12]), int(ints[13]), before, after, dup, ext_aa)
            row["hgvsp"] = p
            row["hgvsp_short"] = H.short_p(p)
            if "frameshift_variant" in nameset:
                row["amino_acids"] = f"{ref_aa or '-'}/X" if ref_aa else ""
            elif ref_aa or alt_aa:
                row["amino_acids"] = f"{ref_aa or '-'}/{alt_aa or '-'}"
            elif before:
                row["amino_acids"] = before
            if ints[14] >= 0:
                alt_t = alt if coords.strand >= 0 else H.revcomp(alt)
                row["codons"] = H.codons(
                    seq, int(ints[14]), int(ints[15]), int(ints[16]), int(ints[17]), alt_t
                )
        return row


def shift_allele(fasta, chrom, start, end, ref, alt, right: bool, lo: int, hi: int, step: int = 64):
    """Slide a pure insertion (``ref == ""``) or deletion (``alt == ""``) along the reference, right
    (towards higher coordinates) or left, staying within ``[lo, hi)``; 0-based half-open. Returns the
    moved ``(start, end, ref, alt)`` with the allele rotated accordingly."""
    unit = ref or alt
    if not unit or (ref and alt):
        return start, end, ref, alt
    if right:
        while True:
            stop = min(end + step, hi)
            window = fasta.fetch(chrom, end, stop).upper() if end < stop else ""
            moved = 0
            for b in window:
                if b != unit[0]:
                    break
                unit = unit[1:] + unit[0]
                moved += 1
            start += moved
            end += moved
            if moved < len(window) or not window:
                break
    else:
        while True:
            begin = max(lo, start - step)
            window = fasta.fetch(chrom, begin, start).upper() if begin < start else ""
            moved = 0
            for b in reversed(window):
                if b != unit[-1]:
                    break
                unit = unit[-1] + unit[:-1]
                moved += 1
            start -= moved
            end -= moved
            if moved < len(window) or not window:
                break
    return (start, end, unit, "") if ref else (start, end, "", unit)


#: The text fields the formatting kernels write per row, in order (each ends with ``\x1f``).
_KERNEL_FIELDS = (
    "exon", "intron", "hgvsc", "hgvsp", "hgvsp_short", "amino_acids", "codons",
    "cdna_position", "cds_span", "protein_span", "csq_mid",
)  # fmt: skip


def _factorize(values) -> tuple:
    """``(distinct values, int64 index of each value among them)`` of a pyarrow array or a NumPy
    array, by hashing (Arrow's dictionary encoding; ``np.unique``'s sort took ~4 ms per chunk for the
    few distinct consequence keys of ~90 k rows). The distinct values come as a pyarrow array, in
    order of first appearance."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(_arrow.array(values))
    return enc.dictionary, _arrow.to_numpy(enc.indices).astype(np.int64)


def _kernel_fields(buf, used: int, spans, fields=None) -> dict:
    """Per field (all, or those in ``fields``), the rows' texts from a formatting kernel's buffer
    ``buf[:used]`` and its [rows, fields, 2] ``spans``, as pyarrow string arrays (no Python string
    per row); ``csq_mid`` (the last field) is left in the buffer as :class:`_Spans`."""
    want = np.array([fields is None or c in fields for c in _KERNEL_FIELDS], dtype=np.bool_)
    out = {}
    if want[-1]:
        out["csq_mid"] = _Spans(read_only(buf[:used]), spans[:, -1, 0].copy(), spans[:, -1, 1].copy())
        want[-1] = False
    if want.any():
        from .kernels import load

        offsets, data = load("records").split_spans(buf, spans, want)
        out.update(
            {c: _arrow.from_offsets(offsets[j], data) for j, c in enumerate(_KERNEL_FIELDS) if want[j]}
        )
    return out


def _feature_bounds(coords: H.TranscriptCoords, g: int) -> tuple[int, int]:
    """Genomic [start, end) of the exon or intron containing 0-based ``g`` (whole locus if outside)."""
    starts, ends = coords.starts, coords.ends
    for s, e in zip(starts, ends, strict=True):
        if s <= g < e:
            return s, e
    for e, s in zip(ends[:-1], starts[1:], strict=True):
        if e <= g < s:
            return e, s
    return -(1 << 60), 1 << 60


def _translate(codon: str) -> str:
    from .kernels._consequence_impl import CODE_TCAG

    idx = {"T": 0, "C": 1, "A": 2, "G": 3}
    try:
        return CODE_TCAG[idx[codon[0]] * 16 + idx[codon[1]] * 4 + idx[codon[2]]]
    except KeyError:
        return "X"


def _span(a, b) -> str:
    if a < 0 and b < 0:
        return ""
    if a == b or b < 0:
        return str(int(a))
    return f"{int(a)}-{int(b)}"


def _empty_row(consequence: str) -> dict:
    return {
        "gene": "",
        "gene_id": "",
        "transcript": "",
        "biotype": "",
        "strand": 0,
        "consequence": consequence,
        "impact": "MODIFIER",
        "exon": "",
        "intron": "",
        "hgvsc": "",
        "hgvsp": "",
        "hgvsp_short": "",
        "cds_position": -1,
        "protein_position": -1,
        "amino_acids": "",
        "codons": "",
        "pick": True,
        "mane": False,
        "canonical": False,
        "cdna_position": "",
        "cds_span": "",
        "protein_span": "",
        "_t": -1,
        "_flank_only": False,
    }


# ====================================================================== VCF / Parquet driver


def _info_values(info: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs of a VCF INFO column (flags and ``.`` are skipped)."""
    out = {}
    if info == ".":
        return out
    for item in info.split(";"):
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
    return out


def _int_or_missing(text: str | None) -> int:
    if text is None or text == "." or text == "":
        return -1
    try:
        return int(text)
    except ValueError:
        v = float(text)  # a Float-typed depth: truncated as before
        return int(v) if v == v else -1


def _support(info: dict[str, str]) -> tuple:
    """Read-support values (contract §3: -1 / NaN when missing) from parsed INFO."""
    t_ad = (info.get("T_AD", ".").split(",") + [".", "."])[:2]
    n_ad = (info.get("N_AD", ".").split(",") + [".", "."])[:2]
    return (
        _int_or_missing(info.get("T_DP")),
        _int_or_missing(t_ad[0]),
        _int_or_missing(t_ad[1]),
        _int_or_missing(info.get("N_DP")),
        _int_or_missing(n_ad[0]),
        _int_or_missing(n_ad[1]),
        _float_or_nan(info.get("T_AF")),
        _float_or_nan(info.get("N_AF")),
    )


def _float_or_nan(text: str | None) -> float:
    if text is None or text == "" or text == ".":
        return float("nan")
    return float(text.split(",", 1)[0]) if text.split(",", 1)[0] != "." else float("nan")


def _csq_entry(alt: str, row: dict) -> str:
    mid = row.get("_csq_mid")
    if mid is not None:  # cached up/downstream entry
        return f"{alt}|{mid}|{'1' if row['pick'] else ''}"
    vals = [
        alt,
        row["consequence"],
        row["impact"],
        row["gene"],
        row["gene_id"],
        row["transcript"],
        row["biotype"],
        "" if row["strand"] == 0 else str(row["strand"]),
        row["exon"],
        row["intron"],
        row["hgvsc"],
        row["hgvsp"],
        row["hgvsp_short"],
        row["cdna_position"],
        row["cds_span"],
        row["protein_span"],
        row["amino_acids"],
        row["codons"],
        "1" if row["pick"] else "",
    ]
    text = "|".join(vals)
    if text.count("|") != len(CSQ_FIELDS) - 1:  # a value holds '|': escape it per field
        text = "|".join(v.replace("|", "%7C") for v in vals)
    if "," in text or ";" in text or "=" in text or " " in text:
        text = text.translate(_CSQ_ESCAPE)
    return text


# characters that cannot appear inside an INFO value / a CSQ field ('|' is escaped per field above)
_CSQ_ESCAPE = str.maketrans({",": "%2C", ";": "%3B", "=": "%3D", " ": "_"})


#: The bytes :func:`_csq_escape` replaces.
_CSQ_SPECIAL = np.zeros(256, dtype=bool)
_CSQ_SPECIAL[np.frombuffer(b"|,;= ", dtype=np.uint8)] = True


def _csq_escape(value: str) -> str:
    """One CSQ field escaped as :func:`_csq_entry` escapes it (``|`` → ``%7C``, then ``,;=`` and space)."""
    return value.replace("|", "%7C").translate(_CSQ_ESCAPE)


def _csq_escape_column(arr):
    """:func:`_csq_escape` over a pyarrow string array, by Arrow kernels (no str per value; the array
    itself when nothing needs escaping — symbolic and ``*`` alleles included)."""
    import pyarrow.compute as pc

    off, data = _arrow.buffers(arr)
    if not _CSQ_SPECIAL[data[off[0] : off[-1]]].any():  # (a byte look-up, not a regex per value)
        return arr
    for char, code in (("|", "%7C"), (",", "%2C"), (";", "%3B"), ("=", "%3D"), (" ", "_")):
        arr = pc.replace_substring(arr, pattern=char, replacement=code)
    return arr


def _arrow_schema():
    import pyarrow as pa

    types = {
        "pos": pa.int64(),
        "strand": pa.int8(),
        "pick": pa.bool_(),
        "mane": pa.bool_(),
        "canonical": pa.bool_(),
        "t_af": pa.float64(),
        "n_af": pa.float64(),
    }
    for c in (
        "t_dp",
        "t_ad_ref",
        "t_ad_alt",
        "n_dp",
        "n_ad_ref",
        "n_ad_alt",
        "cds_position",
        "protein_position",
    ):
        types[c] = pa.int64()
    # no column holds nulls (missing support is -1, a missing VAF NaN, an absent string ""):
    # declared non-nullable, Parquet stores them REQUIRED, without definition levels
    # (~0.5 CPU s less per 1 M records to write, and to read)
    return pa.schema([pa.field(c, types.get(c, pa.string()), nullable=False) for c in TABLE_COLUMNS])


def _writer_schema():
    """The schema of the chunk tables given to the Parquet writer: :func:`_arrow_schema` with the
    dictionary-encoded columns as dictionary arrays (the file read back has the plain schema)."""
    import pyarrow as pa

    schema = _arrow_schema()
    for c in _DICTIONARY_COLUMNS:
        i = schema.get_field_index(c)
        schema = schema.set(i, pa.field(c, pa.dictionary(pa.int32(), pa.string()), nullable=False))
    return schema


def annotate_vcf(
    input_vcf,
    reference,
    annotation,
    output,
    table,
    pick_order=DEFAULT_PICK_ORDER,
    chunk_size: int = 20000,
    cache_dir=None,
    use_jit: bool = True,
    distance: int = FLANK,
    threads: int = 1,
) -> dict:
    """Annotate ``input_vcf`` and write ``output`` (bgzipped + tabix-indexed VCF with CSQ) and ``table``
    (Parquet, contract §3; None: no table). Returns run statistics.

    ``threads``: cores to use (:class:`_ChunkRunner`: 1 or 2 annotate chunks on that many threads of
    this process, from 3 ``threads - 1`` forked worker processes). Results are written in input
    order, so the output does not depend on it. ``distance``: reach of
    upstream/downstream_gene_variant in bases (VEP's ``--distance``; 0: none reported).
    """
    import cyvcf2
    import pysam

    for p, what in ((input_vcf, "input VCF"), (reference, "reference FASTA"), (annotation, "annotation")):
        if not Path(p).exists():
            raise InputError(f"expected an existing {what}; found none", path=p)
    from . import __version__

    log.info(
        "ccevariants %s annotate: input=%s reference=%s annotation=%s pick_order=%s distance=%d chunk_size=%d"
        " workers=%d threads=%d",
        __version__, input_vcf, reference, annotation, ",".join(pick_order), distance, chunk_size,
        *_ChunkRunner.split(threads),
    )  # fmt: skip
    index = load_annotation(annotation, cache_dir=cache_dir)
    log.info("transcript index: %d genes, %d transcripts", len(index.genes), len(index.transcripts))
    try:
        fasta = pysam.FastaFile(str(reference))
    except (OSError, ValueError) as exc:
        raise InputError(f"expected an indexable FASTA; found error {exc}", path=reference) from None
    try:
        reader = cyvcf2.VCF(str(input_vcf), gts012=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"expected a readable VCF; found error {exc}", path=input_vcf) from None
    reader.add_info_to_header(
        {
            "ID": "CSQ",
            "Number": ".",
            "Type": "String",
            "Description": "Consequence annotations from ccevariants. Format: " + "|".join(CSQ_FIELDS),
        }
    )
    annot = Annotator(index, fasta, pick_order, use_jit, distance=distance)
    schema = _writer_schema()
    stats = {"records": 0, "rows": 0, "transcripts": len(index.transcripts)}
    out_path = Path(output)
    tbi_final = Path(str(out_path) + ".tbi")
    import contextlib

    from ._io import atomic_path

    runner = _ChunkRunner(annot, schema if table is not None else None, input_vcf, reference, threads)
    stats["workers"] = runner.workers
    with contextlib.ExitStack() as stack:
        tmp_vcf = stack.enter_context(atomic_path(out_path, suffix=".vcf.gz"))
        tmp_pq = stack.enter_context(atomic_path(table, suffix=".parquet")) if table is not None else None
        # records are written as text in BGZF blocks: htslib's formatting of each record (str(rec))
        # with INFO/CSQ set, the header being the input's plus the CSQ line
        out = open(tmp_vcf, "wb")
        pw = None
        if tmp_pq is not None:
            import pyarrow.parquet as pq  # (only with a table: ~40 ms of start-up)

            pw = pq.ParquetWriter(
                str(tmp_pq),
                schema,
                compression="zstd",
                use_dictionary=list(_DICTIONARY_COLUMNS),
                write_statistics=list(_STATISTICS_COLUMNS),
                store_schema=False,  # (dictionary arrays written; strings read back)
            )
        bar = Progress("annotate: records")
        from ._io import Background

        def write_table(tbl) -> None:  # a table, or (from this process) the function that makes it
            pw.write_table(tbl() if callable(tbl) else tbl)

        # the table is assembled and encoded on a thread
        parquet = Background(write_table) if pw is not None else None

        index = TabixBuilder()
        layout = {"sizes": [], "lengths": [], "at": 0}  # BGZF members written, uncompressed bytes

        def put(vcf) -> None:
            if len(vcf) == 2:  # text from this process: compressed here, on the writer's thread
                vcf = (*_bgzf_run(vcf[0]), vcf[1])
            data, sizes, lengths = vcf[:3]
            if len(vcf) > 3:  # records: index them at their offsets in the whole file
                chrom, beg, end, line_end = vcf[3]
                if len(beg):
                    ustart = layout["at"] + np.r_[0, line_end[:-1]]
                    index.add(chrom, beg, end, ustart, layout["at"] + line_end)
            out.write(data)
            layout["sizes"] += sizes
            layout["lengths"] += lengths
            layout["at"] += sum(lengths)

        writer = Background(put)  # BGZF + file + index, in order, on a thread

        def emit(results):
            for vcf, tbl, n_rec, n_rows in results:
                writer.put(vcf)
                if pw is not None:
                    parquet.put(tbl)
                stats["records"] += n_rec
                stats["rows"] += n_rows
                bar.update(n_rec)

        try:
            writer.put(_bgzf_run(reader.raw_header.encode()))
            parts: list[_Chunk] = []  # lines read, not yet handed out (fewer than chunk_size)
            have = 0
            try:
                for block in _record_lines(input_vcf, reader):
                    at = 0
                    while have + len(block) - at >= chunk_size:
                        cut = at + chunk_size - have
                        emit(runner.submit(_Chunk.join([*parts, block.lines_slice(at, cut)])))
                        parts, have, at = [], 0, cut
                    if at < len(block):
                        parts.append(block.lines_slice(at, len(block)))
                        have += len(block) - at
            except InputError:
                # a defect in an earlier chunk (REF mismatch) is reported first, as it would be in order
                emit(runner.drain())
                raise
            if have:
                emit(runner.submit(_Chunk.join(parts), last=True))
            emit(runner.drain())
            writer.finish()
            if parquet is not None:
                parquet.finish()
            out.write(BGZF_EOF)
            out.close()
            # the index from the offsets of the lines written (no pass reading the file back)
            index.write(str(tmp_vcf) + ".tbi", layout["sizes"], layout["lengths"])
        finally:
            runner.close()
            writer.close()
            bar.close()
            out.close()
            if pw is not None:
                parquet.close()
                pw.close()
            reader.close()
            fasta.close()
        tmp_tbi = Path(str(tmp_vcf) + ".tbi")
    os.replace(tmp_tbi, tbi_final)
    log.info("annotated %d records into %d rows", stats["records"], stats["rows"])
    return stats


# ---------------------------------------------------------------------------- input records


class _Chunk:
    """Record lines as one read-only byte array (every line ends with ``\\n``) and the offset of each
    line's start: what the reader hands to the annotation of a chunk, sliced without copying and
    joined without a Python string per line (and pickled cheaply to a worker process)."""

    __slots__ = ("data", "starts")

    def __init__(self, data, n: int, starts=None):
        self.data = read_only(np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data)
        if starts is None:  # the offsets from the newlines
            nl = np.flatnonzero(self.data == 10)
            starts = np.r_[0, nl[:-1] + 1] if n else np.zeros(0, np.int64)
        self.starts = np.asarray(starts, dtype=np.int64)
        if len(self.starts) != n:
            raise ValueError(f"expected {n} line starts; found {len(self.starts)}")

    @classmethod
    def of(cls, lines: list[str]) -> _Chunk:
        """From lines without their newlines."""
        return cls("".join(line + "\n" for line in lines).encode(), len(lines))

    @classmethod
    def join(cls, chunks: list[_Chunk]) -> _Chunk:
        if len(chunks) == 1:
            return chunks[0]
        sizes = np.cumsum([0] + [len(c.data) for c in chunks[:-1]])
        starts = np.concatenate([c.starts + o for c, o in zip(chunks, sizes.tolist(), strict=True)] or [[]])
        return cls(np.concatenate([c.data for c in chunks]), len(starts), starts)

    def __len__(self) -> int:
        return len(self.starts)

    def lines_slice(self, a: int, b: int) -> _Chunk:
        """Lines ``a`` to ``b`` (exclusive), a view of these."""
        if a == 0 and b == len(self):
            return self
        lo = int(self.starts[a]) if a < len(self) else len(self.data)
        hi = int(self.starts[b]) if b < len(self) else len(self.data)
        return _Chunk(self.data[lo:hi], b - a, self.starts[a:b] - lo)

    def head(self, n: int) -> _Chunk:
        return self.lines_slice(0, n)

    def buffer(self) -> np.ndarray:
        """The bytes for the kernels: read-only (one compiled signature, also after unpickling)."""
        return read_only(self.data if len(self.data) else np.zeros(1, np.uint8))

    def lines(self) -> list[str]:
        """The lines as ``str``, without newlines."""
        return self.data.tobytes().decode().split("\n")[:-1]


#: Bytes of input text read per block (a few chunks' worth of lines).
READ_BYTES = 2 << 20


def _record_lines(input_vcf, reader):
    """The input's records as htslib prints them (``str(cyvcf2.Variant)``), one :class:`_Chunk` per
    input block; checks that they are sorted (contigs contiguous, POS not falling).

    The file is read as raw text blocks. A record already written the way htslib prints it
    (:func:`ccevariants.normbypass.printed_codes` 1 — every ``ccev normalize`` output record is)
    is used as it is; one that differs only by trailing zeros of its floats (code 2) is rewritten
    by :func:`ccevariants.normbypass.canonical_block`; any other is parsed and printed by htslib
    (cyvcf2 ``variant_from_string``), as is every line of a block the columnar scan does not take
    (fewer than 9 columns, blank lines, …). Same text as iterating the file with cyvcf2, about
    3 µs less per record.
    """
    import cyvcf2

    from .normbypass import canonical_block, key_tables, printed_codes
    from .vcfutil import checked_body_blocks, iter_text_lines, read_header, scan_records

    header = read_header(iter_text_lines(input_vcf), input_vcf)
    tables = key_tables(header)
    writer = None
    seen: set[str] = set()
    last_chrom, last_pos = None, 0
    line_no = header.header_line_no
    # (a truncated or corrupt stream: an InputError after the records before it went on)
    for block in checked_body_blocks(input_vcf, header.header_line_no, READ_BYTES):
        scan = scan_records(block, header.n_columns, min_columns=8)
        codes = None
        if scan is not None:
            starts, tabs = scan[0], scan[1]
            ends = np.r_[starts[1:], len(block)].astype(np.int64) - 1
            codes = printed_codes(block, tabs, ends, tables)
            if (codes == 2).any():  # floats with trailing zeros (6.00): written as htslib prints them
                block = canonical_block(block, starts, tabs, ends, codes, tables)
                scan = scan_records(block, header.n_columns, min_columns=8)
                codes = np.where(codes == 2, 1, codes)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"expected UTF-8 text; found byte 0x{block[exc.start]:02x}",
                path=input_vcf,
                line=line_no + block.count(b"\n", 0, exc.start) + 1,
            ) from None
        # lines as str only where htslib re-prints some record (or the columnar scan did not take
        # the block); otherwise the block is used as it is
        if scan is None:
            lines = text.split("\n")[:-1]
            redo = range(len(lines))
        else:
            starts, tabs, pos = scan[0], scan[1], scan[2]
            redo = np.flatnonzero(codes != 1).tolist()
            lines = text.split("\n")[:-1] if redo else None
        for i in redo:
            if writer is None:
                writer = cyvcf2.Writer("/dev/null", reader)
            try:
                lines[i] = str(writer.variant_from_string(lines[i])).rstrip("\n")
            except Exception as exc:  # noqa: BLE001 - htslib's parse error, named
                raise InputError(
                    f"expected a VCF record htslib can parse; found {lines[i][:60]!r} ({exc})",
                    path=input_vcf,
                    line=line_no + i + 1,
                ) from None
        chunk = _Chunk(block, len(starts), starts) if lines is None else _Chunk.of(lines)
        # sorted: contigs contiguous, POS not falling within a contig
        if scan is not None:
            new = np.flatnonzero(scan[4]).tolist()  # lines whose CHROM differs from the line before
            run_chrom = {i: block[int(starts[i]) : int(tabs[i, 0])].decode() for i in new}
            pos_list = pos
        else:
            cols = [ln.split("\t", 2) for ln in lines]
            run_chrom, prev = {}, None
            for i, c in enumerate(cols):
                if c[0] != prev:
                    run_chrom[i] = prev = c[0]
            pos_list = np.asarray([int(c[1]) if len(c) > 1 and c[1].isdigit() else 0 for c in cols], np.int64)
        bounds = [*sorted(run_chrom), len(chunk)]
        for r, i in enumerate(bounds[:-1]):
            chrom, p = run_chrom[i], pos_list[i : bounds[r + 1]]
            error = None
            if chrom != last_chrom:
                if chrom in seen:
                    error = (
                        i,
                        (
                            f"expected a coordinate-sorted VCF (contigs contiguous); found {chrom}:{int(p[0])} "
                            f"after {last_chrom}:{last_pos}"
                        ),
                    )
                seen.add(chrom)
                last_chrom, last_pos = chrom, 0
            falls = np.flatnonzero(np.diff(np.r_[last_pos, p]) < 0)
            if error is None and len(falls):
                k = int(falls[0])
                before = last_pos if k == 0 else int(p[k - 1])
                error = (
                    i + k,
                    f"expected a coordinate-sorted VCF; found {chrom}:{int(p[k])} after {chrom}:{before}",
                )
            if error is not None:  # the records before it go on first (their errors come first)
                yield chunk.head(error[0])
                raise InputError(error[1], path=input_vcf, line=line_no + error[0] + 1)
            last_pos = int(p[-1])
        line_no += len(chunk)
        yield chunk


# ---------------------------------------------------------------------------- BGZF output blocks


def _bgzf_run(data) -> tuple[bytes, list[int], list[int]]:
    """``data`` (bytes-like) as a run of complete BGZF members (:mod:`ccevariants.bgzf`, ISA-L level
    1; no EOF member) with each member's compressed size and uncompressed length. Members are
    independent gzip members, so runs compressed separately — in worker processes — concatenate
    into one valid BGZF file; the sizes let the parent build the tabix index without reading it."""
    from .bgzf import BLOCK, _members

    members = _members(data)
    return (
        b"".join(members),
        [len(m) for m in members],
        [min(BLOCK, len(data) - k) for k in range(0, len(data), BLOCK)],
    )


# ---------------------------------------------------------------------------- chunk execution

_WORKER: dict = {}


def _worker_init(reference) -> None:
    """Forked worker: reopen the FASTA (a pysam handle must not be shared across processes)."""
    import pysam

    annot = _WORKER["annot"]
    annot.use_fasta(pysam.FastaFile(str(reference)))


def _worker_chunk(chunk):
    w = _WORKER
    try:
        return _chunk_result(chunk, w["annot"], w["schema"], w["input_vcf"])
    except CcevariantsError as exc:  # re-raised by the parent, in chunk order
        return ("error", type(exc), exc.detail, exc.path, exc.line)


class _ChunkRunner:
    """Runs :func:`_chunk_result` on chunks with ``threads`` cores (:meth:`split`): in this process —
    on this thread (one core, or an input that fits in one chunk) or on ``self.threads`` threads (the
    kernels release the GIL) — or in a pool of ``self.workers`` forked processes, yielding results in
    submission order with at most ``2 × (workers or threads)`` chunks in flight. The pool is started
    at the first chunk that is not the last one (so small inputs pay no process start-up)."""

    def __init__(self, annot, schema, input_vcf, reference, threads: int = 1):
        self.args = (annot, schema, input_vcf)
        self.reference = str(reference)
        self.workers, self.threads = self.split(threads)
        self.pool = None
        self.pending: deque = deque()

    @staticmethod
    def split(threads: int) -> tuple[int, int]:
        """``(worker processes, chunk threads)`` for ``threads`` cores: up to 2, that many threads of
        this process (the Python between the kernels holds the GIL: about 1.5× at most); from 3,
        ``threads - 1`` workers, the parent keeping a core for reading, Parquet encoding and BGZF
        (on 2 cores, 2 workers beside the parent ran 1.4× slower than one process)."""
        threads = max(1, int(threads))
        return (threads - 1, 1) if threads >= 3 else (1, threads)

    @staticmethod
    def _unwrap(result):
        if result[0] == "error":
            _, cls, detail, path, line = result
            raise cls(detail, path=path, line=line)
        return result

    def submit(self, chunk, last: bool = False):
        if self.pool is None and (self.workers == self.threads == 1 or last):
            yield _chunk_result(chunk, *self.args, compress=False, defer_table=True)
            return
        if self.pool is None:
            self.pool = self._start()
        if self.workers > 1:
            self.pending.append(self.pool.submit(_worker_chunk, chunk))
        else:  # BGZF on the chunk's thread too: the writer's thread only writes
            self.pending.append(self.pool.submit(_chunk_result, chunk, *self.args, defer_table=True))
        while len(self.pending) >= 2 * max(self.workers, self.threads):
            yield self._unwrap(self.pending.popleft().result())

    def _start(self):
        if self.workers == 1:
            from concurrent.futures import ThreadPoolExecutor

            return ThreadPoolExecutor(self.threads, thread_name_prefix="ccev-annotate")
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        annot, schema, input_vcf = self.args
        _WORKER.update(annot=annot, schema=schema, input_vcf=input_vcf)
        # (a worker that dies — killed for memory — fails the run with BrokenProcessPool instead
        # of leaving the parent waiting for its chunk)
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_init,
            initargs=(self.reference,),
        )

    def drain(self):
        while self.pending:
            yield self._unwrap(self.pending.popleft().result())

    def close(self) -> None:
        if self.pool is not None:
            for fut in self.pending:
                fut.cancel()
            self.pending.clear()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        _WORKER.clear()


def _with_csq(line: str, csq: str) -> str:
    """A VCF data line (htslib formatted, no newline) with INFO/CSQ set to ``csq`` (replaced in place
    when present, appended otherwise — as htslib's ``bcf_update_info`` does)."""
    cols = line.split("\t", 8)
    info = cols[7]
    if info == ".":
        cols[7] = "CSQ=" + csq
    elif "CSQ=" not in info and not info.startswith("CSQ;") and info != "CSQ" and ";CSQ;" not in info:
        cols[7] = info + ";CSQ=" + csq
    else:
        items = info.split(";")
        for j, item in enumerate(items):
            if item == "CSQ" or item.startswith("CSQ="):
                items[j] = "CSQ=" + csq
                break
        else:
            items.append("CSQ=" + csq)
        cols[7] = ";".join(items)
    return "\t".join(cols)


def _chunk_result(
    chunk, annot: Annotator, schema, input_vcf, compress: bool = True, defer_table: bool = False
) -> tuple:
    """``chunk``: htslib-formatted record lines (:class:`_Chunk`). Returns ``(bgzf_bytes, table,
    n_records, n_rows)``: the annotated lines as BGZF blocks (``compress``; else the text, which
    the writer compresses on its thread) and the chunk's Arrow table (one Parquet
    row group). Columns are split and strings per output row concatenated by Arrow compute kernels,
    not in Python."""
    import pyarrow as pa

    rec = _parse_records(chunk, lazy=True)
    owner = rec["owner"]
    chroms, pos, refs, alts = rec["chroms"], rec["pos"], rec["refs"], rec["alts"]
    labels = rec["labels"] if rec["labels"] is not None else _Labels(rec)
    try:
        only = None if schema is not None else ("csq_mid",)
        row_var, cols = annot.annotate_columns(chroms, pos, refs, alts, labels, arrow="lazy", only=only)
    except ReferenceMismatchError as exc:
        raise ReferenceMismatchError(exc.detail, path=input_vcf) from None
    rv = _arrow.array(row_var, type=pa.int64())
    # CSQ entries: Allele|<mid>|PICK, joined per record (rows are grouped by allele, alleles by record)
    alt_arr = rec["alts_arrow"]
    alt_esc = _csq_escape_column(alt_arr)
    row_owner = owner[row_var]
    bounds = np.searchsorted(row_owner, np.arange(len(chunk) + 1)).astype(np.int64)
    text, line_end = _csq_lines(
        rec["heads"], rec["tails"], alt_esc, row_var, cols.pop("csq_mid"), cols["pick"], bounds
    )
    facts = _index_facts(chunk, rec, line_end)
    vcf = (*_bgzf_run(text), facts) if compress else (text, facts)
    if schema is None:  # no table wanted
        return vcf, None, len(chunk), len(row_var)

    def table():
        return _chunk_table(_table_only(rec), row_var, rv, cols, alt_arr, pos, schema)

    return vcf, (table if defer_table else table()), len(chunk), len(row_var)


def _chunk_table(rec: dict, row_var, rv, cols: dict, alt_arr, pos, schema):
    """A chunk's Arrow table (one Parquet row group): per-record columns repeated per output row,
    read support, and the annotation columns (``_Strings`` made into Arrow arrays here)."""
    import pyarrow as pa

    row_rec = rec["owner"][row_var]  # the record of each output row
    contigs = rec["contigs_rec"]
    # (per-record and per-allele strings as dictionary arrays over those values: no string copied
    # per row, and the Parquet writer does not hash them row by row)
    table = {
        "variant_id": rec["labels"].take(rv),
        "chrom": _Strings(_arrow.strings(contigs.names), contigs.code[row_rec], unique=True).dictionary(),
        "pos": np.asarray(pos, dtype=np.int64)[row_var],
        "ref": _arrow.dictionary(rec["ref_rec"], row_rec),
        "alt": _arrow.dictionary(alt_arr, row_var),
        "filter": _arrow.dictionary(rec["filter_rec"], row_rec),
    }
    # read support per record (converted there: fewer values than rows), one contiguous row per
    # column, then repeated per output row
    sup = rec["support"]
    counts = np.ascontiguousarray(sup[:, :6].T, dtype=np.int64).take(row_rec, axis=1)
    for k, c in enumerate(("t_dp", "t_ad_ref", "t_ad_alt", "n_dp", "n_ad_ref", "n_ad_alt")):
        table[c] = counts[k]
    # VAFs as htslib stores them (32-bit floats), as cyvcf2 reported them before
    vafs = np.ascontiguousarray(sup[:, 6:8].T, dtype=np.float32).astype(np.float64).take(row_rec, axis=1)
    table["t_af"], table["n_af"] = vafs[0], vafs[1]
    for c in TABLE_COLUMNS:
        if c not in table:
            v = cols[c]
            if isinstance(v, _Strings):
                v = v.dictionary() if pa.types.is_dictionary(schema.field(c).type) else v.arrow()
            table[c] = v
    arrays = [
        table[c] if isinstance(table[c], pa.Array) else _arrow.array(table[c], type=schema.field(c).type)
        for c in TABLE_COLUMNS
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _index_facts(chunk: _Chunk, rec: dict, line_end: np.ndarray) -> tuple:
    """Per record of a chunk, what the tabix index needs: contig, 0-based start, end (tabix's VCF
    rule: ``INFO/END`` when present and not before POS, else POS + len(REF) - 1), and the offset
    just past its output line within the chunk's text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .normtext import info_items

    n = len(chunk)
    first = np.searchsorted(rec["owner"], np.arange(n))
    beg = np.asarray(rec["pos"], dtype=np.int64)[first] - 1
    end = beg + _arrow.to_numpy(pc.utf8_length(rec["ref_rec"])).astype(np.int64)
    info = _Spans.of(rec["info"])  # INFO per record: spans of the chunk's bytes (from _parse_records)
    if (info_items(info.buf, info.start, info.end, ("END",))[0] >= 0).any():  # (an END item: rare)
        info = _arrow.array(info.to_pylist(), type=pa.string())
        got = pc.extract_regex(info, r"^(?:[^;]*;)*END=(?P<end>[0-9]{1,18})(?:;|$)")
        info_end = _arrow.to_numpy(pc.cast(pc.struct_field(got, [0]), pa.int64()))
        info_end = np.where(np.isnan(info_end.astype(np.float64)), -1, info_end).astype(np.int64)
        end = np.where(info_end > beg, info_end, end)
    contigs = rec["contigs_rec"]
    return np.asarray(contigs.names, dtype=object)[contigs.code], beg, end, line_end


def _parse_records(chunk, lazy: bool = False) -> dict:
    """Columns of htslib-formatted VCF lines (a :class:`_Chunk`, or a list of lines without
    newlines), read from the chunk's bytes by compiled
    loops (kernel module ``records``).

    Per record: ``ref_rec``/``filter_rec`` (Arrow; FILTER ``.`` as ``PASS``), ``info``
    (:class:`_Spans` of the chunk's bytes; Arrow from the line-by-line parser),
    ``contigs_rec`` (the contigs as :class:`_Contigs`), ``filter_spans`` and ``label_spans``
    (where ``filter_rec`` and ``labels`` are made from when the table asks, removed then),
    ``support`` (float64 [n, 8]: T_DP, T_AD ref/alt, N_DP, N_AD ref/alt, T_AF, N_AF; -1 / NaN when
    missing, as :func:`_support`), ``heads``/``tails`` (Arrow: the line around its CSQ value, as
    :func:`_csq_slot`). Per ALT allele: ``owner`` (record index), ``chroms``, ``pos`` (1-based),
    ``refs``, ``alts`` as Python lists and ``labels`` (``chrom:pos:ref:alt``, Arrow). Lines with
    fewer than 8 columns, a varying number of columns, an existing INFO/CSQ or a POS that is not a
    number go through :func:`_parse_records_python`. ``lazy``: leave ``labels``, ``filter_rec``
    and ``support`` (the table's) as None, for :func:`_table_only`.
    """

    from .kernels import load

    kr = load("records")
    if not isinstance(chunk, _Chunk):
        chunk = _Chunk.of(chunk)
    n = len(chunk)
    buf = chunk.buffer()
    start, end, n_cols, pos_rec, status, n_alts, run = kr.split_lines(buf, n)
    if n and (status.any() or n_cols.min() != n_cols.max()):
        return _parse_records_python(chunk.lines())
    owner, a_start, a_end = kr.alt_spans(buf, start, end, n_alts)

    def column(s_, e_):
        return _Texts.spans(buf, s_, e_).arrow()

    # contigs: one name per run of equal CHROM
    firsts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]]) if n else np.zeros(0, np.int64)
    names = [
        buf[a:b].tobytes().decode()
        for a, b in zip(start[firsts, 0].tolist(), end[firsts, 0].tolist(), strict=True)
    ]
    ref_rec = column(start[:, 3], end[:, 3])
    info = _Spans(read_only(buf), start[:, 7].copy(), end[:, 7].copy())  # (no copy of the text)
    alts_a = column(a_start, a_end)
    h_off, h_dat, t_off, t_dat = kr.heads_tails(buf, start, end)
    rec = {
        "owner": owner,
        "chroms": _Contigs(names, run[owner]),
        "pos": pos_rec[owner],
        "refs": _Texts.spans(buf, start[owner, 3], end[owner, 3]),
        "alts": _Texts.spans(buf, a_start, a_end),
        "alts_arrow": alts_a,
        "labels": None,
        "contigs_rec": _Contigs(names, run),
        "ref_rec": ref_rec,
        "filter_rec": None,
        "filter_spans": (buf, start[:, 6].copy(), end[:, 6].copy()),  # (for _table_only)
        # (for _table_only's labels: CHROM and REF of each record, ALT of each allele)
        "label_spans": (
            buf,
            start[:, 0].copy(),
            end[:, 0].copy(),
            start[:, 3].copy(),
            end[:, 3].copy(),
            a_start,
            a_end,
        ),  # fmt: skip
        "support": None,
        "heads": _arrow.from_offsets(h_off, h_dat),
        "tails": _arrow.from_offsets(t_off, t_dat),
        "info": info,
    }
    return rec if lazy else _table_only(rec)


def _table_only(rec: dict) -> dict:
    """Fill in the record columns only the table needs, if :func:`_parse_records` left them (``lazy``):
    ``labels`` (``chrom:pos:ref:alt`` per ALT allele), ``filter_rec`` (FILTER, ``.`` as ``PASS``)
    and ``support`` (read support from INFO)."""
    import pyarrow.compute as pc

    if rec["filter_rec"] is None:
        raw = _Texts.spans(*rec.pop("filter_spans")).arrow()
        rec["filter_rec"] = pc.if_else(
            pc.is_in(raw, _arrow.strings([".", "PASS"])), _arrow.strings(["PASS"])[0], raw
        )

    if rec["labels"] is None:
        from .kernels import load

        buf, c_s, c_e, r_s, r_e, a_s, a_e = rec.pop("label_spans")
        pos = np.asarray(rec["pos"], dtype=np.int64)
        rec["labels"] = _arrow.from_offsets(
            *load("records").labels(buf, rec["owner"], c_s, c_e, pos, r_s, r_e, a_s, a_e)
        )
    if rec["support"] is None:
        # INFO values (the last of a repeated key, as a dict built item by item would keep):
        # compiled loops over the Arrow buffer; values that are not plain numbers go through the
        # per-value functions of the line-by-line parser
        from .normtext import read_support

        info = _Spans.of(rec["info"])
        rec["support"] = read_support(info.buf, info.start, info.end, _int_or_missing, _float_or_nan)
    return rec


class _Labels:
    """``chrom:pos:ref:alt`` of allele ``i``, made when asked (the error messages of a chunk)."""

    def __init__(self, rec: dict):
        self.rec = rec

    def __getitem__(self, i: int) -> str:
        r = self.rec
        return f"{r['chroms'][i]}:{int(r['pos'][i])}:{r['refs'][i]}:{r['alts'][i]}"


def _parse_records_python(chunk: list[str]) -> dict:
    """:func:`_parse_records` line by line (lines with fewer than 8 columns, a varying number of
    columns or an existing INFO/CSQ)."""
    import pyarrow as pa

    owner, chroms, pos, refs, alts, labels = [], [], [], [], [], []
    chrom_rec, ref_rec, filter_rec, support, heads, tails, infos = [], [], [], [], [], [], []
    for r, line in enumerate(chunk):
        cols = line.split("\t", 8)
        infos.append(cols[7] if len(cols) > 7 else "")
        chrom, p, ref = cols[0], int(cols[1]), cols[3]
        chrom_rec.append(chrom)
        ref_rec.append(ref)
        filter_rec.append("PASS" if cols[6] in (".", "PASS") else cols[6])
        support.append(_support(_info_values(cols[7])))
        for alt in cols[4].split(","):
            owner.append(r)
            chroms.append(chrom)
            pos.append(p)
            refs.append(ref)
            alts.append(alt)
            labels.append(f"{chrom}:{p}:{ref}:{alt}")
        head, tail = _csq_slot(line, cols)
        heads.append(head)
        tails.append(tail)
    return {
        "owner": np.asarray(owner, dtype=np.int64),
        "chroms": chroms,
        "pos": pos,
        "refs": refs,
        "alts": alts,
        "alts_arrow": _arrow.array(alts, type=pa.string()),
        "labels": _arrow.array(labels, type=pa.string()),
        "contigs_rec": _Contigs.of(chrom_rec),
        "ref_rec": _arrow.array(ref_rec, type=pa.string()),
        "filter_rec": _arrow.array(filter_rec, type=pa.string()),
        "support": np.asarray(support, dtype=np.float64).reshape(len(chunk), 8),
        "heads": _arrow.array(heads, type=pa.string()),
        "tails": _arrow.array(tails, type=pa.string()),
        "info": _arrow.array(infos, type=pa.string()),
    }


# (the compiled copies, ``_numba.copy_bytes`` / ``copy_string``: set by _build_csq_kernel)
copy_bytes = copy_string = None


def _csq_lines_loop(
    h_off,
    h_dat,
    t_off,
    t_dat,
    a_off,
    a_dat,
    rv,
    m_start,
    m_end,
    m_dat,
    m_idx,
    l_off,
    l_dat,
    l_idx,
    bars,
    pick,
    bounds,
    out,
    line_end,
):  # pragma: no cover - compiled by Numba
    """Each record's output line: head, then per row ``ALT|<mid><per-transcript part><bars>|PICK``
    joined by ``,``, then tail (see :func:`_csq_lines`; ``mid`` values are spans: ``m_start``,
    ``m_end`` into ``m_dat``)."""
    k = 0
    for r in range(bounds.shape[0] - 1):
        k = copy_string(out, k, h_off, h_dat, r)
        for j in range(bounds[r], bounds[r + 1]):
            if j > bounds[r]:
                out[k] = 44
                k += 1
            k = copy_string(out, k, a_off, a_dat, rv[j])
            out[k] = 124
            v = m_idx[j]
            a = m_start[v]
            n = m_end[v] - a
            copy_bytes(out, k + 1, m_dat, a, n)
            k += 1 + n
            k = copy_string(out, k, l_off, l_dat, l_idx[j])
            if bars[j]:
                for i in range(10):
                    out[k + i] = 124
                k += 10
            out[k] = 124
            k += 1
            if pick[j]:
                out[k] = 49
                k += 1
        k = copy_string(out, k, t_off, t_dat, r)
        line_end[r] = k
    return k


_CSQ_KERNEL: dict = {}


def _build_csq_kernel() -> dict:
    from ._numba import copy_bytes, copy_string, helper

    # (no array is made: compiled without reference counting; copies are memcpy calls)
    _csq_lines_loop.__globals__.update(copy_bytes=copy_bytes, copy_string=copy_string)
    return {"lines": helper(_csq_lines_loop)}


def _csq_lines(heads, tails, alts, row_var, parts, pick, bounds) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's output text and the end of each record's line in it: ``heads[r] + csq +
    tails[r]`` with csq = the record's rows (``bounds[r]:bounds[r + 1]``) as ``ALT|mid|PICK``
    joined by ``,``; ``parts``: the three pieces of ``mid`` (:meth:`Annotator.annotate_columns`:
    per-row text, per-transcript text, ten empty fields or none). One compiled loop writes it
    (no per-row strings)."""
    from ._numba import build_once

    kernel = build_once(_CSQ_KERNEL, _build_csq_kernel)["lines"]
    mid, per_tx, flank = parts
    h = _arrow.buffers(heads)
    t = _arrow.buffers(tails)
    a = _arrow.buffers(alts)
    ms = _Spans.of(mid.values)
    m = (ms.start, ms.end, ms.buf)
    tx = _arrow.buffers(per_tx.values)
    if list(flank.values) != ["", "|" * 10]:  # pragma: no cover - annotate_columns' contract
        raise ValueError("unexpected CSQ filler values")
    rows = len(row_var)
    idx = [np.asarray(p.index, dtype=np.int64) for p in (mid, per_tx, flank)]
    rv = np.asarray(row_var, dtype=np.int64)
    alt_len = np.diff(a[0])[rv].sum() if rows else 0
    size = int(h[0][-1] - h[0][0] + t[0][-1] - t[0][0] + alt_len)
    size += int((m[1] - m[0])[idx[0]].sum() + np.diff(tx[0])[idx[1]].sum()) if rows else 0
    size += rows * 14
    out = np.empty(max(size, 1), np.uint8)
    line_end = np.empty(len(bounds) - 1, np.int64)
    k = kernel(
        *h, *t, *a, rv, *m, idx[0], *tx, idx[1], idx[2].astype(np.bool_), np.asarray(pick, dtype=np.bool_),
        np.asarray(bounds, dtype=np.int64), out, line_end,
    )  # fmt: skip
    return out[:k], line_end


def _csq_slot(line: str, cols: list[str]) -> tuple[str, str]:
    """``(head, tail)`` such that ``head + csq + tail`` is ``line`` (htslib formatted, no newline) with
    INFO/CSQ set to ``csq`` plus a newline — as :func:`_with_csq` (replaced in place when present,
    appended otherwise, as htslib's ``bcf_update_info`` does)."""
    info = cols[7]
    rest = "\t" + cols[8] + "\n" if len(cols) > 8 else "\n"
    end = len(line) - len(rest) + 1  # end of the INFO column
    start = end - len(info)
    if info == ".":
        return line[:start] + "CSQ=", rest
    if "CSQ=" not in info and not info.startswith("CSQ;") and info != "CSQ" and ";CSQ;" not in info:
        return line[:end] + ";CSQ=", rest
    items = info.split(";")
    for j, item in enumerate(items):
        if item == "CSQ" or item.startswith("CSQ="):
            before = ";".join(items[:j]) + ";" if j else ""
            after = ";" + ";".join(items[j + 1 :]) if j + 1 < len(items) else ""
            return line[:start] + before + "CSQ=", after + rest
    return line[:end] + ";CSQ=", rest
