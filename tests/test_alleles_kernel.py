"""The allele kernel (``kernels/_alleles_impl.py``: REF check, trimming, indel placements) against the
per-allele Python code (``Annotator._prepare_python``: ``trim_allele`` + ``shift_allele``)."""

from __future__ import annotations

import functools
import random

import numpy as np
import pysam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.annotate import Annotator
from ccevariants.transcripts import load_annotation


def _setup(tmp, seed):
    """A repeat-rich contig (homopolymers and tandem repeats, some lower case) and one transcript."""
    rng = random.Random(seed)
    pieces = []
    while sum(map(len, pieces)) < 3000:
        kind = rng.random()
        if kind < 0.3:
            pieces.append(rng.choice("ACGT") * rng.randint(2, 12))
        elif kind < 0.6:
            pieces.append("".join(rng.choice("ACGT") for _ in range(rng.randint(2, 4))) * rng.randint(2, 6))
        else:
            pieces.append("".join(rng.choice("ACGTacgt") for _ in range(rng.randint(1, 20))))
    genome = "".join(pieces)
    (tmp / "g.fa").write_text(">c\n" + genome + "\n>d\n" + "ACGT" * 50 + "\n")
    pysam.faidx(str(tmp / "g.fa"))
    (tmp / "g.gff3").write_text(
        "##gff-version 3\nc\t.\tgene\t100\t900\t.\t+\t.\tID=gene:G;Name=G;biotype=lncRNA\n"
        "c\t.\ttranscript\t100\t900\t.\t+\t.\tID=transcript:T;Parent=gene:G;biotype=lncRNA\n"
        "c\t.\texon\t100\t900\t.\t+\t.\tParent=transcript:T\n"
    )
    return rng, genome.upper()


def _alleles(rng, genome, n):
    """Sorted random alleles at 1-based positions: SNVs, MNVs, insertions and deletions (anchored and
    not, some repeating the context), complex, symbolic, lower case."""
    out = []
    for p in sorted(rng.sample(range(1, len(genome) - 30), n)):
        ref_len = rng.choice([1, 1, 2, 3, 5])
        ref = genome[p - 1 : p - 1 + ref_len]
        kind = rng.random()
        if kind < 0.2:
            alt = ref[0]  # deletion
        elif kind < 0.4:
            unit = (
                genome[p : p + rng.randint(1, 4)]
                if rng.random() < 0.6
                else "".join(rng.choice("ACGT") for _ in range(3))
            )
            alt = ref + unit  # insertion, often a repeat copy
        elif kind < 0.55:
            alt = "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 4)))
        elif kind < 0.6:
            alt = rng.choice(["<DEL>", "*", ".", "A[c:5[", "N"])
        else:
            alt = "".join(rng.choice([b for b in "ACGT" if b != x]) for x in ref)
        if rng.random() < 0.1:
            ref, alt = ref.lower(), alt.lower()
        out.append(("c", p, ref, alt))
    return out


@pytest.mark.parametrize("use_jit", [True, False])
@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 10**6), span=st.sampled_from([40, 2_000_000]))
def test_allele_kernel_equals_the_per_allele_code(tmp_path_factory, use_jit, seed, span):
    tmp = tmp_path_factory.mktemp("al")
    rng, genome = _setup(tmp, seed)
    alleles = _alleles(rng, genome, 120)
    chroms, pos1, refs, alts = (list(x) for x in zip(*alleles, strict=True))
    fallback = []  # alleles the kernel left to the per-allele code (indels shifting off the window)
    with pysam.FastaFile(str(tmp / "g.fa")) as fa:
        annot = Annotator(load_annotation(tmp / "g.gff3", use_cache=False), fa, use_jit=use_jit)
        real = annot._prepare_python

        def counting(*a):
            fallback.append(len(a[5]))
            return real(*a)

        # small windows (batches of 3, 2 bases of padding) force shifts past the window edge
        if span == 40:
            annot._allele_windows = functools.partial(annot._allele_windows, pad=2)
        for lo in range(0, len(chroms), 3 if span == 40 else len(chroms)):
            sl = slice(lo, lo + (3 if span == 40 else len(chroms)))
            args = (chroms[sl], pos1[sl], refs[sl], alts[sl])
            annot._prepare_python = counting
            got = annot._prepare_kernel(*args)
            annot._prepare_python = real
            want = annot._prepare_python(*args, None, range(len(args[0])), None)
            assert got is not None
            _assert_same(got, want)
    # the cases the test is about happen: indels; with small windows, some left to the Python code
    assert any(len(r) != len(a) for r, a in zip(refs, alts, strict=True))
    assert sum(fallback) < len(chroms) and (span != 40 or sum(fallback) > 0)


def test_dense_alleles_get_windows_no_longer_than_max_span(tmp_path):
    """Alleles a few bases apart over a stretch longer than ``max_span``: clusters are cut at every
    ``max_span / 2`` of the contig, so every allele still gets a window (none is left to the Python
    path for want of one) and the kernel's placements equal the per-allele code's."""
    rng, genome = _setup(tmp_path, 3)
    alleles = sorted(_alleles(rng, genome, 150), key=lambda a: a[1])
    chroms, pos1, refs, alts = (list(x) for x in zip(*alleles, strict=True))
    ref_len = np.array([len(r) for r in refs], dtype=np.int64)
    with pysam.FastaFile(str(tmp_path / "g.fa")) as fa:
        annot = Annotator(load_annotation(tmp_path / "g.gff3", use_cache=False), fa)
        span = (max(pos1) - min(pos1)) // 4
        wid, _, off, start, _ = annot._allele_windows(chroms, pos1, ref_len, pad=2, max_span=span)
        assert (wid >= 0).all() and len(start) >= 4
        assert int(np.diff(off).max()) <= span + int(ref_len.max()) + 4
        annot._allele_windows = functools.partial(annot._allele_windows, pad=2, max_span=span)
        got = annot._prepare_kernel(chroms, pos1, refs, alts)
        want = annot._prepare_python(chroms, pos1, refs, alts, None, range(len(chroms)), None)
    _assert_same(got, want)


def _assert_same(got, want):
    """The kernel's preparation (``_Texts`` and a buffer of placements) equals the per-allele code's
    (lists)."""
    want = Annotator._as_texts(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(g, np.ndarray):
            assert np.array_equal(g, w)
        elif isinstance(g, tuple):  # inserted bases of the two placements, and their offsets
            (gb, go), (wb, wo) = g, w
            assert np.array_equal(go, wo)
            assert np.array_equal(gb[:, : go[-1]], wb[:, : wo[-1]])
        else:
            assert g.tolist() == w.tolist()


def test_allele_kernel_declines_mismatches_missing_contigs_and_non_ascii(tmp_path):
    _, genome = _setup(tmp_path, 1)
    with pysam.FastaFile(str(tmp_path / "g.fa")) as fa:
        annot = Annotator(load_annotation(tmp_path / "g.gff3", use_cache=False), fa)
        ok = ("c", 10, genome[9], "A" if genome[9] != "A" else "C")
        for bad in (
            ("c", 12, "T" if genome[11] != "T" else "G", "A"),  # REF mismatch
            ("z", 5, "A", "C"),  # contig absent
            ("c", 12, genome[11], "Ä"),  # non-ASCII
        ):
            args = tuple(list(x) for x in zip(ok, bad, strict=True))
            assert annot._prepare_kernel(*args) is None
