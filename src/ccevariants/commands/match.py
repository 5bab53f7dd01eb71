"""Match a patient's variants and biomarkers against a knowledge-base snapshot and tier them (ESCAT, AMP).

Writes matches.json (schema matches.schema.json). With --previous, adds a 'changes' section listing
findings that are new, removed or re-tiered compared with an earlier matches.json.
"""

from __future__ import annotations

import argparse

HELP = "match variants and biomarkers to the knowledge base; ESCAT/AMP tiering"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", required=True, help="annotated Parquet table (ccev annotate --table)")
    parser.add_argument("--biomarkers", required=True, help="biomarkers.json (ccev biomarkers)")
    parser.add_argument("--tumor-type", required=True, help="patient's OncoTree code, e.g. LUAD")
    parser.add_argument("--kb", required=True, help="knowledge-base snapshot JSON (ccev kb build)")
    parser.add_argument("--output", required=True, help="matches.json to write")
    parser.add_argument("--patient", default="", help="patient identifier written into the output")
    parser.add_argument("--oncotree", help="OncoTree release JSON (default: the bundled subset)")
    parser.add_argument(
        "--genome-build",
        choices=["GRCh37", "GRCh38"],
        help="build of the variant coordinates (enables genomic-key matching)",
    )
    parser.add_argument("--previous", help="an earlier matches.json of this patient: report what changed")
    parser.add_argument(
        "--callable-bed",
        help="the sample's callable region (BED): with --annotation, confirms that the codons a wild-type "
        "requirement names (RAS wild-type) were assessable when biomarkers.json has no coverage data",
    )
    parser.add_argument(
        "--annotation", help="GFF3/GTF used to place wild-type codons on the genome (with --callable-bed)"
    )


def run(args: argparse.Namespace) -> int:
    import logging

    from .. import __version__
    from .._io import read_json, write_json
    from ..kb.snapshot import load_snapshot
    from ..match import compare_matches, match_patient, read_variants, validate_matches
    from ..oncotree import OncoTree

    log = logging.getLogger("ccevariants.match")
    log.info(
        "ccevariants %s: match patient %r (%s); variants %s, biomarkers %s, kb %s",
        __version__,
        args.patient,
        args.tumor_type,
        args.variants,
        args.biomarkers,
        args.kb,
    )
    snapshot = load_snapshot(args.kb)
    log.info("KB snapshot %s %s (content hash %s)", snapshot.name, snapshot.version, snapshot.content_hash)
    tree = OncoTree.load(args.oncotree) if args.oncotree else OncoTree.load()
    table = read_variants(args.variants)
    regions = annotation = None
    if args.callable_bed:
        from ..biomarkers._regions import read_bed

        regions = read_bed(args.callable_bed)
    if args.annotation:
        from ..transcripts import load_annotation

        annotation = load_annotation(args.annotation)
    biomarkers = read_json(args.biomarkers)
    document = match_patient(
        table,
        biomarkers,
        args.tumor_type,
        snapshot,
        args.patient,
        oncotree=tree,
        genome_build=args.genome_build,
        variants_source=args.variants,
        biomarkers_source=args.biomarkers,
        callable_regions=regions,
        annotation=annotation,
    )
    if args.previous:
        document["changes"] = compare_matches(read_json(args.previous), document)
    validate_matches(document)
    write_json(args.output, document)
    log.info(
        "%s: %d findings, %d unmatched", args.output, len(document["findings"]), len(document["unmatched"])
    )
    return 0
