"""SYNTHETIC paired-end reads for the demo: coordinate-sorted, indexed BAMs of a small hotspot panel.

Used by :func:`ccevariants.demo.write_demo`; everything here is simulated from the demo's random
genome and is labelled SYNTHETIC (``@CO`` header lines, read-group description).

Model (see ``docs/demo.md``, section "BAMs"):

* **Panel** (:func:`panel_targets`): the MANE CDS exons of the demo cancer genes that hold a
  clinically relevant residue (``GeneSpec.residues``), padded by :data:`MARGIN` bp, plus the
  introns of the 3' kinase partners in which the demo fusions break (ALK intron 19, NTRK1 intron 9),
  merged. 0-based half-open intervals.
* **Fragments**: lengths ~ N(:data:`FRAGMENT_MEAN`, :data:`FRAGMENT_SD`) clipped to
  [:data:`FRAGMENT_MIN`, :data:`FRAGMENT_MAX`]; fragment starts uniform over ``[s - FRAGMENT_MEAN, e)``
  of each target ``[s, e)``, which gives a flat expected depth of ``depth × scale`` inside it.
  Reads are 2 × :data:`READ_LENGTH` bp (FR orientation, flags 99/147 or 83/163), MAPQ 60, binned
  Illumina-style base qualities (37/25/11/2); read bases equal the simulated molecule (no sequencing
  errors, so allele fractions are exactly those sampled).
* **Alleles** (:class:`Site`): each fragment that covers a site draws one of its alleles with the
  site's probabilities; indels are left-aligned (VCF-normalised form) and written as ``I``/``D``
  CIGAR operations, SNVs as mismatches inside ``M`` (``NM`` tag counts both).
* **Depth changes**: ``scale`` per target (copy-number gain); ``dropout`` intervals get no fragment
  at all (zero reads over them — a failed amplicon / bait).
* **Fusion reads**: discordant pairs and split reads (primary alignment soft-clipped, supplementary
  hard-clipped, ``SA`` tags both ways) across a balanced junction described like a VCF breakend pair.

Determinism: the simulation draws from ``numpy.random.default_rng`` seeded by the caller; records
are sorted by ``samtools sort`` (``--no-PG``, fixed compression level), so the same seed gives
byte-identical BAM and index files.

Coordinates: 0-based half-open everywhere in this module except where a name says ``pos1`` (1-based,
as in VCF/SAM text).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

READ_LENGTH = 100
FRAGMENT_MEAN = 260
FRAGMENT_SD = 30
FRAGMENT_MIN = 200
FRAGMENT_MAX = 340
MARGIN = 30
DEPTH = 200
NORMAL_DEPTH = 100  # matched normals are usually sequenced shallower than tumours
MAPQ = 60
COMPRESSION_LEVEL = 1

#: Introns (transcript-direction numbering on the MANE transcript) tiled by the panel because the
#: demo fusions break in them (kinase 3' partners; real panels tile these introns, e.g. ALK 19).
FUSION_INTRONS = (("ALK", 19), ("NTRK1", 9))

_COMP = str.maketrans("ACGTN", "TGCAN")


def revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


@dataclass(frozen=True)
class Site:
    """Alternative alleles at one reference locus.

    ``pos0``: 0-based position of the first REF base; ``alleles``: ``(ref, alt)`` pairs starting at
    ``pos0`` in VCF-normalised form (an indel keeps its anchor base; REF may differ per allele, e.g.
    -1 and -2 repeat units). ``fractions[i]``: probability that a fragment carries allele ``i``.
    """

    chrom: str
    pos0: int
    alleles: tuple[tuple[str, str], ...]
    fractions: tuple[float, ...]
    label: str = ""

    @property
    def end0(self) -> int:
        return self.pos0 + max(len(r) for r, _ in self.alleles)


@dataclass(frozen=True)
class Junction:
    """A fusion junction: the molecule reads ``chrom5[.. pos5]`` (kept left of ``pos5``, 1-based,
    when ``left5``, else ``[pos5 ..]`` reverse-complemented) then the 3' piece likewise."""

    chrom5: str
    pos5: int
    left5: bool
    chrom3: str
    pos3: int
    left3: bool
    split_fragments: int
    spanning_pairs: int


@dataclass
class Sample:
    """What to simulate for one BAM."""

    name: str  # SM of the read group
    read_group: str
    targets: dict[str, list[tuple[int, int]]]  # 0-based half-open, merged, per contig
    depth: float = DEPTH
    scale: list[tuple[str, int, int, float]] = field(default_factory=list)  # chrom, start0, end0, factor
    dropout: list[tuple[str, int, int]] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    junctions: list[Junction] = field(default_factory=list)


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted union of 0-based half-open intervals (touching ones joined)."""
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def panel_targets(ref, margin: int = MARGIN, extra=()) -> dict[str, list[tuple[int, int]]]:
    """Hotspot-panel targets of the demo reference (``demo.Reference``), 0-based half-open, merged;
    ``extra``: further ``(chrom, start0, end0)`` targets (padded by ``margin`` too)."""
    per: dict[str, list[tuple[int, int]]] = {}
    for chrom, s, e in extra:
        per.setdefault(chrom, []).append((s - margin, e + margin))
    for gene in ref.genes:
        spec = gene.spec
        if spec is None or not spec.uniprot:
            continue
        tx = gene.mane
        for first, stretch in spec.residues:
            for residue in range(first, first + len(stretch)):
                for c in (3 * residue - 2, 3 * residue):
                    g = tx.c_to_g(c, gene.strand)
                    for cs, ce in tx.cds:  # the coding part of the exon holding the residue
                        if cs <= g < ce:
                            per.setdefault(gene.chrom, []).append((cs - margin, ce + margin))
    for name, intron in FUSION_INTRONS:
        gene = ref.gene(name)
        tx = gene.mane
        (s1, e1), (s2, e2) = tx.exons[intron - 1], tx.exons[intron]
        lo, hi = (e1, s2) if e1 <= s2 else (e2, s1)
        per.setdefault(gene.chrom, []).append((lo - margin, hi + margin))
    return {c: merge(v) for c, v in per.items()}


_HOMOPOLYMER = re.compile(r"([ACGT])\1{4,}")
_DINUCLEOTIDE = re.compile(r"((?:AC|AG|AT|CA|CG|CT|GA|GC|GT|TA|TC|TG))\1{2,}")


def microsatellites(seq: str, start0: int, end0: int) -> list[tuple[int, int, str]]:
    """Homopolymers of >= 5 and dinucleotide tracts of >= 3 copies inside ``[start0, end0)`` of
    ``seq`` (MSIsensor's minimum lengths): ``[(start0, end0, unit)]``, non-overlapping, sorted."""
    window = seq[start0:end0]
    found = []
    for m in _HOMOPOLYMER.finditer(window):
        found.append((start0 + m.start(), start0 + m.end(), m.group(1)))
    for m in _DINUCLEOTIDE.finditer(window):
        found.append((start0 + m.start(), start0 + m.end(), m.group(1)))
    found.sort()
    out: list[tuple[int, int, str]] = []
    for s, e, u in found:
        if out and s < out[-1][1] + 2:  # overlapping or abutting tracts: keep the first
            continue
        out.append((s, e, u))
    return out


def _quality_pool(rng: np.random.Generator, n: int = 48) -> list[str]:
    """Binned NovaSeq-style quality strings (Phred 37/25/11/2 → 'F', ':', ',', '#'), worse to 3'."""
    pool = []
    x = np.arange(READ_LENGTH) / READ_LENGTH
    for _ in range(n):
        u = rng.random(READ_LENGTH)
        q = np.where(u < 0.02 + 0.10 * x, ":", "F").astype(object)
        q[u < 0.004 + 0.02 * x] = ","
        if rng.random() < 0.1:
            q[-int(rng.integers(1, 6)) :] = "#"
        pool.append("".join(q))
    return pool


# ---------------------------------------------------------------------------------------------
# alignment of a simulated molecule
# ---------------------------------------------------------------------------------------------
def _molecule(seq: str, start0: int, length: int, edits: list[tuple[int, str, str]]):
    """Apply ``edits`` (pos0, ref, alt; sorted, non-overlapping, all inside the window) to the
    reference from ``start0`` and return (molecule of ``length`` bases, ops) where ops is a list of
    ``(op, n)`` with op in M (match), X (mismatch), I, D describing the molecule against the reference."""
    parts: list[str] = []
    ops: list[tuple[str, int]] = []
    r = start0
    produced = 0
    for pos0, ref_a, alt_a in edits:
        if pos0 > r:
            parts.append(seq[r:pos0])
            ops.append(("M", pos0 - r))
            produced += pos0 - r
        if len(ref_a) == len(alt_a):
            for a, b in zip(ref_a, alt_a, strict=True):
                ops.append(("M" if a == b else "X", 1))
            parts.append(alt_a)
            produced += len(alt_a)
        else:  # anchored indel: first base shared
            ops.append(("M", 1))
            if len(alt_a) > len(ref_a):
                ops.append(("I", len(alt_a) - 1))
            else:
                ops.append(("D", len(ref_a) - 1))
            parts.append(alt_a)
            produced += len(alt_a)
        r = pos0 + len(ref_a)
    need = length - produced
    if need > 0:
        parts.append(seq[r : r + need])
        ops.append(("M", need))
    mol = "".join(parts)[:length]
    return mol, ops


def _slice(ops: list[tuple[str, int]], start0: int, a: int, b: int):
    """Alignment of molecule bases ``[a, b)``: (reference start 0-based, CIGAR string, NM)."""
    out: list[list] = []  # [op, n]
    q = 0
    ref = start0
    ref_start = None
    nm = 0
    for op, n in ops:
        if op == "D":
            if a < q < b:
                out.append(["D", n])
                nm += n
            ref += n
            continue
        lo, hi = max(q, a), min(q + n, b)
        if hi > lo:
            if op in ("M", "X"):
                if ref_start is None:
                    ref_start = ref + (lo - q)
                out.append(["M", hi - lo])
                if op == "X":
                    nm += hi - lo
            else:  # I
                out.append(["I" if ref_start is not None else "S", hi - lo])
                if ref_start is not None:
                    nm += hi - lo
        q += n
        if op in ("M", "X"):
            ref += n
        if q >= b:
            break
    while out and out[-1][0] in ("D", "I"):  # a read ending inside an indel: clip
        op, n = out.pop()
        nm -= n
        if op == "I":
            out.append(["S", n])
            break
    merged: list[list] = []
    for op, n in out:
        if merged and merged[-1][0] == op:
            merged[-1][1] += n
        else:
            merged.append([op, n])
    cigar = "".join(f"{n}{op}" for op, n in merged)
    return ref_start, cigar, nm


# ---------------------------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------------------------
def _sam_pair(name, rg, tid_name, frag_start, ops, mol, qa, qb, rev_first: bool):
    """Two SAM lines for a proper FR pair from molecule ``mol`` (aligned by ``ops`` at ``frag_start``)."""
    n = len(mol)
    r1s, c1, nm1 = _slice(ops, frag_start, 0, READ_LENGTH)
    r2s, c2, nm2 = _slice(ops, frag_start, n - READ_LENGTH, n)
    s1, s2 = mol[:READ_LENGTH], mol[n - READ_LENGTH :]
    # template end on the reference
    ref_len = sum(k for op, k in ops if op in ("M", "X", "D"))
    end = frag_start + min(ref_len, _ref_span(ops, n))
    tlen = end - r1s
    # read 1 forward / read 2 reverse, or (rev_first) read 1 reverse / read 2 forward
    fa, fb = (99, 147) if not rev_first else (163, 83)
    la = (
        f"{name}\t{fa}\t{tid_name}\t{r1s + 1}\t{MAPQ}\t{c1}\t=\t{r2s + 1}\t{tlen}\t{s1}\t{qa}\t"
        f"RG:Z:{rg}\tNM:i:{nm1}"
    )
    lb = (
        f"{name}\t{fb}\t{tid_name}\t{r2s + 1}\t{MAPQ}\t{c2}\t=\t{r1s + 1}\t{-tlen}\t{s2}\t{qb[::-1]}\t"
        f"RG:Z:{rg}\tNM:i:{nm2}"
    )
    return la, lb


def _ref_span(ops, n_query: int) -> int:
    """Reference bases spanned by the first ``n_query`` molecule bases."""
    q = 0
    span = 0
    for op, k in ops:
        if op == "D":
            span += k
            continue
        take = min(k, n_query - q)
        if op in ("M", "X"):
            span += take
        q += take
        if q >= n_query:
            break
    return span


def simulate(sample: Sample, seqs: dict[str, str], contigs: tuple[str, ...], rng) -> list[str]:
    """SAM text lines (unsorted) for ``sample``."""
    quals = _quality_pool(rng)
    lines: list[str] = []
    sites_by_chrom: dict[str, list[Site]] = {}
    for site in sorted(sample.sites, key=lambda s: (s.chrom, s.pos0)):
        sites_by_chrom.setdefault(site.chrom, []).append(site)
    k = 0
    for chrom in contigs:
        seq = seqs[chrom]
        sites = sites_by_chrom.get(chrom, [])
        site_starts = np.array([s.pos0 for s in sites], dtype=np.int64)
        drops = [(s, e) for c, s, e in sample.dropout if c == chrom]
        for s, e in sample.targets.get(chrom, []):
            factor = 1.0
            for c, a, b, f in sample.scale:
                if c == chrom and a < e and s < b:
                    factor = f
            n_frag = int(round(sample.depth * factor * (e - s + FRAGMENT_MEAN) / (2 * READ_LENGTH)))
            starts = np.sort(rng.integers(max(0, s - FRAGMENT_MEAN), e, size=n_frag))
            lengths = np.clip(
                np.round(rng.normal(FRAGMENT_MEAN, FRAGMENT_SD, size=n_frag)), FRAGMENT_MIN, FRAGMENT_MAX
            ).astype(np.int64)
            qi = rng.integers(0, len(quals), size=(n_frag, 2))
            flip = rng.random(n_frag) < 0.5
            keep = starts + lengths + 60 <= len(seq)
            for a, b in drops:
                keep &= ~((starts < b) & (a < starts + lengths))
            lo_all = np.searchsorted(site_starts, starts)
            hi_all = np.searchsorted(site_starts, starts + lengths)
            rg = sample.read_group
            for fs, length, q1, q2, rev, lo, hi, ok in zip(
                starts.tolist(), lengths.tolist(), qi[:, 0].tolist(), qi[:, 1].tolist(), flip.tolist(),
                lo_all.tolist(), hi_all.tolist(), keep.tolist(), strict=True,
            ):  # fmt: skip
                if not ok:
                    continue
                k += 1
                name = f"{sample.name}:{k:07d}"
                here = [site for site in sites[lo:hi] if site.end0 <= fs + length] if hi > lo else None
                if not here:
                    r2s = fs + length - READ_LENGTH
                    fa, fb = (163, 83) if rev else (99, 147)
                    lines.append(
                        f"{name}\t{fa}\t{chrom}\t{fs + 1}\t{MAPQ}\t{READ_LENGTH}M\t=\t{r2s + 1}\t{length}\t"
                        f"{seq[fs : fs + READ_LENGTH]}\t{quals[q1]}\tRG:Z:{rg}\tNM:i:0"
                    )
                    lines.append(
                        f"{name}\t{fb}\t{chrom}\t{r2s + 1}\t{MAPQ}\t{READ_LENGTH}M\t=\t{fs + 1}\t{-length}\t"
                        f"{seq[r2s : r2s + READ_LENGTH]}\t{quals[q2][::-1]}\tRG:Z:{rg}\tNM:i:0"
                    )
                    continue
                edits = []
                for site, v in zip(here, rng.random(len(here)).tolist(), strict=True):
                    acc = 0.0
                    for (r_allele, alt), p in zip(site.alleles, site.fractions, strict=True):
                        acc += p
                        if v < acc:
                            edits.append((site.pos0, r_allele, alt))
                            break
                mol, ops = _molecule(seq, fs, length, edits)
                la, lb = _sam_pair(name, rg, chrom, fs, ops, mol, quals[q1], quals[q2], rev)
                lines += (la, lb)
    for junction in sample.junctions:
        lines += _fusion_reads(sample, junction, seqs, quals, rng)
    return lines


def _fusion_reads(sample: Sample, j: Junction, seqs, quals, rng) -> list[str]:
    """Discordant pairs and split-read pairs across ``j`` (SA tags on split reads)."""
    s5, s3 = seqs[j.chrom5], seqs[j.chrom3]
    # piece A (5' partner, read in the molecule's direction) and piece B (3' partner)
    span = FRAGMENT_MAX + 10
    if j.left5:
        a_seq, a_ref0, a_fwd = s5[j.pos5 - span : j.pos5], j.pos5 - span, True
    else:
        a_seq, a_ref0, a_fwd = revcomp(s5[j.pos5 - 1 : j.pos5 - 1 + span]), j.pos5 - 1, False
    if j.left3:
        b_seq, b_ref0, b_fwd = revcomp(s3[j.pos3 - span : j.pos3]), j.pos3 - span, False
    else:
        b_seq, b_ref0, b_fwd = s3[j.pos3 - 1 : j.pos3 - 1 + span], j.pos3 - 1, True
    mol_all = a_seq + b_seq
    junction_at = len(a_seq)

    def place(off: int, n: int):
        """Reference placement of molecule bases [off, off+n) lying in one piece: (chrom, start0, forward)."""
        if off + n <= junction_at:
            if a_fwd:
                return j.chrom5, a_ref0 + off, True
            return j.chrom5, a_ref0 + (junction_at - off - n), False
        o = off - junction_at
        if b_fwd:
            return j.chrom3, b_ref0 + o, True
        return j.chrom3, b_ref0 + (span - o - n), False

    lines = []
    rg = sample.read_group
    total = j.split_fragments + j.spanning_pairs
    for i in range(total):
        length = int(np.clip(round(rng.normal(FRAGMENT_MEAN, FRAGMENT_SD)), FRAGMENT_MIN, FRAGMENT_MAX))
        if i < j.split_fragments:  # read 1 crosses the junction
            x = int(rng.integers(25, READ_LENGTH - 24))  # read-1 bases before the junction
        else:  # both reads on their own side
            length = max(length, 2 * READ_LENGTH + 20)
            x = int(rng.integers(READ_LENGTH + 5, length - READ_LENGTH - 4))
        off = junction_at - x
        mol = mol_all[off : off + length]
        qa, qb = quals[int(rng.integers(0, len(quals)))], quals[int(rng.integers(0, len(quals)))]
        name = f"{sample.name}:fus{i:05d}"
        r2 = mol[length - READ_LENGTH :]
        c2, p2, f2 = place(off + length - READ_LENGTH, READ_LENGTH)
        # read 2 is sequenced from the other end: its alignment is on the opposite molecule strand
        rev2 = f2  # molecule forward on the reference → read 2 reverse
        seq2_stored = r2 if rev2 else revcomp(r2)  # SAM stores the reference-strand sequence
        if i < j.split_fragments:
            r1 = mol[:READ_LENGTH]
            first_a, second_b = x, READ_LENGTH - x
            ca, pa, fa_ = place(off, first_a)
            cb, pb, fb_ = place(junction_at, second_b)
            # primary: the longer piece; supplementary: the other one
            pieces = [("A", ca, pa, fa_, 0, first_a), ("B", cb, pb, fb_, first_a, second_b)]
            prim, supp = (pieces[0], pieces[1]) if first_a >= second_b else (pieces[1], pieces[0])

            def cigar(piece, clip):
                _, _, _, fwd, qoff, n = piece
                before, after = qoff, READ_LENGTH - qoff - n
                if not fwd:
                    before, after = after, before
                c = ""
                if before:
                    c += f"{before}{clip}"
                c += f"{n}M"
                if after:
                    c += f"{after}{clip}"
                return c

            pc, sc = cigar(prim, "S"), cigar(supp, "H")
            p_fwd = prim[3]
            stored = r1 if p_fwd else revcomp(r1)
            q_stored = qa if p_fwd else qa[::-1]
            s_seq = r1[supp[4] : supp[4] + supp[5]]
            s_q = qa[supp[4] : supp[4] + supp[5]]
            if not supp[3]:
                s_seq, s_q = revcomp(s_seq), s_q[::-1]
            flag_p = 1 | 64 | (0 if p_fwd else 16) | (32 if rev2 else 0)
            flag_s = flag_p | 2048
            flag_s = (flag_s & ~16) | (0 if supp[3] else 16)
            sa_p = f"{supp[1]},{supp[2] + 1},{'+' if supp[3] else '-'},{sc},{MAPQ},0;"
            sa_s = f"{prim[1]},{prim[2] + 1},{'+' if p_fwd else '-'},{pc},{MAPQ},0;"
            mate = f"{c2}\t{p2 + 1}" if c2 != prim[1] else f"=\t{p2 + 1}"
            lines.append(
                f"{name}\t{flag_p}\t{prim[1]}\t{prim[2] + 1}\t{MAPQ}\t{pc}\t{mate}\t0\t{stored}\t{q_stored}\t"
                f"RG:Z:{rg}\tNM:i:0\tSA:Z:{sa_p}"
            )
            mate_s = f"{c2}\t{p2 + 1}" if c2 != supp[1] else f"=\t{p2 + 1}"
            lines.append(
                f"{name}\t{flag_s}\t{supp[1]}\t{supp[2] + 1}\t{MAPQ}\t{sc}\t{mate_s}\t0\t{s_seq}\t{s_q}\t"
                f"RG:Z:{rg}\tNM:i:0\tSA:Z:{sa_s}"
            )
            c1, p1, f1 = prim[1], prim[2], p_fwd
        else:
            r1 = mol[:READ_LENGTH]
            c1, p1, f1 = place(off, READ_LENGTH)
            stored = r1 if f1 else revcomp(r1)
            flag1 = 1 | 64 | (0 if f1 else 16) | (32 if rev2 else 0)
            mate = f"{c2}\t{p2 + 1}" if c2 != c1 else f"=\t{p2 + 1}"
            lines.append(
                f"{name}\t{flag1}\t{c1}\t{p1 + 1}\t{MAPQ}\t{READ_LENGTH}M\t{mate}\t0\t{stored}\t"
                f"{qa if f1 else qa[::-1]}\tRG:Z:{rg}\tNM:i:0"
            )
        flag2 = 1 | 128 | (16 if rev2 else 0) | (0 if f1 else 32)
        mate1 = f"{c1}\t{p1 + 1}" if c1 != c2 else f"=\t{p1 + 1}"
        lines.append(
            f"{name}\t{flag2}\t{c2}\t{p2 + 1}\t{MAPQ}\t{READ_LENGTH}M\t{mate1}\t0\t{seq2_stored}\t"
            f"{qb[::-1] if rev2 else qb}\tRG:Z:{rg}\tNM:i:0"
        )
    return lines


def write_bam(
    path: Path, sample: Sample, seqs: dict[str, str], contigs: tuple[str, ...], rng, comment: str
) -> int:
    """Simulate ``sample`` and write ``path`` (coordinate-sorted BAM) and ``path.bai``; returns the
    number of records."""
    import pysam

    lines = simulate(sample, seqs, contigs, rng)
    header = ["@HD\tVN:1.6\tSO:unsorted"]
    header += [f"@SQ\tSN:{c}\tLN:{len(seqs[c])}" for c in contigs]
    header.append(
        f"@RG\tID:{sample.read_group}\tSM:{sample.name}\tPL:ILLUMINA\tLB:{sample.name}-lib\t"
        f"DS:SYNTHETIC simulated reads"
    )
    header.append(f"@CO\t{comment}")
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".sim-") as tmp:
        sam = Path(tmp) / "reads.sam"
        with open(sam, "w", encoding="ascii", newline="\n") as fh:
            fh.write("\n".join(header) + "\n")
            fh.write("\n".join(lines) + "\n")
        pysam.samtools.sort(
            "--no-PG", "-l", str(COMPRESSION_LEVEL), "-T", str(Path(tmp) / "srt"), "-o", str(path), str(sam)
        )
    pysam.index(str(path))
    return len(lines)


# ---------------------------------------------------------------------------------------------
# the demo cohort's BAMs
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BamPlan:
    """Which BAMs a demo patient gets. ``dropout``: (gene, exon) pairs with no reads at all."""

    normal: bool
    msi_high: bool = False
    dropout: tuple[tuple[str, int], ...] = ()


#: Demo patients with BAMs. P02: MSS colorectal pair, KRAS G12D covered. P03: MSI-high colorectal
#: pair (BRAF V600E colorectal cancers are often MSI-high) with **no reads over KRAS exon 3**
#: (codons 38-97, Q61): RAS wild-type cannot be claimed. P05: tumour-only, ERBB2 amplified (raised
#: depth). P06: EML4-ALK split reads and discordant pairs.
BAM_PLANS: dict[str, BamPlan] = {
    "CCE-P02": BamPlan(normal=True),
    "CCE-P03": BamPlan(normal=True, msi_high=True, dropout=(("KRAS", 3),)),
    "CCE-P05": BamPlan(normal=False),
    "CCE-P06": BamPlan(normal=False),
}
#: Unstable microsatellites in the MSI-high tumour: share of tracts that are unstable, and the
#: probability that a fragment carries -1 unit, -2 units, +1 unit (together 0.45 ≈ purity 0.6 × 0.75).
MSI_UNSTABLE_SHARE = 0.6
MSI_SHIFTS = ((-1, 0.30), (-2, 0.08), (1, 0.07))


def _exon_interval(gene, exon: int) -> tuple[int, int]:
    s, e = gene.mane.exons[exon - 1]
    return s, e


def _copy_scale(purity: float, copy_number: float) -> float:
    """Relative depth of a region at ``copy_number`` in a tumour of ``purity`` (diploid normal cells)."""
    return (purity * copy_number + (1 - purity) * 2) / 2


def write_demo_bams(stage: Path, ref, cohort, records_by_patient, fusions_by_patient, cnas_by_patient, seed):
    """Write ``bam/{patient}.tumor.bam`` (+ ``.normal.bam``) and ``bam/panel.bed`` under ``stage``.

    Returns ``(files, bam_truth)``: relative paths written and, per patient, the truth document
    (expected depths per target exon, dropouts, microsatellites, fusion read counts).
    """
    from .demo import CONTIGS, normalize_allele

    # the panel also covers every planted variant of the BAM patients: the coding exon holding it,
    # else 150 bp around it (so that planted SNVs and indels appear in the reads at their VAFs)
    extra = []
    for plan in cohort:
        if plan.patient not in BAM_PLANS:
            continue
        for rec in records_by_patient[plan.patient]:
            pos0 = rec.pos - 1
            gene = next((g for g in ref.genes if g.chrom == rec.chrom and g.start <= pos0 < g.end), None)
            cds = [(cs, ce) for cs, ce in gene.mane.cds if cs <= pos0 < ce] if gene is not None else []
            extra.append((rec.chrom, *cds[0]) if cds else (rec.chrom, pos0 - 75, pos0 + 75))
    targets = panel_targets(ref, extra=extra)
    (stage / "bam").mkdir(exist_ok=True)
    files = ["bam/panel.bed"]
    with open(stage / "bam" / "panel.bed", "w", encoding="ascii", newline="\n") as fh:
        for chrom in CONTIGS:
            for s, e in targets.get(chrom, []):
                fh.write(f"{chrom}\t{s}\t{e}\n")
    panel_bp = sum(e - s for v in targets.values() for s, e in v)
    # target exons (for the truth): the coding part of every exon hit by the panel
    exon_rows = []
    for gene in ref.genes:
        if gene.spec is None or not gene.spec.uniprot:
            continue
        tx = gene.mane
        for number, (s, e) in enumerate(tx.exons, 1):
            coding = [(max(s, cs), min(e, ce)) for cs, ce in tx.cds if min(e, ce) > max(s, cs)]
            if not coding:
                continue
            cs, ce = coding[0]
            if any(a <= cs and ce <= b for a, b in targets.get(gene.chrom, [])):
                exon_rows.append((gene, number, cs, ce))
    comment = "SYNTHETIC simulated reads from the ccevariants demo (random genome; not patient data)"
    bam_truth: dict[str, dict] = {}
    for plan in cohort:
        bp = BAM_PLANS.get(plan.patient)
        if bp is None:
            continue
        rng = np.random.default_rng([seed, 3, int(plan.patient.rsplit("P", 1)[1])])
        t_sites, n_sites, variant_pos = [], [], []
        for rec in records_by_patient[plan.patient]:
            t_dp, n_dp = rec.t_dp(), rec.n_dp()
            by_pos: dict[tuple[int, str], list] = {}
            for al in rec.alleles:
                pos, r, a = normalize_allele(ref, rec.chrom, rec.pos, rec.ref, al.alt)
                by_pos.setdefault((pos, r), []).append(
                    (a, al.t_alt / t_dp, (al.n_alt / n_dp) if n_dp else 0.0)
                )
            for (pos, r), alleles in by_pos.items():
                variant_pos.append((rec.chrom, pos - 1, pos - 1 + len(r)))
                pairs = tuple((r, a) for a, _, _ in alleles)
                t_sites.append(Site(rec.chrom, pos - 1, pairs, tuple(f for _, f, _ in alleles)))
                if any(f for _, _, f in alleles):
                    n_sites.append(Site(rec.chrom, pos - 1, pairs, tuple(f for _, _, f in alleles)))
        dropout = []
        for gene_name, exon in bp.dropout:
            gene = ref.gene(gene_name)
            s, e = _exon_interval(gene, exon)
            dropout.append((gene.chrom, s - MARGIN, e + MARGIN))
        scale = []
        for cna in cnas_by_patient.get(plan.patient, []):
            if cna["alteration"] == "amplification":
                scale.append(
                    (cna["chrom"], cna["start"] - 1, cna["end"], _copy_scale(plan.purity, cna["copy_number"]))
                )
        # microsatellites of the panel (the MSI-high tumour gets shifted repeat lengths at a share of them)
        ms_rows, ms_sites = [], []
        for chrom in CONTIGS:
            seq = ref.seqs[chrom]
            for s, e in targets.get(chrom, []):
                for ms, me, unit in microsatellites(seq, s, e):
                    if any(c == chrom and a - 5 < me and ms < b + 5 for c, a, b in variant_pos):
                        continue
                    if any(c == chrom and a < me and ms < b for c, a, b in dropout):
                        continue
                    unstable = bool(bp.msi_high and rng.random() < MSI_UNSTABLE_SHARE)
                    ms_rows.append(
                        {"chrom": chrom, "start": ms + 1, "end": me, "unit": unit,
                         "copies": (me - ms) // len(unit), "unstable": unstable}
                    )  # fmt: skip
                    if unstable:
                        anchor = seq[ms - 1]
                        pairs = tuple(
                            (anchor + unit * -shift, anchor) if shift < 0 else (anchor, anchor + unit * shift)
                            for shift, _ in MSI_SHIFTS
                        )
                        fractions = tuple(p for _, p in MSI_SHIFTS)
                        ms_sites.append(Site(chrom, ms - 1, pairs, fractions, label="microsatellite"))
        junctions = []
        for fus in fusions_by_patient.get(plan.patient, []):
            g5, g3 = ref.gene(fus["gene5"]), ref.gene(fus["gene3"])
            junctions.append(
                Junction(fus["chrom5"], fus["pos5"], g5.strand == 1, fus["chrom3"], fus["pos3"], g3.strand == -1,
                         fus["tumor_SR_alt"], fus["tumor_PR_alt"])
            )  # fmt: skip
        tumour = Sample(
            name=f"{plan.patient}-T",
            read_group=f"{plan.patient}-T.L1",
            targets=targets,
            scale=scale,
            dropout=dropout,
            sites=t_sites + ms_sites,
            junctions=junctions,
        )
        rel_t = f"bam/{plan.patient}.tumor.bam"
        n_t = write_bam(stage / rel_t, tumour, ref.seqs, CONTIGS, rng, comment)
        files += [rel_t, rel_t + ".bai"]
        rel_n, n_n = None, None
        if bp.normal:
            normal = Sample(
                name=f"{plan.patient}-N",
                read_group=f"{plan.patient}-N.L1",
                targets=targets,
                depth=NORMAL_DEPTH,
                sites=n_sites,
            )
            rel_n = f"bam/{plan.patient}.normal.bam"
            n_n = write_bam(stage / rel_n, normal, ref.seqs, CONTIGS, rng, comment)
            files += [rel_n, rel_n + ".bai"]
        loci = []
        for gene, number, cs, ce in exon_rows:
            expected = float(DEPTH)
            if any(c == gene.chrom and a < ce and cs < b for c, a, b in dropout):
                expected = 0.0
            for c, a, b, f in scale:
                if c == gene.chrom and a < ce and cs < b:
                    expected = round(DEPTH * f, 2)
            loci.append(
                {"gene": gene.name, "exon": number, "chrom": gene.chrom, "start": cs + 1, "end": ce,
                 "expected_depth_tumor": expected, "covered": expected > 0}
            )  # fmt: skip
        n_unstable = sum(r["unstable"] for r in ms_rows)
        bam_truth[plan.patient] = {
            "tumor_bam": rel_t,
            "normal_bam": rel_n,
            "tumor_records": n_t,
            "normal_records": n_n,
            "panel_bed": "bam/panel.bed",
            "panel_bp": panel_bp,
            "depth": DEPTH,
            "normal_depth": NORMAL_DEPTH if rel_n else None,
            "read_length": READ_LENGTH,
            "fragment_mean": FRAGMENT_MEAN,
            "msi_status": "msi_high" if bp.msi_high else "mss",
            "microsatellites": {
                "definition": "homopolymer >= 5 bp or dinucleotide >= 3 copies inside the panel targets",
                "total": len(ms_rows),
                "unstable": n_unstable,
                "unstable_fraction": round(n_unstable / len(ms_rows), 4) if ms_rows else None,
                "shifts": [{"units": s, "fragment_fraction": p} for s, p in MSI_SHIFTS]
                if bp.msi_high
                else [],
                "sites": ms_rows,
            },
            "uncovered": [
                {
                    "gene": g,
                    "exon": x,
                    "chrom": ref.gene(g).chrom,
                    "start": _exon_interval(ref.gene(g), x)[0] + 1,
                    "end": _exon_interval(ref.gene(g), x)[1],
                }
                for g, x in bp.dropout
            ],  # fmt: skip
            "amplified": [
                {"chrom": c, "start": a + 1, "end": b, "depth_factor": round(f, 4)} for c, a, b, f in scale
            ],
            "fusion_reads": [
                {"split_fragments": j.split_fragments, "spanning_pairs": j.spanning_pairs} for j in junctions
            ],
            "loci": loci,
        }
    return files, bam_truth
