# Sample sheet loading, validation and input functions. Everything here runs before any job.
import hashlib
import json
import os
from pathlib import Path

from snakemake.utils import validate

from ccevariants import __version__ as CCEV_VERSION
from ccevariants.errors import CcevariantsError
from ccevariants.sheet import load_sheet, tumor_type_codes


validate(config, schema="../schemas/config.schema.yaml")


def _generate_demo_if_requested():
    demo = config["demo"]
    if demo["generate"] and not Path(demo["outdir"], "samples.tsv").exists():
        from ccevariants.demo import write_demo

        logger.info(f"ccevariants: writing the synthetic demo data to {demo['outdir']}")
        write_demo(Path(demo["outdir"]), seed=demo["seed"])


def _load_samples():
    import pandas as pd

    try:
        rows = load_sheet(
            config["samples"],
            known_tumor_types=tumor_type_codes(config["oncotree"]),
            reference_fai=config["reference"]["fasta"] + ".fai",
        )
    except CcevariantsError as exc:
        raise WorkflowError(f"invalid sample sheet: {exc}") from None
    table = pd.DataFrame([row.as_dict() for row in rows]).fillna("").astype(str)
    # Structural checks (columns, patterns, enums) expressed as a JSON schema, validated per row.
    present = [c for c in table.columns if (table[c] != "").any() or c in ("patient", "sample", "center", "tumor_type")]
    validate(table[present], schema="../schemas/samples.schema.yaml")
    return {row.patient: row for row in rows}


_generate_demo_if_requested()
SAMPLES = _load_samples()
PATIENTS = sorted(SAMPLES)

# Provenance: a hash of the effective configuration, printed in every report.
CONFIG_HASH = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]

# Numba's compile cache is shared by all jobs (each job would otherwise pay the compile).
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(config["numba_cache_dir"]).resolve()))
# Parsed transcript indexes are cached by checksum of the annotation file (ccevariants.transcripts).
os.environ.setdefault("CCEV_CACHE_DIR", str(Path(config["cache_dir"]).resolve()))


wildcard_constraints:
    patient="|".join(PATIENTS) if PATIENTS else "[^/]+",


logger.info(f"ccevariants {CCEV_VERSION}: {len(PATIENTS)} patients, config hash {CONFIG_HASH}")


def _row(wildcards):
    return SAMPLES[wildcards.patient]


def get_input_calls(wildcards):
    row = _row(wildcards)
    return str(row.vcf if row.vcf is not None else row.maf)


def get_tumor_type(wildcards):
    return _row(wildcards).tumor_type


def get_input_flag(wildcards):
    return "--input" if _row(wildcards).vcf is not None else "--maf"


def get_sample_args(wildcards):
    row = _row(wildcards)
    args = []
    if row.tumor_sample:
        args += ["--tumor-sample", row.tumor_sample]
    if row.normal_sample:
        args += ["--normal-sample", row.normal_sample]
    return " ".join(f"'{a}'" for a in args)


def get_normalize_policy(wildcards):
    policy = config["normalize"]
    args = [f"--min-depth {policy['min_depth']}", f"--min-vaf {policy['min_vaf']}"]
    if not policy["pass_only"]:
        args.append("--keep-nonpass")
    if policy["tag_map"]:
        args.append(f"--tag-map '{policy['tag_map']}'")
    return " ".join(args)


def get_biomarker_inputs(wildcards):
    row = _row(wildcards)
    inputs = {"variants": f"results/annotated/{wildcards.patient}.parquet"}
    for key in ("cnv", "sv_vcf", "callable_bed", "bam", "normal_bam"):
        value = getattr(row, key)
        if value is not None:
            inputs[key] = str(value)
    return inputs


def get_biomarker_args(wildcards, input):
    row = _row(wildcards)
    args = []
    if "cnv" in input.keys():
        args.append(f"--cnv '{input.cnv}'")
    if "sv_vcf" in input.keys():
        args.append(f"--sv-vcf '{input.sv_vcf}'")
    if "callable_bed" in input.keys():
        args.append(f"--callable-bed '{input.callable_bed}'")
    if "bam" in input.keys():
        args.append(f"--bam '{input.bam}'")
        if "normal_bam" in input.keys():
            args.append(f"--normal-bam '{input.normal_bam}'")
        elif config["biomarkers"]["msi_baseline"]:
            args.append(f"--msi-baseline '{config['biomarkers']['msi_baseline']}'")
    if row.assay:
        args.append(f"--assay {row.assay}")
        size = config["biomarkers"]["callable_mb"].get(row.assay)
        if size and "callable_bed" not in input.keys():
            args.append(f"--callable-mb {size}")
    if row.purity is not None:
        args.append(f"--purity {row.purity}")
    if not row.paired:
        args.append("--tumor-only")
    return " ".join(args)


def get_report_args(wildcards):
    args = [f"--config-hash {CONFIG_HASH}", f"--genome-build '{config['reference']['build']}'"]
    if config["oncotree"]:
        args.append(f"--oncotree '{config['oncotree']}'")
    if config["report"]["fixed_date"]:
        args.append(f"--fixed-date {config['report']['fixed_date']}")
    return " ".join(args)


def get_oncotree_arg(wildcards):
    return f"--oncotree '{config['oncotree']}'" if config["oncotree"] else ""


def get_kb_sources(wildcards):
    args = [f"--source '{s}'" for s in config["kb"]["sources"]]
    if config["kb"]["strict"]:
        args.append("--strict")
    if config["kb"]["aliases"]:
        args.append(f"--aliases '{config['kb']['aliases']}'")
    if config["oncotree"]:
        args.append(f"--oncotree '{config['oncotree']}'")
    return " ".join(args)


def get_match_callable_arg(wildcards):
    """Callable BED for the matcher: wild-type requirements need proof that the loci were assessable."""
    bed = _row(wildcards).callable_bed
    return f"--callable-bed '{bed}'" if bed is not None else ""


def get_genome_build_arg(wildcards):
    build = config["reference"]["build"]
    return f"--genome-build {build}" if build in ("GRCh37", "GRCh38") else ""


def get_final_outputs():
    outputs = []
    for patient in PATIENTS:
        outputs += [f"results/reports/{patient}.{ext}" for ext in ("html", "json", "tsv")]
    outputs += ["results/cohort/index.html", "results/cohort/cohort.maf"]
    return outputs
