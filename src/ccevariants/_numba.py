"""The one place that configures Numba for ccevariants.

Kernels import :func:`jit` from here. Defaults: nopython, nogil, cache=True. The cache directory is
taken from ``NUMBA_CACHE_DIR`` (the workflow sets it to a directory that survives between jobs, so
each Snakemake job does not pay the compile). Import this module lazily, from kernel modules only.
"""

from __future__ import annotations

import os
import threading
import types as types_module

import numba
from numba.core import cgutils, types
from numba.extending import intrinsic

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


@intrinsic
def _memcpy(typingctx, dst, k, src, a, n):  # pragma: no cover - compiled into its callers
    """``dst[k:k + n] = src[a:a + n]`` as one ``llvm.memcpy`` (no bounds check: :func:`copy_bytes`);
    C-contiguous ``uint8`` arrays only (anything else does not type)."""
    for arr in (dst, src):
        if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.layout == "C"):
            return None
    sig = types.void(dst, types.intp, src, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        d = context.make_array(signature.args[0])(context, builder, args[0])
        s = context.make_array(signature.args[2])(context, builder, args[2])
        cgutils.raw_memcpy(
            builder, builder.gep(d.data, [args[1]]), builder.gep(s.data, [args[3]]), args[4], 1
        )
        return context.get_dummy_value()

    return sig, codegen


def _span_ok(dst, k, src, a, n) -> bool:
    return n >= 0 and k >= 0 and a >= 0 and k + n <= dst.size and a + n <= src.size


def copy_bytes_py(dst, k, src, a, n) -> None:
    """``dst[k:k + n] = src[a:a + n]`` (contiguous ``uint8`` arrays), raising IndexError when a span
    is outside its array: the Python twin of :func:`copy_bytes`."""
    if not _span_ok(dst, k, src, a, n):
        raise IndexError("copy_bytes: span outside the array")
    dst[k : k + n] = src[a : a + n]


def _copy_bytes(dst, k, src, a, n) -> None:  # pragma: no cover - compiled
    if not _span_ok_compiled(dst, k, src, a, n):
        raise IndexError("copy_bytes: span outside the array")
    _memcpy(dst, k, src, a, n)


_span_ok_compiled = helper(_span_ok)
#: :func:`copy_bytes_py` compiled for kernels: one ``memcpy`` instead of a slice assignment, which
#: Numba compiles as an element loop plus a reference-counted view of each side (≈ 6× slower for the
#: 10–60-byte copies of the output kernels: ``_csq_lines`` 229 → 39 ns per row). Usable from
#: :func:`helper` functions (it makes no array).
copy_bytes = helper(_copy_bytes)


def copy_string_py(dst, k, off, dat, v) -> int:
    """String ``v`` of a string column (int64 offsets ``off``, bytes ``dat``) copied to ``dst[k:]``
    by :func:`copy_bytes_py`; returns the new end ``k``: the Python twin of :func:`copy_string`."""
    a = off[v]
    n = off[v + 1] - a
    copy_bytes_py(dst, k, dat, a, n)
    return k + n


#: :func:`copy_string_py` compiled, copying with :func:`copy_bytes` (the same source, its
#: ``copy_bytes_py`` bound to the compiled copy).
copy_string = helper(
    types_module.FunctionType(
        copy_string_py.__code__, {**globals(), "copy_bytes_py": copy_bytes}, "copy_string"
    )
)


def requested_threads(threads: int | None) -> int:
    """The thread count asked for: ``threads``, else ``$CCEV_THREADS`` (the workflow rule sets it
    from its ``threads``), else 1."""
    if threads is None:
        threads = int(os.environ.get("CCEV_THREADS", "1"))
    return max(1, int(threads))
