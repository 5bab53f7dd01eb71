# Match alterations and biomarkers against the knowledge-base snapshot; tier with ESCAT and AMP/ASCO/CAP.


rule match:
    input:
        variants="results/annotated/{patient}.parquet",
        biomarkers="results/biomarkers/{patient}.json",
        kb="results/kb/snapshot.json",
        annotation=config["reference"]["annotation"],
    output:
        "results/matches/{patient}.json",
    params:
        tumor_type=get_tumor_type,
        oncotree=get_oncotree_arg,
        build=get_genome_build_arg,
        callable=get_match_callable_arg,
    log:
        "logs/match/{patient}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "ccev match --patient {wildcards.patient} --variants {input.variants} --biomarkers {input.biomarkers}"
        " --tumor-type {params.tumor_type} --kb {input.kb} {params.oncotree} {params.build}"
        " --annotation {input.annotation} {params.callable} --output {output} > {log} 2>&1"
