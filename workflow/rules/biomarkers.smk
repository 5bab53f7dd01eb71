# Biomarkers: TMB, MSI, copy number and fusions.


rule biomarkers:
    input:
        unpack(get_biomarker_inputs),
        fasta=config["reference"]["fasta"],
        annotation=config["reference"]["annotation"],
        kb="results/kb/snapshot.json",
    output:
        "results/biomarkers/{patient}.json",
    params:
        extra=get_biomarker_args,
        tumor_type=get_tumor_type,
        oncotree=get_oncotree_arg,
    log:
        "logs/biomarkers/{patient}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/ccevariants.yaml"
    shell:
        "ccev biomarkers --variants {input.variants} --annotation {input.annotation} --reference {input.fasta}"
        " --tumor-type {params.tumor_type} --kb {input.kb} {params.oncotree} {params.extra} --output {output} > {log} 2>&1"
