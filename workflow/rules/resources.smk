# Once-per-run resources: the compiled knowledge-base snapshot.


rule kb_snapshot:
    output:
        "results/kb/snapshot.json",
    params:
        sources=get_kb_sources,
    log:
        "logs/kb/snapshot.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "ccev kb build {params.sources} --output {output} > {log} 2>&1"
