# Cohort view: pooled tables, overview page and a cBioPortal-ready MAF across all patients.


rule cohort:
    input:
        reports=expand("results/reports/{patient}.json", patient=PATIENTS),
    output:
        html=report("results/cohort/index.html", category="Cohort"),
        maf="results/cohort/cohort.maf",
    log:
        "logs/cohort/cohort.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "ccev cohort --reports {input.reports} --outdir results/cohort > {log} 2>&1"
