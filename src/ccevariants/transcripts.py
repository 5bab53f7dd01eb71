"""Transcript index: GFF3 / GTF (Ensembl, GENCODE; plain or gzip) → columnar NumPy tables.

Coordinates inside the index are **0-based half-open** ``[start, end)`` on the forward strand of
the contig, whatever the strand of the feature. Exon numbers are counted in transcript direction
(exon 1 is the 5'-most exon of the transcript), 1-based.

Tables (contract §8), each a :class:`Table` of equal-length NumPy columns:

- ``genes``: ``gene_id, name, chrom, start, end, strand, biotype``
- ``transcripts``: ``transcript_id, gene_index, chrom, start, end, strand, biotype, cds_start,
  cds_end, mane, canonical, n_exons`` plus ``name`` (transcript name), ``cds_frame`` (phase of the
  5'-most CDS segment, non-zero only for 5'-incomplete CDS), ``exon_offset`` / ``cds_offset``
  (first row of the transcript in ``exons`` / ``cds``) and ``n_cds``.
- ``exons``: ``transcript_index, start, end, exon_number`` — rows grouped by transcript,
  ascending genomic start within a transcript.
- ``cds``: ``transcript_index, start, end, phase`` — likewise.

Transcripts are sorted by ``(chrom, start, end, transcript_id)``; ``cds_start``/``cds_end`` are the
genomic bounds of the coding segments including the stop codon (GTF ``stop_codon`` rows are merged
into the CDS, because Ensembl/GENCODE GTF CDS rows exclude it while GFF3 CDS rows include it);
``-1`` when the transcript is non-coding.

Defects handled (see ``docs/annotation.md``): a child (exon/CDS) whose parent transcript is absent,
a transcript whose parent gene is absent (GFF3), a CDS row with an unknown phase, a CDS segment not
contained in an exon, and a gene/transcript ID defined twice raise :class:`InputError` naming the
file and line. Features of unknown type (``biological_region``, ``intron``, UTR rows, …) are ignored.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from ._io import atomic_path, open_text, sha256_file
from .errors import InputError

log = logging.getLogger(__name__)

CACHE_VERSION = 2

GENE_COLUMNS = ("gene_id", "name", "chrom", "start", "end", "strand", "biotype")
TRANSCRIPT_COLUMNS = (
    "transcript_id",
    "gene_index",
    "chrom",
    "start",
    "end",
    "strand",
    "biotype",
    "cds_start",
    "cds_end",
    "mane",
    "canonical",
    "n_exons",
    "name",
    "cds_frame",
    "exon_offset",
    "cds_offset",
    "n_cds",
)
EXON_COLUMNS = ("transcript_index", "start", "end", "exon_number")
CDS_COLUMNS = ("transcript_index", "start", "end", "phase")

_GENE_TYPES_GFF = {
    "gene",
    "ncRNA_gene",
    "pseudogene",
    "lincRNA_gene",
    "miRNA_gene",
    "rRNA_gene",
    "snRNA_gene",
    "snoRNA_gene",
    "tRNA_gene",
}
_SKIP_TYPES = {
    "five_prime_UTR",
    "three_prime_UTR",
    "five_prime_utr",
    "three_prime_utr",
    "UTR",
    "intron",
    "biological_region",
    "chromosome",
    "region",
    "supercontig",
    "start_codon",
    "Selenocysteine",
    "CDS_motif",
}

DEFAULT_PICK_ORDER = ("mane", "canonical", "length")


class Table:
    """Equal-length NumPy columns with attribute and item access."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self._columns = dict(columns)
        lengths = {len(v) for v in self._columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length: {lengths}")

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_columns"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __len__(self) -> int:
        for value in self._columns.values():
            return len(value)
        return 0

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self._columns)


class TranscriptIndex:
    """Columnar transcript models of one annotation file (0-based half-open coordinates)."""

    def __init__(self, genes: Table, transcripts: Table, exons: Table, cds: Table, source: str = ""):
        self.genes = genes
        self.transcripts = transcripts
        self.exons = exons
        self.cds = cds
        self.source = source
        self._build_lookups()

    # ------------------------------------------------------------------ lookups
    def _build_lookups(self) -> None:
        tx = self.transcripts
        self.chroms = sorted(set(tx.chrom.tolist()) | set(self.genes.chrom.tolist()))
        self._tx_by_chrom: dict[str, tuple[int, int]] = {}
        chrom = tx.chrom
        if len(chrom):
            change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
            bounds = np.concatenate([[0], change, [len(chrom)]])
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                self._tx_by_chrom[str(chrom[lo])] = (int(lo), int(hi))
        self._gene_order = np.lexsort((self.genes.start, self.genes.chrom))
        self._tx_id_lookup = {t: i for i, t in enumerate(tx.transcript_id.tolist())}
        self._gene_name_lookup: dict[str, list[int]] = {}
        for i, (gid, name) in enumerate(
            zip(self.genes.gene_id.tolist(), self.genes.name.tolist(), strict=True)
        ):
            self._gene_name_lookup.setdefault(name, []).append(i)
            if gid != name:
                self._gene_name_lookup.setdefault(gid, []).append(i)
        self._max_tx_len = {}
        for c, (lo, hi) in self._tx_by_chrom.items():
            self._max_tx_len[c] = int((tx.end[lo:hi] - tx.start[lo:hi]).max()) if hi > lo else 0

    def transcript_range(self, chrom: str) -> tuple[int, int]:
        """Row range ``[lo, hi)`` of the transcripts on ``chrom`` (``(0, 0)`` when absent)."""
        return self._tx_by_chrom.get(chrom, (0, 0))

    def max_transcript_length(self, chrom: str) -> int:
        return self._max_tx_len.get(chrom, 0)

    def transcript_index(self, transcript_id: str) -> int:
        """Row of a transcript by its ID (version suffix and ``transcript:`` prefix optional)."""
        key = _strip_prefix(transcript_id)
        if key in self._tx_id_lookup:
            return self._tx_id_lookup[key]
        base = key.split(".")[0]
        for tid, i in self._tx_id_lookup.items():
            if tid.split(".")[0] == base:
                return i
        raise KeyError(transcript_id)

    def genes_overlapping(self, chrom: str, start0: int, end0: int) -> list[int]:
        """Gene rows overlapping the 0-based half-open interval ``[start0, end0)`` on ``chrom``."""
        g = self.genes
        mask = (g.chrom == chrom) & (g.start < end0) & (g.end > start0)
        rows = np.flatnonzero(mask)
        return sorted(rows.tolist(), key=lambda i: (int(g.start[i]), int(i)))

    def transcripts_of_gene(self, gene_index: int) -> np.ndarray:
        return np.flatnonzero(self.transcripts.gene_index == gene_index)

    def transcript_for_gene(self, name: str, pick_order=DEFAULT_PICK_ORDER) -> int:
        """The reporting transcript of a gene (by symbol or gene ID): MANE Select, then Ensembl
        canonical, then longest CDS, then longest transcript, then transcript ID (deterministic)."""
        genes = self._gene_name_lookup.get(name) or self._gene_name_lookup.get(_strip_prefix(name))
        if not genes:
            raise KeyError(name)
        rows = np.flatnonzero(np.isin(self.transcripts.gene_index, genes))
        if len(rows) == 0:
            raise KeyError(name)
        return int(rows[np.argmin(pick_keys(self, rows, pick_order))]) if len(rows) > 1 else int(rows[0])

    def exon_rows(self, transcript_index: int) -> slice:
        off = int(self.transcripts.exon_offset[transcript_index])
        return slice(off, off + int(self.transcripts.n_exons[transcript_index]))

    def cds_rows(self, transcript_index: int) -> slice:
        off = int(self.transcripts.cds_offset[transcript_index])
        return slice(off, off + int(self.transcripts.n_cds[transcript_index]))

    def exon_at(self, transcript_index: int, pos0: int) -> tuple[str, int]:
        """``("exon", n)`` or ``("intron", n)`` (numbered in transcript direction) for 0-based ``pos0``.

        Raises ``ValueError`` when ``pos0`` lies outside the transcript.
        """
        t = self.transcripts
        if not (t.start[transcript_index] <= pos0 < t.end[transcript_index]):
            raise ValueError(f"position {pos0} outside transcript {t.transcript_id[transcript_index]}")
        rows = self.exon_rows(transcript_index)
        starts, ends, numbers = self.exons.start[rows], self.exons.end[rows], self.exons.exon_number[rows]
        k = int(np.searchsorted(starts, pos0, side="right")) - 1
        if k >= 0 and pos0 < ends[k]:
            return "exon", int(numbers[k])
        # intron between genomic exon k and k+1; intron number in transcript direction
        if t.strand[transcript_index] >= 0:
            return "intron", int(numbers[k])
        return "intron", int(numbers[k + 1])

    def cds_length(self, transcript_index: int) -> int:
        rows = self.cds_rows(transcript_index)
        return int((self.cds.end[rows] - self.cds.start[rows]).sum())

    def cds_to_protein_pos(self, cds_pos: int) -> int:
        """1-based CDS position → 1-based codon (protein) position."""
        if cds_pos < 1:
            raise ValueError(f"expected a 1-based CDS position; found {cds_pos}")
        return (int(cds_pos) - 1) // 3 + 1

    def genomic_to_cds_pos(self, transcript_index: int, pos0: int) -> int:
        """1-based CDS position of the 0-based genomic position, or -1 if not in a CDS segment."""
        rows = self.cds_rows(transcript_index)
        starts, ends = self.cds.start[rows], self.cds.end[rows]
        lengths = ends - starts
        plus = self.transcripts.strand[transcript_index] >= 0
        order = np.arange(len(starts)) if plus else np.arange(len(starts))[::-1]
        acc = 0
        for k in order:
            if starts[k] <= pos0 < ends[k]:
                within = pos0 - starts[k] if plus else ends[k] - 1 - pos0
                return int(acc + within + 1)
            acc += int(lengths[k])
        return -1

    def transcript_cds_sequence(self, transcript_index: int, fasta) -> str:
        """Spliced CDS (stop codon included) in transcript orientation, upper case.

        ``fasta`` is a path or an object with ``fetch(chrom, start0, end0)`` (e.g. ``pysam.FastaFile``).
        """
        return self._spliced(
            transcript_index,
            fasta,
            self.cds.start[self.cds_rows(transcript_index)],
            self.cds.end[self.cds_rows(transcript_index)],
        )

    def transcript_cdna_sequence(self, transcript_index: int, fasta) -> str:
        """Spliced exonic sequence (5'UTR + CDS + 3'UTR) in transcript orientation, upper case."""
        rows = self.exon_rows(transcript_index)
        return self._spliced(transcript_index, fasta, self.exons.start[rows], self.exons.end[rows])

    def _spliced(self, transcript_index, fasta, starts, ends) -> str:
        starts, ends = np.asarray(starts), np.asarray(ends)
        close = False
        if not hasattr(fasta, "fetch"):
            import pysam

            fasta = pysam.FastaFile(str(fasta))
            close = True
        try:
            chrom = str(self.transcripts.chrom[transcript_index])
            seq = "".join(
                fasta.fetch(chrom, s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
            ).upper()
        finally:
            if close:
                fasta.close()
        if self.transcripts.strand[transcript_index] < 0:
            seq = reverse_complement(seq)
        return seq

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        arrays = {"__version__": np.array([CACHE_VERSION]), "__source__": np.array([self.source])}
        for tname in ("genes", "transcripts", "exons", "cds"):
            table = getattr(self, tname)
            for col in table.columns:
                arrays[f"{tname}.{col}"] = table[col]
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TranscriptIndex:
        with np.load(path, allow_pickle=False) as data:
            if int(data["__version__"][0]) != CACHE_VERSION:
                raise ValueError("stale cache")
            tables: dict[str, dict[str, np.ndarray]] = {
                "genes": {},
                "transcripts": {},
                "exons": {},
                "cds": {},
            }
            for key in data.files:
                if key.startswith("__"):
                    continue
                tname, col = key.split(".", 1)
                tables[tname][col] = data[key]
            source = str(data["__source__"][0])
        return cls(
            Table(tables["genes"]),
            Table(tables["transcripts"]),
            Table(tables["exons"]),
            Table(tables["cds"]),
            source=source,
        )


def pick_keys(index: TranscriptIndex, rows: np.ndarray, pick_order=DEFAULT_PICK_ORDER) -> np.ndarray:
    """Rank of each transcript row for reporting (lower is better), following ``pick_order``
    (items ``mane``, ``canonical``, ``length``), then longest transcript, then transcript ID."""
    t = index.transcripts
    rows = np.asarray(rows, dtype=np.int64)
    cds_len = np.where(t.cds_start[rows] >= 0, _cds_lengths(index)[rows], 0)
    keys = []
    for item in pick_order:
        if item == "mane":
            keys.append(~t.mane[rows])
        elif item == "canonical":
            keys.append(~t.canonical[rows])
        elif item == "length":
            keys.append(-cds_len)
        else:
            raise ValueError(f"unknown pick criterion {item!r}")
    keys.append(-(t.end[rows] - t.start[rows]))
    id_rank = np.argsort(np.argsort(t.transcript_id[rows], kind="stable"), kind="stable")
    keys.append(id_rank)
    order = np.lexsort(tuple(reversed(keys)))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows))
    return rank


def _cds_lengths(index: TranscriptIndex) -> np.ndarray:
    cached = getattr(index, "_cds_len_cache", None)
    if cached is None:
        lengths = index.cds.end - index.cds.start
        cached = np.zeros(len(index.transcripts), dtype=np.int64)
        np.add.at(cached, index.cds.transcript_index, lengths)
        index._cds_len_cache = cached
    return cached


_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDBywmkswvhdb")


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def _strip_prefix(value: str) -> str:
    for prefix in ("gene:", "transcript:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


# ====================================================================== loading


def default_cache_dir() -> Path:
    env = os.environ.get("CCEV_CACHE_DIR")
    if env:
        return Path(env) / "transcripts"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ccevariants" / "transcripts"


def load_annotation(
    path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, use_cache: bool = True
) -> TranscriptIndex:
    """Parse a GFF3 or GTF file (plain or gzip) into a :class:`TranscriptIndex`.

    The parsed index is cached as ``<cache_dir>/<sha256 of the file>.v<CACHE_VERSION>.npz`` (``cache_dir`` defaults to
    ``$CCEV_CACHE_DIR/transcripts`` or ``~/.cache/ccevariants/transcripts``); a second load of the same
    file content reads the cache.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing GFF3/GTF annotation file; found none", path=path)
    cache_file = None
    if use_cache:
        digest = sha256_file(path)
        cache_file = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cache_file = cache_file / f"{digest}.v{CACHE_VERSION}.npz"
        if cache_file.exists():
            try:
                index = TranscriptIndex.load(cache_file)
                log.info("transcript index from cache %s", cache_file)
                return index
            except (ValueError, KeyError, OSError):
                log.warning("ignoring unreadable transcript cache %s", cache_file)
    index = parse_annotation(path)
    if cache_file is not None:
        try:
            index.save(cache_file)
        except OSError as exc:  # read-only cache location is not fatal
            log.warning("could not write transcript cache %s: %s", cache_file, exc)
    return index


def detect_format(path: str | os.PathLike) -> str:
    """``"gff3"`` or ``"gtf"`` from the header / first feature's attribute syntax."""
    with open_text(path) as handle:
        for line in handle:
            if line.startswith("##gff-version"):
                return "gff3" if "3" in line.split(None, 1)[-1] else "gtf"
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 9:
                attrs = fields[8].strip()
                if 'gene_id "' in attrs or 'transcript_id "' in attrs:
                    return "gtf"
                return "gff3"
    return "gff3"


def parse_annotation(path: str | os.PathLike) -> TranscriptIndex:
    fmt = detect_format(path)
    builder = _Builder(str(path))
    with open_text(path) as handle:
        if fmt == "gtf":
            _parse_gtf(handle, builder)
        else:
            _parse_gff3(handle, builder)
    return builder.build()


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.genes: dict[str, dict] = {}
        self.transcripts: dict[str, dict] = {}
        self.exons: list[tuple[str, int, int, int, int]] = []  # tx, start0, end, exon_number, line
        self.cds: list[tuple[str, int, int, int, int]] = []  # tx, start0, end, phase, line
        self.stop_codons: list[tuple[str, int, int, int]] = []
        self.n_inferred_phase = 0

    def error(self, line: int, message: str):
        raise InputError(message, path=self.path, line=line)

    def build(self) -> TranscriptIndex:
        path = self.path
        # attach transcripts to genes
        for tid, t in self.transcripts.items():
            gid = t["gene"]
            if gid is None or gid not in self.genes:
                if t.get("implicit_gene_ok") and gid is not None:
                    self.genes[gid] = {
                        "name": t.get("gene_name") or gid,
                        "chrom": t["chrom"],
                        "start": t["start"],
                        "end": t["end"],
                        "strand": t["strand"],
                        "biotype": t.get("gene_biotype") or t["biotype"],
                        "line": t["line"],
                        "implicit": True,
                    }
                else:
                    self.error(
                        t["line"],
                        f"expected the parent gene {gid!r} of transcript {tid!r} to be "
                        f"defined in the file; found no such gene",
                    )
            elif self.genes[gid].get("implicit"):
                g = self.genes[gid]
                g["start"] = min(g["start"], t["start"])
                g["end"] = max(g["end"], t["end"])
        ex_by_tx: dict[str, list] = {}
        for row in self.exons:
            if row[0] not in self.transcripts:
                self.error(
                    row[4], f"expected the parent transcript {row[0]!r} of an exon to be defined; found none"
                )
            ex_by_tx.setdefault(row[0], []).append(row)
        cds_by_tx: dict[str, list] = {}
        for row in self.cds:
            if row[0] not in self.transcripts:
                self.error(
                    row[4], f"expected the parent transcript {row[0]!r} of a CDS to be defined; found none"
                )
            cds_by_tx.setdefault(row[0], []).append(row)
        for row in self.stop_codons:
            if row[0] not in self.transcripts:
                self.error(
                    row[3],
                    f"expected the parent transcript {row[0]!r} of a stop_codon to be defined; found none",
                )
        # GTF: stop codons are not part of CDS rows; merge them in
        for tid, s, e, line in self.stop_codons:
            segs = cds_by_tx.setdefault(tid, [])
            covered = any(cs <= s and e <= ce for _, cs, ce, _, _ in segs)
            if not covered:
                merged = False
                for k, (_, cs, ce, ph, ln) in enumerate(segs):
                    if ce == s or cs == e:  # adjacent: extend
                        segs[k] = (tid, min(cs, s), max(ce, e), ph, ln)
                        merged = True
                        break
                if not merged:
                    segs.append((tid, s, e, 0, line))

        gene_ids = sorted(self.genes, key=lambda g: (self.genes[g]["chrom"], self.genes[g]["start"], g))
        gene_row = {g: i for i, g in enumerate(gene_ids)}
        genes = Table(
            {
                "gene_id": np.array(gene_ids, dtype=str) if gene_ids else np.array([], dtype="<U1"),
                "name": _strs([self.genes[g]["name"] or g for g in gene_ids]),
                "chrom": _strs([self.genes[g]["chrom"] for g in gene_ids]),
                "start": np.array([self.genes[g]["start"] for g in gene_ids], dtype=np.int64),
                "end": np.array([self.genes[g]["end"] for g in gene_ids], dtype=np.int64),
                "strand": np.array([self.genes[g]["strand"] for g in gene_ids], dtype=np.int8),
                "biotype": _strs([self.genes[g]["biotype"] or "" for g in gene_ids]),
            }
        )

        tx_ids = sorted(
            self.transcripts,
            key=lambda t: (
                self.transcripts[t]["chrom"],
                self.transcripts[t]["start"],
                self.transcripts[t]["end"],
                t,
            ),
        )
        ex_tx, ex_s, ex_e, ex_n = [], [], [], []
        cd_tx, cd_s, cd_e, cd_p = [], [], [], []
        cols = {c: [] for c in TRANSCRIPT_COLUMNS}
        n_skipped_noexon = 0
        for tid in tx_ids:
            t = self.transcripts[tid]
            exons = sorted(ex_by_tx.get(tid, []), key=lambda r: r[1])
            if not exons:
                # GFF3 features like a transcript with only CDS rows: use CDS as exons
                cds_only = sorted(cds_by_tx.get(tid, []), key=lambda r: r[1])
                if cds_only:
                    exons = [(tid, r[1], r[2], 0, r[4]) for r in cds_only]
                else:
                    exons = [(tid, t["start"], t["end"], 1, t["line"])]
                    n_skipped_noexon += 1
            # merge adjacent/overlapping exon rows would hide a defect; overlapping exons are an error
            for a, b in zip(exons[:-1], exons[1:], strict=True):
                if b[1] < a[2]:
                    self.error(
                        b[4],
                        f"expected non-overlapping exons in transcript {tid!r}; found exon "
                        f"{b[1] + 1}-{b[2]} overlapping {a[1] + 1}-{a[2]}",
                    )
            cds = sorted(cds_by_tx.get(tid, []), key=lambda r: r[1])
            for row in cds:
                if not any(s <= row[1] and row[2] <= e for _, s, e, _, _ in exons):
                    self.error(
                        row[4],
                        f"expected CDS {row[1] + 1}-{row[2]} of transcript {tid!r} inside one of "
                        f"its exons; found it outside",
                    )
            strand = t["strand"]
            if any(r[3] < 0 for r in cds):
                cds = _infer_phases(cds, strand)
                self.n_inferred_phase += 1
            ti = len(cols["transcript_id"])
            n = len(exons)
            cols["exon_offset"].append(len(ex_tx))
            for k, row in enumerate(exons):
                ex_tx.append(ti)
                ex_s.append(row[1])
                ex_e.append(row[2])
                ex_n.append(k + 1 if strand >= 0 else n - k)
            cols["cds_offset"].append(len(cd_tx))
            for row in cds:
                cd_tx.append(ti)
                cd_s.append(row[1])
                cd_e.append(row[2])
                cd_p.append(row[3])
            start = min(t["start"], exons[0][1])
            end = max(t["end"], max(r[2] for r in exons))
            cols["transcript_id"].append(tid)
            cols["gene_index"].append(gene_row[t["gene"]])
            cols["chrom"].append(t["chrom"])
            cols["start"].append(start)
            cols["end"].append(end)
            cols["strand"].append(strand)
            cols["biotype"].append(t["biotype"] or "")
            cols["cds_start"].append(cds[0][1] if cds else -1)
            cols["cds_end"].append(max(r[2] for r in cds) if cds else -1)
            tags = t.get("tags", set())
            cols["mane"].append("MANE_Select" in tags)
            cols["canonical"].append("Ensembl_canonical" in tags or "canonical" in tags)
            cols["n_exons"].append(n)
            cols["name"].append(t.get("name") or "")
            if cds:
                first = cds[0] if strand >= 0 else cds[-1]
                cols["cds_frame"].append(first[3])
            else:
                cols["cds_frame"].append(0)
            cols["n_cds"].append(len(cds))
        if self.n_inferred_phase:
            log.warning(
                "%s: %d transcripts with CDS phase '.'; phases inferred from segment lengths (complete 5' end "
                "assumed)",
                path,
                self.n_inferred_phase,
            )
        if n_skipped_noexon:
            log.warning(
                "%s: %d transcripts without exon rows; their span is used as one exon", path, n_skipped_noexon
            )
        int_cols = {
            "gene_index",
            "start",
            "end",
            "cds_start",
            "cds_end",
            "n_exons",
            "exon_offset",
            "cds_offset",
            "n_cds",
        }
        tx_arrays = {}
        for c in TRANSCRIPT_COLUMNS:
            if c in int_cols:
                tx_arrays[c] = np.array(cols[c], dtype=np.int64)
            elif c in ("strand", "cds_frame"):
                tx_arrays[c] = np.array(cols[c], dtype=np.int8)
            elif c in ("mane", "canonical"):
                tx_arrays[c] = np.array(cols[c], dtype=bool)
            else:
                tx_arrays[c] = _strs(cols[c])
        transcripts = Table(tx_arrays)
        exons = Table(
            {
                "transcript_index": np.array(ex_tx, dtype=np.int64),
                "start": np.array(ex_s, dtype=np.int64),
                "end": np.array(ex_e, dtype=np.int64),
                "exon_number": np.array(ex_n, dtype=np.int64),
            }
        )
        cds = Table(
            {
                "transcript_index": np.array(cd_tx, dtype=np.int64),
                "start": np.array(cd_s, dtype=np.int64),
                "end": np.array(cd_e, dtype=np.int64),
                "phase": np.array(cd_p, dtype=np.int8),
            }
        )
        return TranscriptIndex(genes, transcripts, exons, cds, source=Path(path).name)


def _infer_phases(cds: list, strand: int) -> list:
    """Fill phase '.' (-1) from segment lengths in transcript direction; the 5'-most keeps its phase or 0."""
    order = list(range(len(cds))) if strand >= 0 else list(range(len(cds)))[::-1]
    out = list(cds)
    first = cds[order[0]][3]
    phase = first if first >= 0 else 0
    for k in order:
        tid, s, e, ph, ln = out[k]
        out[k] = (tid, s, e, ph if ph >= 0 else phase, ln)
        phase = (3 - ((e - s) - out[k][3]) % 3) % 3
    return out


def _strs(values) -> np.ndarray:
    if not values:
        return np.array([], dtype="<U1")
    return np.array(values, dtype=str)


def _split_line(line: str, builder: _Builder, lineno: int, allow_negative: bool = False):
    fields = line.rstrip("\n\r").split("\t")
    if len(fields) != 9:
        builder.error(lineno, f"expected 9 tab-separated columns; found {len(fields)}")
    chrom, _, ftype, start, end, _, strand, phase, attrs = fields
    try:
        start0 = int(start) - 1
        end0 = int(end)
    except ValueError:
        builder.error(lineno, f"expected integer start/end; found {start!r}/{end!r}")
    if (start0 < 0 and not allow_negative) or end0 <= start0:
        builder.error(lineno, f"expected 1 <= start <= end; found start={start} end={end}")
    if strand not in ("+", "-", ".", "?"):
        builder.error(lineno, f"expected strand +, - or .; found {strand!r}")
    return chrom, ftype, start0, end0, (1 if strand == "+" else -1 if strand == "-" else 0), phase, attrs


def _phase(builder: _Builder, value: str, lineno: int) -> int:
    """CDS phase 0/1/2; ``.`` (missing, seen in hand-made GFFs) → -1, inferred later from lengths."""
    if value == ".":
        return -1
    if value not in ("0", "1", "2"):
        builder.error(lineno, f"expected CDS phase 0, 1, 2 (or '.'); found {value!r}")
    return int(value)


def _parse_gff3(handle, builder: _Builder) -> None:
    for lineno, line in enumerate(handle, 1):
        if not line.strip() or line.startswith("#"):
            if line.startswith("##FASTA"):
                break
            continue
        if line.split("\t", 3)[2:3] and line.split("\t", 3)[2] in _SKIP_TYPES:
            continue
        chrom, ftype, start0, end0, strand, phase, attr_text = _split_line(line, builder, lineno, True)
        attrs = {}
        for item in attr_text.strip().strip(";").split(";"):
            if not item.strip():
                continue
            key, _, value = item.strip().partition("=")
            attrs[key] = value
        fid = _strip_prefix(unquote(attrs.get("ID", "")))
        parents = [_strip_prefix(unquote(p)) for p in attrs.get("Parent", "").split(",") if p]
        if start0 < 0:
            if parents:
                builder.error(lineno, f"expected 1 <= start <= end; found start={start0 + 1} end={end0}")
            # a gene row clipped at the contig start (seen in sliced test annotations): clamp to 1
            start0 = 0
        if ftype in ("exon", "CDS", "stop_codon_redefined_as_selenocysteine"):
            if not parents:
                builder.error(lineno, f"expected a Parent= attribute on the {ftype} row; found none")
            for p in parents:
                if ftype == "exon":
                    builder.exons.append((p, start0, end0, 0, lineno))
                elif ftype == "CDS":
                    builder.cds.append((p, start0, end0, _phase(builder, phase, lineno), lineno))
            continue
        biotype = unquote(attrs.get("biotype", attrs.get("transcript_type", attrs.get("gene_type", ""))))
        biotype = biotype or unquote(attrs.get("gene_biotype", ""))
        if not parents:
            if fid:  # every top-level feature with an ID (gene, ncRNA_gene, RNA, pseudogene, ...) is a gene
                if fid in builder.genes:
                    builder.error(
                        lineno,
                        f"expected unique gene IDs; found {fid!r} defined again "
                        f"(first on line {builder.genes[fid]['line']})",
                    )
                name = unquote(attrs.get("Name", attrs.get("gene_name", ""))) or fid
                builder.genes[fid] = {
                    "name": name,
                    "chrom": chrom,
                    "start": start0,
                    "end": end0,
                    "strand": strand,
                    "biotype": biotype or ftype,
                    "line": lineno,
                }
            continue
        # a feature with an ID and a Parent that is not exon/CDS: a transcript
        if not fid:
            continue
        if fid in builder.transcripts:
            builder.error(
                lineno,
                f"expected unique transcript IDs; found {fid!r} defined again "
                f"(first on line {builder.transcripts[fid]['line']})",
            )
        tags = set(unquote(attrs.get("tag", "")).split(",")) - {""}
        if attrs.get("Ensembl_canonical") in ("1", "true"):
            tags.add("Ensembl_canonical")
        builder.transcripts[fid] = {
            "gene": parents[0],
            "chrom": chrom,
            "start": start0,
            "end": end0,
            "strand": strand,
            "biotype": biotype or ftype,
            "tags": tags,
            "name": unquote(attrs.get("Name", "")),
            "line": lineno,
        }


def _gtf_attrs(text: str, builder: _Builder, lineno: int) -> tuple[dict[str, str], set[str]]:
    attrs: dict[str, str] = {}
    tags: set[str] = set()
    for item in text.strip().split(";"):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if key == "tag":
            tags.add(value)
        else:
            attrs[key] = value
    return attrs, tags


def _parse_gtf(handle, builder: _Builder) -> None:
    for lineno, line in enumerate(handle, 1):
        if not line.strip() or line.startswith("#"):
            continue
        chrom, ftype, start0, end0, strand, phase, attr_text = _split_line(line, builder, lineno)
        if ftype in ("five_prime_utr", "three_prime_utr", "UTR", "start_codon", "Selenocysteine"):
            continue
        attrs, tags = _gtf_attrs(attr_text, builder, lineno)
        gid = attrs.get("gene_id")
        if not gid:
            builder.error(lineno, "expected a gene_id attribute; found none")
        gname = attrs.get("gene_name", gid)
        gbiotype = attrs.get("gene_biotype", attrs.get("gene_type", ""))
        if ftype == "gene":
            if gid in builder.genes and not builder.genes[gid].get("implicit"):
                builder.error(
                    lineno,
                    f"expected unique gene IDs; found {gid!r} defined again "
                    f"(first on line {builder.genes[gid]['line']})",
                )
            builder.genes[gid] = {
                "name": gname,
                "chrom": chrom,
                "start": start0,
                "end": end0,
                "strand": strand,
                "biotype": gbiotype,
                "line": lineno,
            }
            continue
        tid = attrs.get("transcript_id")
        if not tid:
            continue
        t = builder.transcripts.get(tid)
        if ftype == "transcript":
            if t is not None and not t.get("implicit"):
                builder.error(
                    lineno,
                    f"expected unique transcript IDs; found {tid!r} defined again "
                    f"(first on line {t['line']})",
                )
            if t is not None and (t["gene"] != gid or t["chrom"] != chrom):
                builder.error(
                    lineno, f"expected transcript {tid!r} on gene {t['gene']!r}; found gene {gid!r}"
                )
            builder.transcripts[tid] = {
                "gene": gid,
                "chrom": chrom,
                "start": start0,
                "end": end0,
                "strand": strand,
                "biotype": attrs.get("transcript_biotype", attrs.get("transcript_type", gbiotype)),
                "tags": tags,
                "name": attrs.get("transcript_name", ""),
                "line": lineno,
                "implicit_gene_ok": True,
                "gene_name": gname,
                "gene_biotype": gbiotype,
            }
            continue
        if ftype not in ("exon", "CDS", "stop_codon"):
            continue
        if t is None:  # GTF without transcript rows: derive the transcript from its children
            t = builder.transcripts[tid] = {
                "gene": gid,
                "chrom": chrom,
                "start": start0,
                "end": end0,
                "strand": strand,
                "biotype": attrs.get("transcript_biotype", attrs.get("transcript_type", gbiotype)),
                "tags": set(tags),
                "name": attrs.get("transcript_name", ""),
                "line": lineno,
                "implicit": True,
                "implicit_gene_ok": True,
                "gene_name": gname,
                "gene_biotype": gbiotype,
            }
        elif t["gene"] != gid:
            builder.error(lineno, f"expected transcript {tid!r} on gene {t['gene']!r}; found gene {gid!r}")
        if t.get("implicit"):
            t["start"] = min(t["start"], start0)
            t["end"] = max(t["end"], end0)
            t["tags"] |= tags
        if ftype == "exon":
            builder.exons.append((tid, start0, end0, 0, lineno))
        elif ftype == "CDS":
            builder.cds.append((tid, start0, end0, _phase(builder, phase, lineno), lineno))
        else:
            builder.stop_codons.append((tid, start0, end0, lineno))
