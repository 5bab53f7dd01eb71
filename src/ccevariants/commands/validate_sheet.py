"""Validate a sample sheet the way the workflow does before any job runs.

Checks columns, duplicate patients/samples, file existence, OncoTree codes, purity/assay values and
each VCF's contigs against the reference; prints one line per patient on success.
"""

from __future__ import annotations

HELP = "check a sample sheet (columns, duplicates, files, OncoTree codes, VCF contigs vs reference)"


def add_arguments(parser):
    parser.add_argument("sheet", help="sample sheet (TSV)")
    parser.add_argument("--reference", help="reference FASTA (its .fai is used to check VCF contigs)")
    parser.add_argument("--oncotree", help="OncoTree JSON release (default: the bundled tree)")


def run(args) -> int:
    import logging

    from ..sheet import load_sheet, tumor_type_codes

    rows = load_sheet(
        args.sheet,
        known_tumor_types=tumor_type_codes(args.oncotree),
        reference_fai=f"{args.reference}.fai" if args.reference else None,
    )
    log = logging.getLogger("ccevariants.sheet")
    for row in rows:
        mode = "paired" if row.paired else "tumour-only"
        log.info(
            "%s\t%s\t%s\t%s\t%s", row.patient, row.center, row.tumor_type, mode, (row.vcf or row.maf).name
        )
    log.info("%s: %d patients valid", args.sheet, len(rows))
    return 0
