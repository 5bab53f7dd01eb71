"""Gene and coding-sequence look-ups for the biomarker stage, on top of the transcript index.

Uses only the documented :class:`ccevariants.transcripts.TranscriptIndex` API (contracts §8):
the columnar ``genes``, ``transcripts``, ``exons`` and ``cds`` tables and ``transcript_for_gene``.
Coordinates: **0-based half-open** (the index's convention) unless a name says ``pos1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..contigs import harmonise
from . import _regions


def _col(table, name: str) -> np.ndarray:
    values = table[name]
    return values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)


def _str_col(table, name: str) -> np.ndarray:
    return np.asarray([str(v) for v in _col(table, name)], dtype=object)


@dataclass
class CodingPosition:
    """Where a genomic position falls on a transcript's coding sequence."""

    transcript: int
    #: "exon" / "intron" / "outside" (beyond the transcript)
    kind: str
    #: coding bases of the transcript 5' of the position (exclusive); for a position inside a CDS
    #: segment, the bases before it in transcript direction
    coding_before: int
    #: total CDS length of the transcript
    cds_length: int


class GeneModel:
    """Columnar gene / CDS look-ups over a transcript index (anything exposing the §8 tables)."""

    def __init__(self, index):
        self.index = index
        genes = index.genes
        self.gene_name = _str_col(genes, "name")
        self.gene_id = _str_col(genes, "gene_id")
        self.gene_chrom = _str_col(genes, "chrom")
        self.gene_start = _col(genes, "start").astype(np.int64)
        self.gene_end = _col(genes, "end").astype(np.int64)
        self.gene_strand = _col(genes, "strand").astype(np.int64)
        self.gene_biotype = _str_col(genes, "biotype")
        self.contigs = set(self.gene_chrom.tolist())
        tx = index.transcripts
        self.tx_gene = _col(tx, "gene_index").astype(np.int64)
        self.tx_strand = _col(tx, "strand").astype(np.int64)
        self.tx_chrom = _str_col(tx, "chrom")
        cds = index.cds
        self.cds_tx = _col(cds, "transcript_index").astype(np.int64)
        self.cds_start = _col(cds, "start").astype(np.int64)
        self.cds_end = _col(cds, "end").astype(np.int64)
        exons = index.exons
        self.exon_tx = _col(exons, "transcript_index").astype(np.int64)
        self.exon_start = _col(exons, "start").astype(np.int64)
        self.exon_end = _col(exons, "end").astype(np.int64)
        self._by_chrom: dict[str, np.ndarray] = {}
        for chrom in np.unique(self.gene_chrom) if self.gene_chrom.size else []:
            self._by_chrom[str(chrom)] = np.flatnonzero(self.gene_chrom == chrom)

    # -- contigs -------------------------------------------------------------------------------
    def chrom(self, name: str) -> str | None:
        """The index's spelling of contig ``name`` (``1`` ↔ ``chr1``), or None."""
        return harmonise(str(name), self.contigs)

    # -- genes ---------------------------------------------------------------------------------
    def genes_overlapping(
        self, chrom: str, start0: int, end0: int, protein_coding: bool = False
    ) -> np.ndarray:
        """Indices of genes overlapping ``[start0, end0)`` (0-based half-open), by start."""
        key = self.chrom(chrom)
        if key is None:
            return np.zeros(0, dtype=np.int64)
        idx = self._by_chrom[key]
        hit = idx[(self.gene_start[idx] < end0) & (self.gene_end[idx] > start0)]
        if protein_coding:
            hit = hit[self.gene_biotype[hit] == "protein_coding"]
        return hit[np.argsort(self.gene_start[hit], kind="stable")]

    def cds_intervals(self) -> _regions.IntervalSet:
        """Union of all CDS segments of all transcripts (0-based half-open), per contig."""
        return _regions.from_arrays(self.tx_chrom[self.cds_tx], self.cds_start, self.cds_end)

    # -- transcripts ---------------------------------------------------------------------------
    def coding_position(self, transcript: int, pos0: int) -> CodingPosition:
        """Coding bases 5' of 0-based ``pos0`` on ``transcript`` (transcript direction)."""
        strand = int(self.tx_strand[transcript])
        sel = self.cds_tx == transcript
        s = self.cds_start[sel]
        e = self.cds_end[sel]
        cds_length = int((e - s).sum())
        if strand >= 0:
            before = np.clip(pos0 - s, 0, e - s).sum()
        else:
            before = np.clip(e - 1 - pos0, 0, e - s).sum()
        ex = self.exon_tx == transcript
        es = self.exon_start[ex]
        ee = self.exon_end[ex]
        if es.size and ((es <= pos0) & (pos0 < ee)).any():
            kind = "exon"
        elif es.size and es.min() <= pos0 < ee.max():
            kind = "intron"
        else:
            kind = "outside"
        return CodingPosition(int(transcript), kind, int(before), cds_length)
