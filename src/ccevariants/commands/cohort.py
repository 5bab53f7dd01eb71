"""Pool per-patient report JSONs into a cohort: overview page (index.html), pooled variants/findings/
biomarkers tables (TSV + Parquet) and a cBioPortal study (cohort.maf, data_clinical_*.txt, meta_*.txt)."""

from __future__ import annotations

HELP = "pool report JSONs into cohort tables, an overview page and a cBioPortal study"


def add_arguments(parser):
    parser.add_argument(
        "--reports", nargs="+", required=True, help="report JSON files written by `ccev report`"
    )
    parser.add_argument("--outdir", required=True, help="output directory")
    parser.add_argument("--study-id", default="ccev_cohort", help="cBioPortal cancer_study_identifier")
    parser.add_argument("--study-name", default="ccevariants cohort", help="cBioPortal study name")


def run(args) -> int:
    from ..cohort import build_cohort

    build_cohort(args.reports, args.outdir, study_id=args.study_id, study_name=args.study_name)
    return 0
