# ccevariants: per-patient variant calls → normalisation → annotation → biomarkers → KB matching/tiering →
# molecular tumour board report; per cohort: pooled tables and an overview page.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/normalize.smk"
include: "workflow/rules/annotate.smk"
include: "workflow/rules/biomarkers.smk"
include: "workflow/rules/match.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/cohort.smk"


rule all:
    input:
        get_final_outputs(),
    default_target: True
