"""Write the embedded SYNTHETIC demo data set: reference, gene models, cohort VCFs, CNV/SV files, truth.

Everything written is synthetic (random genome, synthetic gene models carrying the real amino acids at
clinically relevant residues, pseudonymous patients) and labelled so. The same --seed always gives
byte-identical files. See docs/demo.md.
"""

from __future__ import annotations

import argparse

HELP = "write the synthetic demo data set (reference, GFF3, cohort VCFs, truth)"


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; found {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer; found {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outdir", required=True, help="directory to write into (created if missing)")
    parser.add_argument("--seed", type=_seed, default=7, help="random seed (default 7)")


def run(args: argparse.Namespace) -> int:
    from ..demo import write_demo

    write_demo(args.outdir, seed=args.seed)
    return 0
