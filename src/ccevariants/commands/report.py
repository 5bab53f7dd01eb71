"""Write the per-patient molecular tumour board report: {P}.html (self-contained), {P}.json
(schema report.schema.json) and {P}.tsv, from the outputs of the earlier stages."""

from __future__ import annotations

HELP = "write the molecular tumour board report (HTML, JSON, TSV) for one patient"


def add_arguments(parser):
    parser.add_argument("--patient", required=True, help="patient ID (a row of the sample sheet)")
    parser.add_argument("--sheet", required=True, help="sample sheet TSV (contracts section 1)")
    parser.add_argument("--matches", required=True, help="matches.json from `ccev match`")
    parser.add_argument("--variants", required=True, help="annotated Parquet table from `ccev annotate`")
    parser.add_argument("--biomarkers", required=True, help="biomarkers.json from `ccev biomarkers`")
    parser.add_argument("--normalize-stats", help="stats JSON from `ccev normalize --stats`")
    parser.add_argument("--filtered", help="filtered-records TSV from `ccev normalize --filtered`")
    parser.add_argument("--kb", help="KB snapshot JSON (its manifest goes into the provenance)")
    parser.add_argument("--previous", help="an earlier {P}.json: list what changed since it")
    parser.add_argument(
        "--config-hash", help="hash of the workflow configuration, recorded in the provenance"
    )
    parser.add_argument("--reference", help="reference FASTA (name and checksum recorded)")
    parser.add_argument(
        "--annotation", help="GFF3/GTF transcript set (name, checksum, genome build recorded)"
    )
    parser.add_argument(
        "--genome-build", help="genome build, e.g. GRCh38 (default: from the annotation header)"
    )
    parser.add_argument("--oncotree", help="OncoTree JSON used for matching (release recorded)")
    parser.add_argument("--oncotree-release", help="OncoTree release name (overrides --oncotree)")
    parser.add_argument(
        "--synthetic", action="store_true", help="mark the report as made from synthetic data"
    )
    parser.add_argument("--outdir", required=True, help="output directory")
    parser.add_argument(
        "--fixed-date", help="run date YYYY-MM-DD (default: today, UTC) for reproducible output"
    )


def run(args) -> int:
    from .._io import read_json
    from ..report import write_report
    from ..report.inputs import read_filtered, read_sheet_row, read_variants
    from ..report.provenance import collect

    row = read_sheet_row(args.sheet, args.patient)
    matches = read_json(args.matches)
    biomarkers = read_json(args.biomarkers)
    variants = read_variants(args.variants)
    stats = read_json(args.normalize_stats) if args.normalize_stats else None
    filtered = read_filtered(args.filtered) if args.filtered else None
    previous = read_json(args.previous) if args.previous else None
    provenance = collect(args)
    write_report(
        args.patient,
        row,
        matches,
        variants,
        biomarkers,
        stats,
        filtered,
        args.outdir,
        provenance=provenance,
        fixed_date=args.fixed_date,
        previous=previous,
        input_paths={
            "matches": args.matches,
            "biomarkers": args.biomarkers,
            "variants": args.variants,
            "previous": args.previous,
        },
    )
    return 0
