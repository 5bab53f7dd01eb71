"""The ``ccev`` command line: one subcommand per pipeline stage.

Each subcommand lives in :mod:`ccevariants.commands.<name>` and defines ``add_arguments(parser)``
and ``run(args) -> int``. Command modules import only the standard library at module level; the
stage library (pysam, numba, pandas) is imported inside ``run`` so ``ccev --help`` is instant.

Errors that are the user's input (:class:`~ccevariants.errors.CcevariantsError`) become one line on
stderr and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__
from .errors import CcevariantsError

#: Order in which subcommands appear in ``ccev --help``.
COMMANDS = (
    "demo",
    "normalize",
    "annotate",
    "biomarkers",
    "kb",
    "match",
    "report",
    "cohort",
    "validate-sheet",
    "msi",
)


def _module_name(command: str) -> str:
    return "ccevariants.commands." + command.replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccev",
        description="ccevariants: variant calls to molecular tumour board reports.",
    )
    parser.add_argument("--version", action="version", version=f"ccevariants {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (repeatable)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(_module_name(name))
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 0 else logging.INFO)
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    log = logging.getLogger("ccevariants")
    log.debug("ccevariants %s: %s", __version__, " ".join(sys.argv))
    try:
        return int(args._module.run(args) or 0)
    except CcevariantsError as exc:
        print(f"ccev {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ccev {args.command}: interrupted", file=sys.stderr)
        return 130


def single_threaded_blas(environ=None) -> None:
    """Default ``OPENBLAS_NUM_THREADS`` to 1 (a value already set is kept). Must run before NumPy is
    imported: NumPy's OpenBLAS starts a thread per core on import and they spin, waiting for work,
    while ccevariants does no BLAS work worth threads. On 2 cores that spinning cost ~0.2 CPU s per
    command (``ccev annotate`` on 200 records, 8 interleaved runs: 1.16 → 0.94 CPU s, wall 1.04 →
    0.95 s) — per Snakemake job."""
    import os

    (os.environ if environ is None else environ).setdefault("OPENBLAS_NUM_THREADS", "1")


#: Cyclic-GC thresholds of a ``ccev`` process (Python's default: 700, 10, 10).
GC_THRESHOLDS = (100_000, 50, 100)


def batch_gc() -> None:
    """Collect reference cycles less often: a ``ccev`` command is a short batch process that makes
    hundreds of thousands of objects while importing Numba and pandas, and few cycles after. With
    Python's defaults, ~300 collections took ~0.1 s of a 0.85 s ``ccev annotate`` of 200 records
    (8 interleaved runs: wall 1.12 → 0.98 s, medians); on 1 M records the time and peak memory
    (+1–2 %) did not change measurably."""
    import gc

    gc.set_threshold(*GC_THRESHOLDS)


#: glibc ``mallopt`` settings of a ``ccev`` process: ``(parameter, value, environment variable that
#: overrides it)``. M_TRIM_THRESHOLD (-1) 1 GiB, M_MMAP_THRESHOLD (-3) 32 MiB (glibc's maximum).
#: (A top pad of 64 MiB as well kept that much more per thread's arena: peak RSS at chr21's gene
#: density 575 → 710 MB, for no fewer faults.)
MALLOC_SETTINGS = (
    (-1, 1 << 30, "MALLOC_TRIM_THRESHOLD_"),
    (-3, 32 << 20, "MALLOC_MMAP_THRESHOLD_"),
)


def retain_freed_memory(environ=None) -> tuple[str, ...]:
    """Keep freed memory in the heap for the next allocation (glibc ``mallopt``; elsewhere nothing):
    the kernels allocate and free buffers of several MB per chunk, and by default glibc maps the
    larger ones afresh and trims the heap after each free, so that every chunk's buffers are
    page-faulted and zeroed by the kernel again. ``ccev annotate`` on the benchmark's 1 M records:
    150–190 k → 60 k minor page faults, 0.6–0.8 → 0.35–0.45 s system time (peak RSS +10 MB). A
    setting whose ``MALLOC_*_`` variable is in the environment is left to it. Returns the
    variables of the settings made (none when ``mallopt`` is not there)."""
    import ctypes
    import os

    environ = os.environ if environ is None else environ
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return ()
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    made = tuple(v for p, value, v in MALLOC_SETTINGS if v not in environ and mallopt(p, value))
    return made


def entry() -> None:  # pragma: no cover - exercised by the tests that run the ``ccev`` script
    """The ``ccev`` console script: :func:`main`, then exit without the interpreter's teardown.

    Every output is complete and closed when :func:`main` returns (atomic renames); tearing down
    Numba's compiler and the loaded libraries only costs time (≈ 0.2 s per command, i.e. per
    Snakemake job). Logging and the standard streams are flushed first. A crash (an exception
    that is not a CcevariantsError) still takes the normal path and prints its traceback.
    """
    import os

    single_threaded_blas()
    batch_gc()
    retain_freed_memory()
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
