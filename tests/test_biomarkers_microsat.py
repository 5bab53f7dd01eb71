"""Microsatellite scanner: Numba kernel and its Python twin against hand cases and an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.biomarkers._microsat import count_in_regions, encode, scan


def oracle(seq: str, max_unit=5, min_homo=5, min_rep=3):
    """Greedy scan written with string operations (independent of the kernel's array code)."""
    out, i = [], 0
    while i < len(seq):
        best = (0, 0)
        for k in range(1, max_unit + 1):
            unit = seq[i : i + k]
            if len(unit) < k or any(c not in "ACGT" for c in unit):
                break
            copies = 1
            while seq.startswith(unit, i + copies * k):
                copies += 1
            if copies >= (min_homo if k == 1 else min_rep) and copies * k > best[0]:
                best = (copies * k, k)
        if best[1]:
            out.append((i, i + best[0], best[1]))
            i += best[0]
        else:
            i += 1
    return out


CASES = [
    ("", []),
    ("A", []),
    ("AAAA", []),
    ("AAAAA", [(0, 5, 1)]),
    ("GAAAAAAC", [(1, 7, 1)]),
    ("CACACA", [(0, 6, 2)]),
    ("CACAC", []),
    ("ACGACGACGT", [(0, 9, 3)]),
    ("AAAAANAAAAA", [(0, 5, 1), (6, 11, 1)]),
    ("AAAAAAAAA", [(0, 9, 1)]),  # homopolymer, not AAA x 3
    ("TTTTTCACACA", [(0, 5, 1), (5, 11, 2)]),
    ("acacacgt", [(0, 6, 2)]),
]


@pytest.mark.parametrize("use_jit", [False, True])
@pytest.mark.parametrize(("seq", "expected"), CASES)
def test_scan_hand_cases(seq, expected, use_jit):
    s, e, u = scan(encode(seq), use_jit=use_jit)
    assert list(zip(s.tolist(), e.tolist(), u.tolist(), strict=True)) == expected


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet="ACGTN", max_size=80), st.sampled_from([(5, 3), (4, 2), (6, 4)]))
def test_scan_matches_oracle(seq, thresholds):
    homo, rep = thresholds
    want = oracle(seq.upper(), 5, homo, rep)
    for use_jit in (False, True):
        s, e, u = scan(encode(seq), min_homopolymer=homo, min_repeat=rep, use_jit=use_jit)
        assert list(zip(s.tolist(), e.tolist(), u.tolist(), strict=True)) == want


def test_count_in_regions(tmp_path):
    import pysam

    from ccevariants.biomarkers._regions import from_arrays

    seq = "GC" + "AAAAAA" + "GCGT" + "CACACA" + "GT" + "TTTTT" + "G"
    path = tmp_path / "r.fa"
    path.write_text(">chr1\n" + seq + "\n")
    pysam.faidx(str(path))
    with pysam.FastaFile(str(path)) as fasta:
        assert count_in_regions(fasta, from_arrays(["chr1"], [0], [len(seq)])) == 3
        assert count_in_regions(fasta, from_arrays(["1"], [0], [12])) == 1  # harmonised name
        assert count_in_regions(fasta, from_arrays(["chr9"], [0], [5])) == 0
        # tiny windows: tracts crossing window edges are still counted once
        for window in (1, 3, 7, 10):
            assert (
                count_in_regions(fasta, from_arrays(["chr1"], [0], [len(seq)]), window=window, overlap=20)
                == 3
            )
    assert np.array_equal(encode("ACGTNx"), np.array([0, 1, 2, 3, 4, 4], dtype=np.uint8))


def site_oracle(seq: str, min_homo=5, min_units=5, max_unit=4, max_length=50, gap=5):
    """MSI site filter written on the oracle's tract list (string operations)."""
    tracts = oracle(seq.upper())
    out = []
    for n, (s, e, k) in enumerate(tracts):
        strong = (k == 1 and e - s >= min_homo) or (2 <= k <= max_unit and (e - s) // k >= min_units)
        prev_ok = n == 0 or s - tracts[n - 1][1] >= gap
        next_ok = n == len(tracts) - 1 or tracts[n + 1][0] - e >= gap
        flanks = seq[s - gap : s] + seq[e : e + gap] if s >= gap and e + gap <= len(seq) else None
        if (
            strong
            and e - s <= max_length
            and prev_ok
            and next_ok
            and flanks is not None
            and all(c in "ACGTacgt" for c in flanks)
        ):
            out.append((s, e, k))
    return out


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ACGTN", min_size=1, max_size=12),
            st.builds(
                lambda u, n: u * n, st.text(alphabet="ACGT", min_size=1, max_size=4), st.integers(3, 14)
            ),
        ),
        max_size=8,
    ),
    st.sampled_from([(5, 5, 50), (6, 4, 20), (7, 3, 12)]),
)
def test_select_sites_matches_oracle(pieces, thresholds):
    from ccevariants.biomarkers._microsat import select_sites

    seq = "".join(pieces)
    homo, units, max_length = thresholds
    want = site_oracle(seq, homo, units, 4, max_length)
    for use_jit in (False, True):
        s, e, u = select_sites(
            encode(seq), min_homopolymer=homo, min_units=units, max_length=max_length, use_jit=use_jit
        )
        assert list(zip(s.tolist(), e.tolist(), u.tolist(), strict=True)) == want
