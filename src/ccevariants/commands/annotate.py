"""``ccev annotate``: consequence annotation (VCF with CSQ + Parquet table)."""

from __future__ import annotations

HELP = "annotate variants with consequences, HGVS and the reporting transcript (VCF CSQ + Parquet)"


def add_arguments(parser) -> None:
    parser.add_argument("--input", required=True, help="normalised VCF (bgzip or plain)")
    parser.add_argument("--reference", required=True, help="reference FASTA (indexed or indexable)")
    parser.add_argument("--annotation", required=True, help="GFF3 or GTF (Ensembl/GENCODE; plain or gzip)")
    parser.add_argument("--output", required=True, help="output VCF (.vcf.gz, bgzipped and tabix-indexed)")
    parser.add_argument(
        "--table",
        default=None,
        help="output Parquet table (one row per variant x transcript); omitted: the VCF only",
    )
    parser.add_argument(
        "--pick-order",
        default="mane,canonical,length",
        help="reporting-transcript criteria in order (default: mane,canonical,length)",
    )
    parser.add_argument(
        "--distance",
        type=int,
        default=None,
        help="report variants up to this many bases from a transcript as upstream/downstream_gene_variant"
        " (VEP's --distance; default 5000; 0: none)",
    )
    parser.add_argument("--chunk-size", type=int, default=20000, help="records per batch (bounded memory)")
    parser.add_argument("--cache-dir", default=None, help="transcript-index cache directory")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="cores to use (default: $CCEV_THREADS, else 1; the workflow rule passes its threads): 1 or 2"
        " annotate chunks on that many threads of this process; from 3, threads - 1 worker processes"
        " annotate chunks in parallel; output does not depend on it",
    )


def run(args) -> int:
    from .. import annotate
    from .._numba import requested_threads

    if args.threads is not None and args.threads < 1:
        from ..errors import ConfigError

        raise ConfigError(f"expected --threads >= 1; found {args.threads}")
    order = annotate.parse_pick_order(args.pick_order)
    if args.chunk_size < 1:
        from ..errors import ConfigError

        raise ConfigError(f"expected --chunk-size >= 1; found {args.chunk_size}")
    if args.distance is not None and args.distance < 0:
        from ..errors import ConfigError

        raise ConfigError(f"expected --distance >= 0; found {args.distance}")
    annotate.annotate_vcf(
        args.input,
        args.reference,
        args.annotation,
        args.output,
        args.table,
        pick_order=order,
        chunk_size=args.chunk_size,
        cache_dir=args.cache_dir,
        distance=annotate.FLANK if args.distance is None else args.distance,
        threads=requested_threads(args.threads),
    )
    return 0
