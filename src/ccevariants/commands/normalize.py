"""Normalise a tumour(/normal) VCF: check it against the reference, split multi-allelics,
left-align, drop exact duplicates and write caller-independent read support (INFO T_DP, T_AD,
T_AF, N_DP, N_AD, N_AF). Output: sorted, bgzipped, tabix-indexed VCF (contract §2)."""

from __future__ import annotations

import argparse

HELP = "split, left-align, REF-check and harmonise read support of a VCF"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", "-i", help="input VCF (plain, gzip or bgzip); a MAF is recognised too")
    src.add_argument("--maf", help="input MAF (GDC, cBioPortal, vcf2maf); converted to the same VCF")
    parser.add_argument(
        "--reference",
        "-r",
        help="reference FASTA (indexed or indexable). Without it only multi-allelic splitting and read-support "
        "harmonisation are done (no left-alignment, REF or build check) and a warning is written",
    )
    parser.add_argument(
        "--output", "-o", required=True, help="output .vcf.gz (a .tbi index is written beside it)"
    )
    parser.add_argument("--tumor-sample", help="VCF column of the tumour sample (default: from header/names)")
    parser.add_argument(
        "--normal-sample", help="VCF column of the matched normal (default: from header/names)"
    )
    parser.add_argument(
        "--caller", help="caller whose read-support rule to use (default: detected from the header)"
    )
    parser.add_argument(
        "--tag-map", metavar="YAML", help="custom read-support tag map (see docs/normalisation.md)"
    )
    parser.add_argument(
        "--min-depth", type=int, default=0, help="drop records with tumour depth below this [0]"
    )
    parser.add_argument(
        "--min-vaf", type=float, default=0.0, help="drop records with tumour VAF below this [0]"
    )
    parser.add_argument("--keep-nonpass", action="store_true", help="keep records whose FILTER is not PASS/.")
    parser.add_argument("--filtered", metavar="TSV", help="write every removed record with its reason")
    parser.add_argument("--stats", metavar="JSON", help="write normalisation statistics")
    parser.add_argument(
        "--bam", help="indexed tumour BAM/CRAM: count read support where the VCF has none (sheet column bam)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="cores the job may use [2]: the pre-pass, bcftools norm and the writer run as three "
        "concurrent processes, and THREADS - 1 (at least 1) threads compress the output",
    )


def run(args: argparse.Namespace) -> int:
    from ..normalize import normalize_vcf

    common = {
        "reference": args.reference,
        "tumor_sample": args.tumor_sample,
        "normal_sample": args.normal_sample,
        "min_depth": args.min_depth,
        "min_vaf": args.min_vaf,
        "pass_only": not args.keep_nonpass,
        "filtered": args.filtered,
        "stats": args.stats,
        "bam": args.bam,
    }
    if args.threads < 1:
        from ..errors import ConfigError

        raise ConfigError(f"expected --threads >= 1; found {args.threads}")
    if args.maf:
        from ..maf import normalize_maf

        normalize_maf(args.maf, args.output, **common)
        return 0
    normalize_vcf(
        args.input,
        args.output,
        caller=args.caller,
        tag_map=args.tag_map,
        threads=max(1, args.threads - 1),
        **common,
    )
    return 0
