"""Microsatellite instability from reads: build a baseline of normals, score a tumour BAM/CRAM.

ccev msi baseline --bams N1.bam N2.bam ... --reference FASTA --regions BED --output baseline.json
ccev msi score --tumor-bam T.bam (--normal-bam N.bam | --baseline baseline.json) [--reference FASTA]
               [--regions BED] --output msi.json

Paired scoring is MSIsensor-style (chi-square on tumour vs normal repeat-length counts, BH FDR);
tumour-only scoring is mSINGS-style (length peaks against the baseline). Research use: not a
validated clinical MSI assay. See docs/biomarkers.md, section "MSI from reads".
"""

from __future__ import annotations

import argparse

HELP = "MSI from BAM/CRAM: build a baseline of normals, score a tumour (paired or tumour-only)"


def _add_site_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-reads", type=int, default=20, help="spanning reads per site (default 20)")
    p.add_argument("--min-mapq", type=int, default=20, help="minimum mapping quality (default 20)")
    p.add_argument(
        "--min-base-quality", type=int, default=20, help="mean base quality over tract + flanks (default 20)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="msi_command", metavar="ACTION", required=True)
    b = sub.add_parser("baseline", help="per-site length-peak baseline from normal BAMs (tumour-only mode)")
    b.add_argument("--bams", nargs="+", required=True, help="normal BAM/CRAM files (indexed), >= 2")
    b.add_argument("--reference", required=True, help="reference FASTA (indexed)")
    b.add_argument("--regions", help="BED of the regions to scan (default: the whole reference)")
    b.add_argument("--output", required=True, help="baseline JSON to write")
    b.add_argument(
        "--min-normals", type=int, default=2, help="normals with enough reads to keep a site (default 2)"
    )
    _add_site_options(b)
    s = sub.add_parser("score", help="MSI status of a tumour BAM/CRAM (paired or against a baseline)")
    s.add_argument("--tumor-bam", required=True, help="tumour BAM/CRAM (indexed)")
    mode = s.add_mutually_exclusive_group(required=True)
    mode.add_argument("--normal-bam", help="matched normal BAM/CRAM (paired mode)")
    mode.add_argument("--baseline", help="baseline JSON from 'ccev msi baseline' (tumour-only mode)")
    s.add_argument("--reference", help="reference FASTA (required in paired mode and for CRAM)")
    s.add_argument("--regions", help="BED of the regions to scan (paired mode; default: whole reference)")
    s.add_argument("--output", required=True, help="MSI JSON to write (the 'msi' section of biomarkers.json)")
    s.add_argument("--min-sites", type=int, default=30, help="evaluable sites needed for a call (default 30)")
    _add_site_options(s)


def run(args: argparse.Namespace) -> int:
    import logging

    from .._io import write_json
    from ..biomarkers import msi

    log = logging.getLogger(__name__)
    common = {
        "min_reads": args.min_reads,
        "min_mapq": args.min_mapq,
        "min_mean_bq": args.min_base_quality,
    }
    if args.msi_command == "baseline":
        params = msi.MsiParams(**common, min_normals=args.min_normals)
        doc = msi.build_baseline(args.bams, args.reference, args.regions, args.output, params=params)
        log.info(
            "MSI baseline of %d normals: %d of %d sites kept → %s",
            len(args.bams),
            len(doc["sites"]),
            doc["sites_scanned"],
            args.output,
        )
        return 0
    params = msi.MsiParams(**common, min_sites=args.min_sites)
    regions = None
    if args.regions is not None:
        if args.reference is None:
            from ..errors import ConfigError

            raise ConfigError("expected --reference together with --regions; found none")
        regions = msi.read_regions(args.regions, args.reference)
    result = msi.compute_msi_bam(
        args.tumor_bam,
        reference=args.reference,
        normal_bam=args.normal_bam,
        baseline=args.baseline,
        regions=regions,
        params=params,
    )
    write_json(args.output, result)
    log.info(
        "MSI %s: score %s%% of %d evaluable sites (%s) → %s",
        result["status"],
        result["score"],
        result["sites"],
        result["mode"],
        args.output,
    )
    return 0
