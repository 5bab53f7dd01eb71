"""Compute tumour biomarkers — TMB, MSI (VCF-based estimate), copy-number alterations and fusions —
from the annotated variant table and optional CNV / SV / fusion files; writes biomarkers.json."""

from __future__ import annotations

HELP = "TMB, MSI estimate, copy-number alterations and fusions → biomarkers.json"


def add_arguments(parser):
    parser.add_argument(
        "--variants", required=True, help="annotated variant table (Parquet, from ccev annotate)"
    )
    parser.add_argument("--output", required=True, help="biomarkers JSON to write")
    parser.add_argument(
        "--annotation", help="GFF3/GTF: gene models for CNA gene calls, fusions, CDS territory"
    )
    parser.add_argument("--reference", help="reference FASTA (repeat context for MSI; BED contig check)")
    parser.add_argument(
        "--cnv",
        help="copy number: simple TSV, PCGR, ASCAT, CNVkit, PURPLE, Sequenza, FACETS, GATK seg, CNV VCF",
    )
    parser.add_argument("--sv-vcf", help="structural-variant VCF (Manta, Delly, GRIDSS)")
    parser.add_argument("--fusions", help="fusion table (Arriba, STAR-Fusion, FusionCatcher, PCGR-style)")
    parser.add_argument("--assay", choices=("panel", "wes", "wgs"), help="assay type")
    parser.add_argument("--callable-bed", help="callable regions (BED, 0-based half-open)")
    parser.add_argument("--callable-mb", type=float, help="declared callable coding megabases for TMB")
    parser.add_argument(
        "--purity", type=float, help="tumour purity in (0, 1] (adjusts log2-ratio copy numbers: CNVkit, GATK)"
    )
    parser.add_argument(
        "--tumor-only", action="store_true", help="no matched normal: exclude likely germline from TMB"
    )
    parser.add_argument("--tumor-sample", help="tumour sample name in the SV VCF (default: guessed)")
    parser.add_argument(
        "--bam", help="tumour BAM/CRAM (indexed): per-gene CDS coverage for pertinent negatives"
    )
    parser.add_argument(
        "--coverage-genes",
        help="comma-separated genes for --bam coverage (default: callable-BED genes, else all)",
    )
    parser.add_argument(
        "--coverage-min-fraction",
        type=float,
        default=0.95,
        help="fraction of a locus' bases at the minimum depth for 'adequate' coverage (default 0.95)",
    )
    parser.add_argument(
        "--coverage-min-depth",
        type=int,
        help="minimum depth for 'adequate' coverage (default by assay: panel 100, wes 50, wgs 20)",
    )
    parser.add_argument(
        "--tumor-type",
        help="patient's OncoTree code: coverage is assessed over the loci standard for this tumour type",
    )
    parser.add_argument("--oncotree", help="OncoTree release JSON (default: the bundled tree)")
    parser.add_argument(
        "--kb", help="KB snapshot JSON: its codon/variant/exon/wild-type loci join the coverage assessment"
    )
    parser.add_argument(
        "--normal-bam", help="matched normal BAM/CRAM (indexed): paired MSI from reads (needs --bam)"
    )
    parser.add_argument(
        "--msi-baseline",
        help="baseline JSON of normals from 'ccev msi baseline': tumour-only MSI from reads (needs --bam)",
    )
    parser.add_argument(
        "--msi-regions", help="BED of the MSI sites to scan (paired; default: --callable-bed, else all)"
    )
    parser.add_argument(
        "--msi-min-sites", type=int, help="evaluable microsatellites needed for an MSI call (default 30)"
    )
    parser.add_argument(
        "--protein-domains", help="kinase-domain TSV (gene start end [name], amino acids) for fusions"
    )
    parser.add_argument(
        "--tmb-threshold", type=float, default=10.0, help="TMB-high threshold, mut/Mb (default 10)"
    )
    parser.add_argument(
        "--amp-threshold", type=float, default=6.0, help="amplification copy number (default 6)"
    )
    parser.add_argument(
        "--del-threshold", type=float, default=0.5, help="deletion copy number below (default 0.5)"
    )


def run(args) -> int:
    import logging

    from ..biomarkers import compute_biomarkers

    lineage = statements = None
    if args.tumor_type:
        from ..oncotree import OncoTree

        lineage = OncoTree.load(args.oncotree).lineage(args.tumor_type)
    if args.kb:
        from ..kb import load_snapshot

        statements = load_snapshot(args.kb).statements
    doc = compute_biomarkers(
        args.variants,
        args.output,
        annotation=args.annotation,
        reference=args.reference,
        cnv=args.cnv,
        sv_vcf=args.sv_vcf,
        fusions=args.fusions,
        assay=args.assay,
        callable_bed=args.callable_bed,
        callable_mb=args.callable_mb,
        purity=args.purity,
        tumor_only=args.tumor_only,
        tmb_threshold=args.tmb_threshold,
        amp_threshold=args.amp_threshold,
        del_threshold=args.del_threshold,
        tumor_sample=args.tumor_sample,
        protein_domains=args.protein_domains,
        bam=args.bam,
        coverage_genes=[g.strip() for g in args.coverage_genes.split(",") if g.strip()]
        if args.coverage_genes
        else None,
        coverage_min_fraction=args.coverage_min_fraction,
        coverage_min_depth=args.coverage_min_depth,
        lineage=lineage,
        kb_statements=statements,
        normal_bam=args.normal_bam,
        msi_baseline=args.msi_baseline,
        msi_regions=args.msi_regions,
        msi_min_sites=args.msi_min_sites,
    )
    tmb = doc["tmb"]
    logging.getLogger(__name__).info(
        "TMB %s (%s), MSI %s, %d CNA, %d fusions → %s",
        tmb["value"],
        tmb["status"],
        doc["msi"]["status"],
        len(doc["cna"]),
        len(doc["fusions"]),
        args.output,
    )
    return 0
