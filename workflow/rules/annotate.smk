# Consequence annotation with the Numba engine: CSQ INFO field + columnar table.


rule annotate:
    input:
        vcf="results/normalized/{patient}.vcf.gz",
        fasta=config["reference"]["fasta"],
        annotation=config["reference"]["annotation"],
    output:
        vcf="results/annotated/{patient}.vcf.gz",
        tbi="results/annotated/{patient}.vcf.gz.tbi",
        table="results/annotated/{patient}.parquet",
    params:
        pick=",".join(config["annotate"]["pick_order"]),
        distance=config["annotate"]["distance"],
    log:
        "logs/annotate/{patient}.log",
    benchmark:
        "benchmarks/annotate/{patient}.tsv"
    threads: 2
    resources:
        mem_mb=2000,  # streaming in chunks; the transcript index of a full GENCODE release is ~300 MB
        runtime=60,
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "CCEV_THREADS={threads} ccev annotate --input {input.vcf} --reference {input.fasta}"
        " --annotation {input.annotation} --output {output.vcf} --table {output.table}"
        " --pick-order {params.pick} --distance {params.distance} > {log} 2>&1"
