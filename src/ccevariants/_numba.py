"""The one place that configures Numba for ccevariants.

Kernels import :func:`jit` from here. Defaults: nopython, nogil, cache=True. The cache directory is
taken from ``NUMBA_CACHE_DIR`` (the workflow sets it to a directory that survives between jobs, so
each Snakemake job does not pay the compile). Import this module lazily, from kernel modules only.
"""

from __future__ import annotations

import os
import threading

import numba

DEFAULTS = {"nopython": True, "nogil": True, "cache": True}

#: Held while a module compiles its functions on first use (:func:`build_once`).
LAZY_LOCK = threading.RLock()


def build_once(table: dict, build) -> dict:
    """``table``, filled with ``build()`` (a dict of compiled functions) on first use. The builders
    swap module globals for compiled functions, which two threads annotating chunks must not do at
    once (the second would jit an already compiled function): they run under :data:`LAZY_LOCK`, and
    the table is published in one step, so a caller that skips the lock sees all of it or none."""
    if not table:
        with LAZY_LOCK:
            if not table:
                table.update(build())
    return table


def python_function(f):
    """The Python function behind ``f`` (itself when not compiled): builders that swap module
    globals for compiled functions find the compiled ones there when they run again."""
    return getattr(f, "py_func", f)


def jit(*args, **kwargs):
    """``numba.njit`` with the project's defaults (nogil, cache)."""
    options = {**DEFAULTS, **kwargs}
    options.pop("nopython", None)
    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


def helper(f):
    """:func:`jit` for a function that kernels call per row and that only reads and writes the arrays
    it is given (it makes no array, not even a slice): compiled without Numba's reference counting
    (``_nrt=False``). With it, every call increments and decrements the count of each array argument
    — two atomic instructions per array per call — and Numba's pruning of those pairs gives up on
    functions with branches and loops: in the formatting kernel they took ~40 % of its time (≈ 200 ns
    of ≈ 500 per row). Without it, a function that does need an array of its own fails to compile
    ("NRT required but not enabled")."""
    return jit(f, _nrt=False)


def requested_threads(threads: int | None) -> int:
    """The thread count asked for: ``threads``, else ``$CCEV_THREADS`` (the workflow rule sets it
    from its ``threads``), else 1."""
    if threads is None:
        threads = int(os.environ.get("CCEV_THREADS", "1"))
    return max(1, int(threads))


def set_threads(threads: int | None) -> int:
    """Set Numba's thread count from the rule's ``threads`` (Snakemake does not set it), capped at the
    cores Numba sees; returns it."""
    threads = min(requested_threads(threads), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    return threads
