"""Shared pytest fixtures.

``shared_data``: the real public data under ``../shared/data`` (read in place, never copied into the
repository). When it is absent the test is skipped with a reason — unless the ``CI`` environment
variable is set, in which case the test fails: CI always has the data.
"""

from __future__ import annotations

import os
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
