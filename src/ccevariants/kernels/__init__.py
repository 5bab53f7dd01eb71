"""Numba kernels of the annotation engine, each with a pure-Python twin.

Every kernel module ``_<name>_impl.py`` is written in the subset of Python that Numba compiles. It is
loaded twice: as ``ccevariants.kernels._<name>_impl`` (functions compiled with
:func:`ccevariants._numba.jit`, ``cache=True``) and, on request, as
``ccevariants.kernels._<name>_impl_py`` (the same source, not compiled: the plain-Python twin that
tests run against the same expectations). Modules are imported lazily so ``import ccevariants``
stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

_KERNELS = ("overlap", "consequence", "format", "alleles", "records")


def read_only(arr):
    """``arr`` read-only: itself when it is, else a read-only view (no copy). Numba compiles a kernel
    once per argument type, and a read-only array is another type than a writable one: the byte
    arrays handed to kernels go through this, so that each kernel is compiled once (a second
    specialisation costs seconds, mid-run)."""
    if not arr.flags.writeable:
        return arr
    view = arr.view()
    view.flags.writeable = False
    return view


def load(name: str, jit: bool = True) -> ModuleType:
    """The kernel module ``name`` (``overlap`` / ``consequence`` / ``format`` / ``alleles`` /
    ``records``), compiled or as its Python twin."""
    if name not in _KERNELS:
        raise ValueError(f"unknown kernel module {name!r}")
    modname = f"{__name__}._{name}_impl"
    if jit:
        return importlib.import_module(modname)
    twin = modname + "_py"
    if twin in sys.modules:
        return sys.modules[twin]
    spec = importlib.util.find_spec(modname)
    py_spec = importlib.util.spec_from_file_location(twin, spec.origin)
    module = importlib.util.module_from_spec(py_spec)
    sys.modules[twin] = module
    py_spec.loader.exec_module(module)
    return module


def decorator(module_name: str, helper: bool = False):
    """``jit`` (``helper``: :func:`ccevariants._numba.helper`, for per-row functions that make no
    array) for the compiled load of a kernel module, identity for its ``_py`` twin."""
    if module_name.endswith("_py"):
        return lambda f: f
    from .. import _numba

    return _numba.helper if helper else _numba.jit


def copier(module_name: str):
    """:func:`ccevariants._numba.copy_bytes` (``dst[k:k + n] = src[a:a + n]`` as one memcpy, bounds
    checked) for the compiled load of a kernel module, its Python version for the ``_py`` twin."""
    from .. import _numba

    return _numba.copy_bytes_py if module_name.endswith("_py") else _numba.copy_bytes


def string_copier(module_name: str):
    """:func:`ccevariants._numba.copy_string` (string ``v`` of a column copied to ``dst[k:]``) for
    the compiled load of a kernel module, its Python version for the ``_py`` twin."""
    from .. import _numba

    return _numba.copy_string_py if module_name.endswith("_py") else _numba.copy_string
