"""Shared pytest fixtures.

``shared_data``: the real public data under ``../shared/data`` (read in place, never copied into the
repository). When it is absent the test is skipped with a reason — unless the ``CI`` environment
variable is set, in which case the test fails: CI always has the data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def require_shared(*parts: str) -> Path:
    """Path under ../shared/data; skip (or fail under CI) when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"real public test data not found at {path} (../shared/data beside the checkout)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def index_like_htslib(tmp_path):
    """``check(path, regions)``: the tabix index ccevariants wrote beside ``path`` answers every
    ``(contig, start, end)`` region, and lists the contigs, as htslib's own index of the same bytes."""
    import pysam

    def check(path, regions) -> None:
        theirs = tmp_path / f"htslib-index-{Path(path).name}"
        shutil.copy(path, theirs)
        pysam.tabix_index(str(theirs), preset="vcf", force=True)
        with pysam.TabixFile(str(path)) as ours, pysam.TabixFile(str(theirs)) as ref:
            assert list(ours.contigs) == list(ref.contigs)
            for chrom, start, end in regions:
                assert list(ours.fetch(chrom, start, end)) == list(ref.fetch(chrom, start, end)), (
                    chrom,
                    start,
                    end,
                )

    return check
