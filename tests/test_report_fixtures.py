"""Builders for report/cohort test inputs in the exact shape of the stage contracts.

All values are synthetic (made up for the tests); genomic positions are 1-based (VCF style).
This module holds no tests; ``test_report*.py`` and ``test_cohort.py`` import it.
"""

from __future__ import annotations

import math

import pandas as pd

HOSTILE = "<script>alert(1)</script>"

VARIANT_DEFAULTS = {
    "filter": "PASS", "t_dp": 100, "t_ad_ref": 70, "t_ad_alt": 30, "n_dp": -1, "n_ad_ref": -1, "n_ad_alt": -1,
    "t_af": 0.3, "n_af": math.nan, "gene": "", "gene_id": "", "transcript": "", "biotype": "", "strand": 0,
    "consequence": "intergenic_variant", "impact": "MODIFIER", "exon": "", "intron": "", "hgvsc": "", "hgvsp": "",
    "hgvsp_short": "", "cds_position": -1, "protein_position": -1, "amino_acids": "", "codons": "", "pick": True,
    "mane": False, "canonical": False,
}  # fmt: skip


def variant_row(chrom, pos, ref, alt, **kw):
    row = dict(VARIANT_DEFAULTS)
    row.update(kw)
    row.update(
        {"variant_id": f"{chrom}:{pos}:{ref}:{alt}", "chrom": chrom, "pos": pos, "ref": ref, "alt": alt}
    )
    return row


def variants_frame(rows):
    columns = ["variant_id", "chrom", "pos", "ref", "alt", *VARIANT_DEFAULTS]
    frame = pd.DataFrame(rows, columns=columns)
    ints = [
        "pos",
        "t_dp",
        "t_ad_ref",
        "t_ad_alt",
        "n_dp",
        "n_ad_ref",
        "n_ad_alt",
        "cds_position",
        "protein_position",
    ]
    for c in ints:
        frame[c] = frame[c].astype("int64")
    frame["strand"] = frame["strand"].astype("int8")
    for c in ("t_af", "n_af"):
        frame[c] = frame[c].astype("float64")
    for c in ("pick", "mane", "canonical"):
        frame[c] = frame[c].astype(bool)
    return frame


def egfr(pos, ref, alt, hgvsc, hgvsp, short, exon, ppos, **kw):
    return variant_row(
        "chr7", pos, ref, alt, gene="EGFR", gene_id="ENSG00000146648", transcript="ENST00000275493",
        biotype="protein_coding", strand=1, impact="MODERATE", exon=exon, hgvsc=hgvsc, hgvsp=hgvsp,
        hgvsp_short=short, protein_position=ppos, mane=True, canonical=True, **kw,
    )  # fmt: skip


def nsclc_variants(sample_gene_id: str = "ENSG00000141510"):
    rows = [
        egfr(55191822, "T", "G", "c.2573T>G", "p.Leu858Arg", "p.L858R", "21/28", 858,
             consequence="missense_variant", t_dp=412, t_ad_ref=284, t_ad_alt=128, t_af=0.3107),
        egfr(55181378, "C", "T", "c.2369C>T", "p.Thr790Met", "p.T790M", "20/28", 790,
             consequence="missense_variant", t_dp=380, t_ad_ref=350, t_ad_alt=30, t_af=0.0789),
        # deletion (VCF pads with the base before): 15 bp in exon 19
        egfr(55174771, "AGGAATTAAGAGAAGC", "A", "c.2235_2249del", "p.Glu746_Ala750del", "p.E746_A750del", "19/28",
             746, consequence="inframe_deletion", t_dp=250, t_ad_ref=200, t_ad_alt=50, t_af=0.2),
        # insertion
        variant_row("chr17", 39724740, "G", "GTACGTGATGGCT", gene="ERBB2", gene_id="ENSG00000141736",
                    transcript="ENST00000269571", biotype="protein_coding", strand=1, impact="MODERATE",
                    consequence="inframe_insertion", exon="20/27", hgvsc="c.2313_2324dup",
                    hgvsp="p.Tyr772_Ala775dup", hgvsp_short="p.Y772_A775dup", protein_position=772,
                    t_dp=90, t_ad_ref=80, t_ad_alt=10, t_af=0.1111, mane=True, canonical=True),
        variant_row("chr17", 7673802, "C", "T", gene="TP53", gene_id=sample_gene_id, transcript="ENST00000269305",
                    biotype="protein_coding", strand=-1, impact="MODERATE", consequence="missense_variant",
                    exon="8/11", hgvsc="c.818G>A", hgvsp="p.Arg273His", hgvsp_short="p.R273H", protein_position=273,
                    t_dp=200, t_ad_ref=96, t_ad_alt=104, t_af=0.52, mane=True, canonical=True),
        variant_row("chr12", 25245300, "G", "A", gene="KRAS", gene_id="ENSG00000133703", transcript="ENST00000311936",
                    biotype="protein_coding", strand=-1, impact="LOW", consequence="synonymous_variant",
                    exon="2/5", hgvsc="c.30C>T", hgvsp="p.Ala10=", hgvsp_short="p.A10=", protein_position=10,
                    t_dp=15, t_ad_ref=10, t_ad_alt=5, t_af=0.3333, mane=True, canonical=True),
        variant_row("chr1", 1000000, "A", "C", t_dp=60, t_ad_ref=40, t_ad_alt=20, t_af=0.3333),
    ]  # fmt: skip
    # a non-pick row (second transcript) must not produce a second variant
    extra = dict(rows[0])
    extra.update({"transcript": "ENST00000455089", "pick": False, "mane": False, "canonical": False})
    rows.append(extra)
    return variants_frame(rows)


def finding(fid, gene, alteration, variant_id, effect, therapies, escat, amp_tier, ema, fda, **kw):
    f = {
        "finding_id": fid, "gene": gene, "alteration": alteration, "category": "variant", "variant_id": variant_id,
        "match_type": "exact", "effect": effect, "therapies": therapies, "escat": escat, "amp_tier": amp_tier,
        "amp_level": "A" if amp_tier == "I" else "C", "on_label": {"EMA": ema, "FDA": fda}, "disease_match": "same",
        "evidence": {"source": "ccev-curated", "statement_id": f"S-{fid}", "native_level": "A",
                     "references": ["PMID:19692680", "NCT00446225"]},
        "trace": [f"statement S-{fid} matched exact on chr7", "ESCAT set by rule approved_same_tumour"],
    }  # fmt: skip
    f.update(kw)
    return f


def nsclc_matches(patient="P001"):
    return {
        "patient": patient,
        "tumor_type": {"code": "LUAD", "name": "Lung Adenocarcinoma", "lineage": ["TISSUE", "LUNG", "NSCLC", "LUAD"]},
        "kb": {"name": "ccev-curated", "version": "2026.11", "content_hash": "a" * 64},
        "findings": [
            finding("F3", "EGFR", "T790M", "chr7:55181378:C:T", "resistance", ["gefitinib"], "I-A", "I", True, True),
            finding("F1", "EGFR", "L858R", "chr7:55191822:T:G", "sensitivity", ["osimertinib"], "I-A", "I", True, True),
            finding("F2", "EGFR", "E746_A750del", "chr7:55174771:AGGAATTAAGAGAAGC:A", "sensitivity", ["erlotinib"],
                    "I-A", "I", True, True, match_type="exon"),
            finding("F4", "ERBB2", "Y772_A775dup", "chr17:39724740:G:GTACGTGATGGCT", "sensitivity",
                    ["trastuzumab deruxtecan"], "II-B", "I", False, True,
                    trace=[f"trace with hostile text {HOSTILE}"]),
            finding("F5", "TMB", "TMB-high", None, "sensitivity", ["pembrolizumab"], "I-C", "I", False, True,
                    category="biomarker", match_type="characteristic", disease_match="pan_cancer"),
        ],
        "unmatched": [{"variant_id": "chr17:7673802:C:T", "gene": "TP53", "alteration": "R273H",
                       "reason": "no knowledge-base statement for TP53 R273H"}],
    }  # fmt: skip


def biomarkers(tmb=12.5, status="high"):
    return {
        "tmb": {"value": tmb, "eligible_variants": 25, "callable_mb": 2.0, "callable_source": "assay",
                "definition": "non-synonymous coding SNVs and indels, VAF >= 0.05, per callable Mb", "threshold": 10.0,
                "status": status},
        "msi": {"status": "not_assessable", "score": None, "method": "", "sites": None},
        "cna": [{"gene": "MET", "alteration": "amplification", "copy_number": 8.2, "chrom": "chr7",
                 "start": 116672196, "end": 116798377}],
        "fusions": [],
    }  # fmt: skip


def sheet_row(patient="P001", sample=HOSTILE, **kw):
    row = {
        "patient": patient, "sample": sample, "center": "Centre-A", "tumor_type": "LUAD", "vcf": "vcf/x.vcf", "maf": "",
        "tumor_sample": "TUMOR", "normal_sample": "", "bam": "", "sv_vcf": "", "cnv": "cnv/x.tsv", "purity": "0.6",
        "assay": "panel", "callable_bed": "",
    }  # fmt: skip
    row.update(kw)
    return row


def normalize_stats():
    return {"records_in": 12, "records_out": 7, "removed": {"non_pass": 3, "duplicate": 2}, "caller": "mutect2",
            "tumor_sample": "TUMOR", "normal_sample": None, "multiallelic_split": 1, "realigned": 2}  # fmt: skip


def filtered_frame():
    return pd.DataFrame(
        {
            "chrom": ["chr7", "chr1", "chr2", "chr2", "chr3"],
            "pos": [100, 200, 300, 300, 400],
            "ref": ["A", "C", "G", "G", "T"],
            "alt": ["T", "G", "A", "A", "C"],
            "filter": ["weak_evidence", HOSTILE, "PASS", "PASS", "germline"],
            "reason": ["non_pass", "non_pass", "duplicate", "duplicate", "non_pass"],
        }
    ).astype({"pos": "int64"})


def write_inputs(directory, patient="P001", sample=HOSTILE):
    """Write the inputs as the stages would (sheet TSV, Parquet, JSONs, filtered TSV); return the paths."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    row = sheet_row(patient, sample)
    sheet = directory / "samples.tsv"
    sheet.write_text("\t".join(row) + "\n" + "\t".join(row.values()) + "\n", encoding="utf-8")
    paths = {
        "sheet": sheet,
        "matches": directory / "matches.json",
        "variants": directory / "annotated.parquet",
        "biomarkers": directory / "biomarkers.json",
        "stats": directory / "stats.json",
        "filtered": directory / "filtered.tsv",
    }
    paths["matches"].write_text(json.dumps(nsclc_matches(patient)), encoding="utf-8")
    nsclc_variants().to_parquet(paths["variants"], index=False)
    paths["biomarkers"].write_text(json.dumps(biomarkers()), encoding="utf-8")
    paths["stats"].write_text(json.dumps(normalize_stats()), encoding="utf-8")
    filtered_frame().to_csv(paths["filtered"], sep="\t", index=False)
    return paths
