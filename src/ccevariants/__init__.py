"""ccevariants: a genomic variant pipeline for precision oncology.

Importing the package is cheap: heavy modules (Numba kernels, pysam, pandas) are imported by the
stage modules that need them, so ``import ccevariants`` and ``snakemake -n`` stay fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
