# Ingest + normalise: caller-aware read support, split, left-align, REF check, de-duplicate (bcftools norm).


rule normalize:
    input:
        calls=get_input_calls,
        fasta=config["reference"]["fasta"],
    output:
        vcf="results/normalized/{patient}.vcf.gz",
        tbi="results/normalized/{patient}.vcf.gz.tbi",
        filtered="results/normalized/{patient}.filtered.tsv",
        stats="results/normalized/{patient}.stats.json",
    params:
        flag=get_input_flag,
        samples=get_sample_args,
        policy=get_normalize_policy,
    log:
        "logs/normalize/{patient}.log",
    benchmark:
        "benchmarks/normalize/{patient}.tsv"
    threads: 2  # pre-pass, bcftools norm and the writer run concurrently
    resources:
        mem_mb=2000,
        runtime=60,  # minutes; a whole-genome VCF (5 M records) normalises in well under this
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "ccev normalize {params.flag} {input.calls} --reference {input.fasta} --output {output.vcf}"
        " {params.samples} {params.policy} --filtered {output.filtered} --stats {output.stats}"
        " --threads {threads} > {log} 2>&1"
