"""The row-formatting kernel (``kernels/_format_impl.py``) against the Python formatter.

``Annotator.annotate_columns`` formats single-nucleotide rows inside transcripts with the kernel and
every other row with ``ccevariants.hgvs``; turning the kernel off (``_kernel_rows`` returning no rows)
sends every row through the Python formatter, which is the oracle here. Every column and the CSQ
entry must be equal, for the compiled kernel and its Python twin, on random loci (both strands,
UTRs, introns, start/stop codons, non-coding transcripts) and on the real bcftools-csq slices.
"""

from __future__ import annotations

import random

import numpy as np
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.annotate import Annotator
from ccevariants.hgvs import TranscriptCoords
from ccevariants.transcripts import load_annotation, reverse_complement

SENSE = [a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG" if a + b + c not in ("TAA", "TAG", "TGA")]
COLUMNS = (
    "consequence", "impact", "exon", "intron", "hgvsc", "hgvsp", "hgvsp_short", "amino_acids", "codons",
    "cdna_position", "cds_span", "protein_span", "cds_position", "protein_position", "transcript",
    "pick", "csq_mid",
)  # fmt: skip


def _locus(rng: random.Random, coding: bool) -> tuple[str, list[tuple[int, int]], tuple[int, int] | None]:
    """A plus-strand locus: (sequence, exons (0-based half-open, ascending), CDS genomic range)."""
    n_codons = rng.randint(3, 30)
    cds = "ATG" + "".join(rng.choice(SENSE) for _ in range(n_codons)) + rng.choice(["TAA", "TAG", "TGA"])
    utr5 = "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 15)))
    utr3 = "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 15)))
    mrna = utr5 + cds + utr3 if coding else "".join(rng.choice("ACGT") for _ in range(rng.randint(40, 150)))
    n_ex = rng.randint(1, 4)
    cuts = sorted(rng.sample(range(2, len(mrna) - 2), n_ex - 1))
    pieces = [mrna[a:b] for a, b in zip([0, *cuts], [*cuts, len(mrna)], strict=True)]
    seq, exons, cpos = "", [], []
    for i, piece in enumerate(pieces):
        exons.append((len(seq), len(seq) + len(piece)))
        cpos.extend(range(len(seq), len(seq) + len(piece)))
        seq += piece
        if i < len(pieces) - 1:
            seq += "GT" + "".join(rng.choice("ACGT") for _ in range(rng.randint(6, 40))) + "AG"
    rng_cds = None
    if coding:
        c0 = len(utr5)
        rng_cds = (cpos[c0], cpos[c0 + len(cds) - 1] + 1)
    return seq, exons, rng_cds


def _genome(tmp, seed: int):
    """Four transcripts (coding and non-coding, both strands) on one contig; FASTA + GFF3 written."""
    rng = random.Random(seed)
    genome = "".join(rng.choice("ACGT") for _ in range(60))
    rows = ["##gff-version 3"]
    spans = []
    for k, (coding, minus) in enumerate([(True, False), (True, True), (False, False), (False, True)]):
        seq, exons, cds = _locus(rng, coding)
        n = len(seq)
        if minus:
            seq = reverse_complement(seq)
            exons = [(n - e, n - s) for s, e in reversed(exons)]
            cds = None if cds is None else (n - cds[1], n - cds[0])
        off = len(genome)
        strand = "-" if minus else "+"
        biotype = "protein_coding" if coding else "lncRNA"
        gs, ge = off + exons[0][0], off + exons[-1][1]
        rows.append(
            f"c\t.\tgene\t{gs + 1}\t{ge}\t.\t{strand}\t.\tID=gene:G{k};Name=GENE{k};biotype={biotype}"
        )
        rows.append(
            f"c\t.\tmRNA\t{gs + 1}\t{ge}\t.\t{strand}\t.\tID=transcript:T{k};Parent=gene:G{k};biotype={biotype}"
        )
        for s, e in exons:
            rows.append(f"c\t.\texon\t{off + s + 1}\t{off + e}\t.\t{strand}\t.\tParent=transcript:T{k}")
        if cds is not None:
            segs = [(max(s, cds[0]), min(e, cds[1])) for s, e in exons if max(s, cds[0]) < min(e, cds[1])]
            done = 0
            for s, e in segs if not minus else segs[::-1]:
                phase = (3 - done % 3) % 3
                rows.append(
                    f"c\t.\tCDS\t{off + s + 1}\t{off + e}\t.\t{strand}\t{phase}\tParent=transcript:T{k}"
                )
                done += e - s
        genome += seq
        spans.append((gs, ge))
        genome += "".join(rng.choice("ACGT") for _ in range(rng.randint(5, 60)))
    (tmp / "g.fa").write_text(">c\n" + genome + "\n")
    pysam.faidx(str(tmp / "g.fa"))
    (tmp / "g.gff3").write_text("\n".join(rows) + "\n")
    return genome, spans


def _both_ways(annot: Annotator, chroms, pos1, refs, alts):
    """``annotate_columns`` with the kernels (and how many rows they formatted: substitutions,
    other alleles) and with every row through the Python formatter."""
    seen, seen_other = [], []
    real, real_other = annot._kernel_rows, annot._format_other_rows

    def counting(*args):
        rows = real(*args)
        seen.append(len(rows))
        return rows

    def counting_other(*args):
        texts, status, ppos = real_other(*args)
        seen_other.append(int((status == 0).sum()))
        return texts, status, ppos

    def none_other(*args):
        texts, status, ppos = real_other(*args)
        return texts, np.ones_like(status), ppos

    annot._kernel_rows, annot._format_other_rows = counting, counting_other
    rv1, with_kernel = annot.annotate_columns(chroms, pos1, refs, alts)
    annot._kernel_rows = lambda *args: np.zeros(0, dtype=np.int64)
    annot._format_other_rows = none_other
    rv2, python_only = annot.annotate_columns(chroms, pos1, refs, alts)
    annot._kernel_rows, annot._format_other_rows = real, real_other
    assert np.array_equal(rv1, rv2)
    return with_kernel, python_only, sum(seen), sum(seen_other)


def _assert_same(a: dict, b: dict) -> None:
    for c in COLUMNS:
        x, y = np.asarray(a[c]).tolist(), np.asarray(b[c]).tolist()
        bad = [(i, u, v) for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v]
        assert not bad, f"column {c}: first differences {bad[:3]}"


@pytest.mark.parametrize("use_jit", [True, False])
@settings(deadline=None, max_examples=6)
@given(seed=st.integers(0, 10**6))
def test_kernel_rows_equal_the_python_formatter_on_random_loci(tmp_path_factory, use_jit, seed):
    tmp = tmp_path_factory.mktemp("fmt")
    genome, spans = _genome(tmp, seed)
    index = load_annotation(tmp / "g.gff3", use_cache=False)
    with pysam.FastaFile(str(tmp / "g.fa")) as fa:
        annot = Annotator(index, fa, use_jit=use_jit)
        # every substitution at every position of every transcript (and a few bases around it)
        pos = sorted({p for s, e in spans for p in range(max(0, s - 3), min(len(genome), e + 3))})
        if not use_jit:  # the Python twins of all kernels are slow: every 4th position
            pos = pos[seed % 4 :: 4]
        chroms, pos1, refs, alts = [], [], [], []
        for p in pos:
            for b in "ACGT":
                if b != genome[p]:
                    chroms.append("c")
                    pos1.append(p + 1)
                    refs.append(genome[p])
                    alts.append(b)
        with_kernel, python_only, n_kernel, _ = _both_ways(annot, chroms, pos1, refs, alts)
    _assert_same(with_kernel, python_only)
    in_tx = sum(1 for x in with_kernel["hgvsc"].tolist() if x)
    assert n_kernel == in_tx > 0  # every substitution inside a transcript went through the kernel
    terms = set("&".join(with_kernel["consequence"].tolist()).split("&"))
    if use_jit:  # (the twin sees every 4th position only)
        assert {"missense_variant", "synonymous_variant", "intron_variant", "5_prime_UTR_variant"} <= terms


def test_kernel_rows_equal_the_python_formatter_on_bcftools_csq_slices(shared_data):
    root = shared_data / "bcftools-csq"
    total = total_other = 0
    for gff in sorted(root.glob("csq/*/*.gff")):
        fasta = next(iter(sorted(gff.parent.glob("*.fa"))), None)
        if fasta is None:
            continue
        index = load_annotation(gff, use_cache=False)
        with pysam.FastaFile(str(fasta)) as fa:
            annot = Annotator(index, fa)
            # substitutions at every base within 3 of an exon edge and at 150 random bases of each
            # transcript (long genes: sampling keeps the test fast)
            chroms, pos1, refs, alts = [], [], [], []
            tx = index.transcripts
            rng = random.Random(gff.name)
            for t in range(len(tx.start)):
                chrom = str(tx.chrom[t])
                name = chrom if chrom in fa.references else "chr" + chrom
                if name not in fa.references:
                    continue
                lo, hi = int(tx.start[t]), min(int(tx.end[t]), fa.get_reference_length(name))
                rows = index.exon_rows(t)
                edges = {
                    q
                    for e in (*index.exons.start[rows].tolist(), *index.exons.end[rows].tolist())
                    for q in range(e - 3, e + 3)
                }
                picks = sorted(
                    {q for q in edges if lo <= q < hi} | {rng.randrange(lo, hi) for _ in range(150)}
                )
                for p in picks:
                    ctx = fa.fetch(name, p, p + 4).upper()
                    ref = ctx[:1]
                    if ref not in "ACGT" or len(ctx) < 4 or set(ctx) - set("ACGT"):
                        continue
                    # substitutions, a deletion and an insertion repeating the next bases
                    for r_, a_ in [(ref, b) for b in "ACGT" if b != ref] + [(ctx[:3], ref), (ref, ctx[:3])]:
                        chroms.append(name)
                        pos1.append(p + 1)
                        refs.append(r_)
                        alts.append(a_)
            if not chroms:
                continue
            with_kernel, python_only, n_kernel, n_other = _both_ways(annot, chroms, pos1, refs, alts)
        _assert_same(with_kernel, python_only)
        total += n_kernel
        total_other += n_other
    assert total > 1000 and total_other > 300


def test_sorted_exon_flag_matches_transcript_coords(shared_data):
    """``Annotator.t_sorted`` (vectorised) equals ``TranscriptCoords._sorted`` for every transcript."""
    n = 0
    for gff in sorted((shared_data / "bcftools-csq").glob("csq/*/*.gff")):
        index = load_annotation(gff, use_cache=False)
        fasta = next(iter(sorted(gff.parent.glob("*.fa"))), None)
        if fasta is None:
            continue
        with pysam.FastaFile(str(fasta)) as fa:
            annot = Annotator(index, fa)
            for t in range(len(index.transcripts.start)):
                assert bool(annot.t_sorted[t]) == TranscriptCoords(index, t)._sorted
                n += 1
    assert n > 20


def _indels(rng: random.Random, genome: str, spans, n: int):
    """Random insertions, deletions, MNVs and delins inside/around transcripts (often repeating the
    context, so that the HGVS 3' shift, dup and protein shifts happen)."""
    chroms, pos1, refs, alts = [], [], [], []
    sites = sorted(
        rng.sample([p for s, e in spans for p in range(max(1, s - 2), min(len(genome) - 12, e + 2))], n)
    )
    for p in sites:
        kind = rng.random()
        ref_len = rng.choice([1, 2, 3, 4, 6, 7])
        ref = genome[p - 1 : p - 1 + ref_len]
        if kind < 0.35:  # deletion (anchored)
            alt = ref[0]
        elif kind < 0.7:  # insertion (anchored), a copy of the following or preceding bases or random
            ref = ref[0]
            src = rng.random()
            k = rng.choice([1, 2, 3, 3, 6])
            ins = (
                genome[p : p + k]
                if src < 0.4
                else genome[max(0, p - k) : p]
                if src < 0.7
                else "".join(rng.choice("ACGT") for _ in range(k))
            )
            alt = ref + (ins or "A")
        elif kind < 0.85:  # MNV
            alt = "".join(rng.choice([b for b in "ACGT" if b != x]) for x in ref)
        else:  # delins
            alt = "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 5)))
        if alt == ref:
            continue
        chroms.append("c")
        pos1.append(p)
        refs.append(ref)
        alts.append(alt)
    return chroms, pos1, refs, alts


@pytest.mark.parametrize("use_jit", [True, False])
@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 10**6))
def test_indel_rows_equal_the_python_formatter_on_random_loci(tmp_path_factory, use_jit, seed):
    tmp = tmp_path_factory.mktemp("fmt")
    genome, spans = _genome(tmp, seed)
    rng = random.Random(seed)
    index = load_annotation(tmp / "g.gff3", use_cache=False)
    with pysam.FastaFile(str(tmp / "g.fa")) as fa:
        annot = Annotator(index, fa, use_jit=use_jit)
        chroms, pos1, refs, alts = _indels(rng, genome, spans, 150 if use_jit else 40)
        with_kernel, python_only, _, n_other = _both_ways(annot, chroms, pos1, refs, alts)
    _assert_same(with_kernel, python_only)
    in_tx = sum(1 for x in with_kernel["hgvsc"].tolist() if x)
    # (a few rows left to Python at window edges: 31 of 36 for seed 1357, the fewest seen)
    assert 0 < n_other <= in_tx and n_other >= 0.8 * in_tx


def test_kernel_fields_split_the_rows():
    """A formatting kernel's buffer (rows of ``_KERNEL_FIELDS``) and the spans of its fields, split
    into one column per field — only the spans are read, not the bytes between them — or only the
    fields asked for; ``csq_mid`` stays in the buffer."""
    from ccevariants.annotate import _KERNEL_FIELDS, _kernel_fields
    from ccevariants.kernels import _format_impl as kf

    assert len(_KERNEL_FIELDS) == kf.N_FIELDS
    rows = [
        [f"{c}{i}" * (i * 7 + 1) if j % 3 else "" for j, c in enumerate(_KERNEL_FIELDS)] for i in range(3)
    ]
    text = "".join(f + "#" for row in rows for f in row).encode()  # (a byte no span covers)
    ends = np.cumsum([len(f) + 1 for row in rows for f in row]).reshape(3, -1) - 1
    starts = np.r_[0, ends.reshape(-1)[:-1] + 1].reshape(3, -1)
    spans = np.stack([starts, ends], axis=2)
    assert spans.shape == (3, kf.N_FIELDS, 2)
    buf = np.frombuffer(text + b"\0" * 9, dtype=np.uint8)  # (bytes past ``used``: not read)
    cols = _kernel_fields(buf, len(text), spans)
    assert type(cols["csq_mid"]).__name__ == "_Spans"
    assert {c: cols[c].to_pylist() for c in _KERNEL_FIELDS} == {
        c: [row[j] for row in rows] for j, c in enumerate(_KERNEL_FIELDS)
    }
    only = _kernel_fields(buf, len(text), spans, ("csq_mid", "hgvsc"))
    assert set(only) == {"csq_mid", "hgvsc"} and only["hgvsc"].to_pylist() == [r[2] for r in rows]
    alone = _kernel_fields(buf, len(text), spans, ("csq_mid",))
    assert set(alone) == {"csq_mid"} and alone["csq_mid"].to_pylist() == [r[-1] for r in rows]
    empty = _kernel_fields(buf, 0, np.zeros((0, kf.N_FIELDS, 2), dtype=np.int64))
    assert set(empty) == set(_KERNEL_FIELDS) and all(len(v) == 0 for v in empty.values())
