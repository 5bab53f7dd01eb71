# Per-patient molecular tumour board report: self-contained HTML, schema-validated JSON, TSV.


rule report:
    input:
        sheet=config["samples"],
        matches="results/matches/{patient}.json",
        variants="results/annotated/{patient}.parquet",
        biomarkers="results/biomarkers/{patient}.json",
        stats="results/normalized/{patient}.stats.json",
        filtered="results/normalized/{patient}.filtered.tsv",
        kb="results/kb/snapshot.json",
        fasta=config["reference"]["fasta"],
        annotation=config["reference"]["annotation"],
    output:
        html=report(
            "results/reports/{patient}.html",
            category="Per-patient reports",
            labels={"patient": "{patient}", "type": "molecular report"},
        ),
        json="results/reports/{patient}.json",
        tsv="results/reports/{patient}.tsv",
    params:
        extra=get_report_args,
    log:
        "logs/report/{patient}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "ccev report --patient {wildcards.patient} --sheet {input.sheet} --matches {input.matches}"
        " --variants {input.variants} --biomarkers {input.biomarkers} --normalize-stats {input.stats}"
        " --filtered {input.filtered} --kb {input.kb} --reference {input.fasta} --annotation {input.annotation}"
        " {params.extra} --outdir results/reports > {log} 2>&1"
