"""Cohort view: pool per-patient report JSONs into tables, an overview page and a cBioPortal study.

``build_cohort(report_jsons, outdir)`` writes into ``outdir``:

* ``index.html`` — self-contained overview (inline SVG oncoprint of actionable alterations, counts by
  tier / centre / tumour type, TMB distribution);
* ``variants.tsv/.parquet``, ``findings.tsv/.parquet``, ``biomarkers.tsv/.parquet`` — pooled tables with
  patient, sample, centre and tumour type;
* ``cohort.maf`` (MAF 2.4 columns, MAF coordinate conventions), ``data_clinical_patient.txt``,
  ``data_clinical_sample.txt``, ``meta_study.txt``, ``meta_mutations.txt``, ``meta_clinical_patient.txt``,
  ``meta_clinical_sample.txt`` and ``case_lists/cases_sequenced.txt`` — a cBioPortal study folder.

Positions in the pooled tables are VCF-style 1-based; MAF positions follow the MAF convention
(1-based inclusive; insertions span the two flanking bases, deletions the deleted bases).
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import Any

from ._io import atomic_path, atomic_write, read_json
from .errors import InputError

log = logging.getLogger(__name__)

MAF_COLUMNS = (
    "Hugo_Symbol", "Entrez_Gene_Id", "Center", "NCBI_Build", "Chromosome", "Start_Position", "End_Position",
    "Strand", "Variant_Classification", "Variant_Type", "Reference_Allele", "Tumor_Seq_Allele1",
    "Tumor_Seq_Allele2", "dbSNP_RS", "dbSNP_Val_Status", "Tumor_Sample_Barcode", "Matched_Norm_Sample_Barcode",
    "Match_Norm_Seq_Allele1", "Match_Norm_Seq_Allele2", "Mutation_Status", "HGVSc", "HGVSp", "HGVSp_Short",
    "Transcript_ID", "Exon_Number", "t_depth", "t_ref_count", "t_alt_count", "n_depth", "n_ref_count",
    "n_alt_count", "Consequence", "IMPACT", "ccev_AMP_Tier", "ccev_ESCAT",
)  # fmt: skip

#: Sequence Ontology term -> MAF Variant_Classification (the mapping used by vcf2maf / GDC MAF spec).
SO_TO_MAF = {
    "transcript_ablation": "Splice_Site", "exon_loss_variant": "Splice_Site",
    "splice_acceptor_variant": "Splice_Site", "splice_donor_variant": "Splice_Site",
    "stop_gained": "Nonsense_Mutation", "stop_lost": "Nonstop_Mutation",
    "start_lost": "Translation_Start_Site", "initiator_codon_variant": "Translation_Start_Site",
    "inframe_insertion": "In_Frame_Ins", "disruptive_inframe_insertion": "In_Frame_Ins",
    "inframe_deletion": "In_Frame_Del", "disruptive_inframe_deletion": "In_Frame_Del",
    "missense_variant": "Missense_Mutation", "coding_sequence_variant": "Missense_Mutation",
    "conservative_missense_variant": "Missense_Mutation", "rare_amino_acid_variant": "Missense_Mutation",
    "transcript_amplification": "Intron", "intron_variant": "Intron", "intragenic_variant": "Intron",
    "splice_region_variant": "Splice_Region", "splice_donor_5th_base_variant": "Splice_Region",
    "splice_donor_region_variant": "Splice_Region", "splice_polypyrimidine_tract_variant": "Splice_Region",
    "incomplete_terminal_codon_variant": "Silent", "synonymous_variant": "Silent",
    "stop_retained_variant": "Silent", "start_retained_variant": "Silent", "NMD_transcript_variant": "Silent",
    "mature_miRNA_variant": "RNA", "exon_variant": "RNA", "non_coding_exon_variant": "RNA",
    "non_coding_transcript_exon_variant": "RNA", "non_coding_transcript_variant": "RNA",
    "5_prime_UTR_variant": "5'UTR", "5_prime_UTR_premature_start_codon_gain_variant": "5'UTR",
    "3_prime_UTR_variant": "3'UTR", "upstream_gene_variant": "5'Flank", "downstream_gene_variant": "3'Flank",
    "TF_binding_site_variant": "IGR", "regulatory_region_variant": "IGR", "intergenic_variant": "IGR",
}  # fmt: skip

_CBIO_ID = re.compile(r"[^A-Za-z0-9._-]")
#: Genes drawn in the oncoprint (the most frequently altered; the matrix data keep all of them).
MAX_ONCOPRINT_GENES = 40
ACTIONABLE_ESCAT = ("I-A", "I-B", "I-C", "II-A", "II-B", "III-A", "III-B")


# --------------------------------------------------------------------------------------------------
# MAF conversion


def maf_alleles(pos: int, ref: str, alt: str) -> tuple[int, int, str, str, str]:
    """VCF allele (1-based ``pos``) -> MAF ``(start, end, ref, alt, variant_type)``.

    Shared leading bases (the VCF padding base) are removed, then shared trailing bases. Insertions
    get ``ref='-'`` and span the two flanking bases (start = base before the insertion, end = start+1);
    deletions get ``alt='-'`` and span the deleted bases; substitutions span the substituted bases.
    """
    ref, alt = ref.upper(), alt.upper()
    full_ref = ref
    prefix = 0
    while prefix < min(len(ref), len(alt)) and ref[prefix] == alt[prefix]:
        prefix += 1
    ref, alt, start = ref[prefix:], alt[prefix:], pos + prefix
    suffix = 0
    while suffix < min(len(ref), len(alt)) and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    if suffix:
        ref, alt = ref[: len(ref) - suffix], alt[: len(alt) - suffix]
    if not ref and not alt:
        raise ValueError(f"REF and ALT are identical at {pos}")
    if not ref and start == 1:
        # an insertion before the first base of the contig has no left flank: keep the base after it
        ref, alt = full_ref[prefix : prefix + 1], alt + full_ref[prefix : prefix + 1]
    if not ref:
        return start - 1, start, "-", alt, "INS"
    end = start + len(ref) - 1
    if not alt:
        return start, end, ref, "-", "DEL"
    if len(ref) == len(alt):
        vtype = {1: "SNP", 2: "DNP", 3: "TNP"}.get(len(ref), "ONP")
    else:
        vtype = "INS" if len(alt) > len(ref) else "DEL"
    return start, end, ref, alt, vtype


def variant_classification(consequence: str, variant_type: str, ref: str, alt: str) -> str:
    """MAF Variant_Classification from the most severe SO term (first of ``&``-joined terms)."""
    term = (consequence or "").split("&")[0]
    if term == "frameshift_variant":
        return "Frame_Shift_Ins" if variant_type == "INS" else "Frame_Shift_Del"
    if term == "protein_altering_variant":
        inframe = abs(len(ref.strip("-")) - len(alt.strip("-"))) % 3 == 0
        if variant_type == "INS":
            return "In_Frame_Ins" if inframe else "Frame_Shift_Ins"
        if variant_type == "DEL":
            return "In_Frame_Del" if inframe else "Frame_Shift_Del"
        return "Missense_Mutation"
    return SO_TO_MAF.get(term, "Targeted_Region")


def ncbi_build(build: str | None) -> str:
    b = (build or "").upper()
    if "38" in b:
        return "GRCh38"
    if "37" in b or "19" in b:
        return "GRCh37"
    return build or "NA"


def maf_chrom(chrom: str) -> str:
    name = chrom[3:] if chrom.lower().startswith("chr") else chrom
    return "MT" if name.upper() == "M" else name


def cbio_id(text: str) -> str:
    """An identifier cBioPortal accepts (letters, digits, '.', '_', '-')."""
    return _CBIO_ID.sub("_", text) or "NA"


# --------------------------------------------------------------------------------------------------
# loading


def load_reports(report_jsons) -> list[dict]:
    """Read and validate report documents (paths or dicts); patients must be unique."""
    from .report import validate_document

    docs = []
    seen: dict[str, str] = {}
    for item in report_jsons:
        where = str(item) if not isinstance(item, dict) else "report"
        doc = item if isinstance(item, dict) else read_json(item)
        validate_document(doc, path=where)
        pid = doc["patient"]["patient_id"]
        if pid in seen:
            raise InputError(
                f"expected one report per patient; found {pid!r} again (first in {seen[pid]})", path=where
            )
        seen[pid] = where
        docs.append(doc)
    if not docs:
        raise InputError("expected at least one report JSON; found none")
    docs.sort(key=lambda d: d["patient"]["patient_id"])
    return docs


def _base(doc: dict) -> dict[str, Any]:
    p = doc["patient"]
    return {
        "patient": p["patient_id"],
        "sample": p["sample_id"],
        "center": p["center"],
        "tumor_type": p["tumor_type"]["code"],
        "tumor_type_name": p["tumor_type"]["name"],
    }


def pooled_tables(docs: list[dict]):
    """Return (variants, findings, biomarkers) DataFrames pooled over the reports."""
    import pandas as pd

    vrows, frows, brows = [], [], []
    for doc in docs:
        base = _base(doc)
        key = set(doc["key_findings"])
        for v in doc["variants"]:
            row = dict(base)
            row.update({k: v[k] for k in v if k not in ("finding_ids",)})
            row["finding_ids"] = ";".join(v["finding_ids"])
            row["germline_flag"] = v["germline_flag"] or ""
            row["oncogenicity"] = v.get("oncogenicity") or ""  # report schema >= 1.1
            vrows.append(row)
        for f in doc["findings"]:
            row = dict(base)
            row.update(
                {
                    "finding_id": f["finding_id"], "gene": f["gene"], "alteration": f["alteration"],
                    "category": f["category"], "variant_id": f["variant_id"] or "", "match_type": f["match_type"],
                    "effect": f["effect"], "therapies": ";".join(f["therapies"]), "escat": f["escat"],
                    "amp_tier": f["amp_tier"], "amp_level": f["amp_level"], "ema_on_label": f["on_label"]["EMA"],
                    "fda_on_label": f["on_label"]["FDA"], "disease_match": f["disease_match"],
                    "source": f["evidence"]["source"], "statement_id": f["evidence"]["statement_id"],
                    "references": ";".join(r["label"] for r in f["evidence"]["references"]),
                    "key_finding": f["finding_id"] in key, "vaf": f["vaf"], "germline_flag": f["germline_flag"] or "",
                    "oncogenicity": f.get("oncogenicity") or "",
                    "resistance_conflicts": ";".join(
                        f"{c['gene']} {c['alteration']}" for c in f.get("resistance_conflicts") or []
                    ),
                }
            )  # fmt: skip
            frows.append(row)
        bm, p = doc["biomarkers"], doc["patient"]
        row = dict(base)
        row.update(
            {
                "assay": p["assay"] or "", "setting": p["setting"], "purity": p["purity"],
                "tmb": bm["tmb"]["value"], "tmb_status": bm["tmb"]["status"], "callable_mb": bm["tmb"]["callable_mb"],
                "msi_status": bm["msi"]["status"], "msi_score": bm["msi"]["score"],
                "cna": ";".join(f"{c['gene']}:{c['alteration']}" for c in bm["cna"]),
                "fusions": ";".join(f"{f['gene5']}-{f['gene3']}" for f in bm["fusions"]),
                "n_findings": len(doc["findings"]), "n_key_findings": len(doc["key_findings"]),
                "n_pending": len(doc.get("pending") or []),
                "kb_hash": doc["provenance"]["kb"]["content_hash"], "run_date": doc["run_date"],
                "synthetic": doc["synthetic"],
            }
        )  # fmt: skip
        brows.append(row)
    vcols = ["patient", "sample", "center", "tumor_type", "tumor_type_name", "variant_id", "chrom", "pos", "ref", "alt",
             "filter", "gene", "gene_id", "transcript", "biotype", "consequence", "impact", "exon", "intron", "hgvsc",
             "hgvsp", "hgvsp_short", "protein_position", "mane", "canonical", "t_dp", "t_ad_ref", "t_ad_alt", "t_af",
             "n_dp", "n_ad_ref", "n_ad_alt", "n_af", "class", "amp_tier", "escat", "finding_ids", "note",
             "germline_flag", "oncogenicity"]  # fmt: skip
    variants = pd.DataFrame(vrows, columns=vcols)
    for c in ("pos", "protein_position", "t_dp", "t_ad_ref", "t_ad_alt", "n_dp", "n_ad_ref", "n_ad_alt"):
        variants[c] = variants[c].astype("Int64")
    for c in ("t_af", "n_af"):
        variants[c] = variants[c].astype("float64")
    fcols = ["patient", "sample", "center", "tumor_type", "tumor_type_name", "finding_id", "gene", "alteration",
             "category", "variant_id", "match_type", "effect", "therapies", "escat", "amp_tier", "amp_level",
             "ema_on_label", "fda_on_label", "disease_match", "source", "statement_id", "references", "key_finding",
             "vaf", "germline_flag", "oncogenicity", "resistance_conflicts"]  # fmt: skip
    findings = pd.DataFrame(frows, columns=fcols)
    findings["vaf"] = findings["vaf"].astype("float64")
    for c in ("ema_on_label", "fda_on_label", "key_finding"):
        findings[c] = findings[c].astype(bool)
    biomarkers = pd.DataFrame(brows)
    for c in ("purity", "tmb", "callable_mb", "msi_score"):
        biomarkers[c] = biomarkers[c].astype("float64")
    return variants, findings, biomarkers


# --------------------------------------------------------------------------------------------------
# cBioPortal files


def maf_rows(docs: list[dict]) -> list[list[str]]:
    rows = []
    for doc in docs:
        p = doc["patient"]
        build = ncbi_build(p["genome_build"])
        sample = cbio_id(p["sample_id"] or p["patient_id"])
        normal = cbio_id(p["normal_sample"]) if p["normal_sample"] else ""
        for v in doc["variants"]:
            start, end, ref, alt, vtype = maf_alleles(v["pos"], v["ref"], v["alt"])

            def n(x):
                return "" if x is None else str(x)

            values = {
                "Hugo_Symbol": v["gene"] or "Unknown", "Entrez_Gene_Id": "", "Center": p["center"],
                "NCBI_Build": build, "Chromosome": maf_chrom(v["chrom"]), "Start_Position": str(start),
                "End_Position": str(end), "Strand": "+",
                "Variant_Classification": variant_classification(v["consequence"], vtype, ref, alt),
                "Variant_Type": vtype, "Reference_Allele": ref, "Tumor_Seq_Allele1": ref, "Tumor_Seq_Allele2": alt,
                "dbSNP_RS": "", "dbSNP_Val_Status": "", "Tumor_Sample_Barcode": sample,
                "Matched_Norm_Sample_Barcode": normal, "Match_Norm_Seq_Allele1": ref if normal else "",
                "Match_Norm_Seq_Allele2": ref if normal else "",
                "Mutation_Status": "Somatic" if p["setting"] == "paired" else "Unknown",
                "HGVSc": v["hgvsc"], "HGVSp": v["hgvsp"], "HGVSp_Short": v["hgvsp_short"],
                "Transcript_ID": v["transcript"], "Exon_Number": v["exon"], "t_depth": n(v["t_dp"]),
                "t_ref_count": n(v["t_ad_ref"]), "t_alt_count": n(v["t_ad_alt"]), "n_depth": n(v["n_dp"]),
                "n_ref_count": n(v["n_ad_ref"]), "n_alt_count": n(v["n_ad_alt"]),
                "Consequence": v["consequence"].replace("&", ","), "IMPACT": v["impact"],
                "ccev_AMP_Tier": v["amp_tier"] or "", "ccev_ESCAT": v["escat"] or "",
            }  # fmt: skip
            rows.append([_clean(values[c]) for c in MAF_COLUMNS])
    return rows


def _clean(text: Any) -> str:
    return str(text).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _clinical(columns: list[tuple[str, str, str, str]], rows: list[list[str]]) -> str:
    """cBioPortal clinical file: 4 '#' header lines (names, descriptions, datatypes, priorities), then data."""
    lines = [
        "#" + "\t".join(c[1] for c in columns),
        "#" + "\t".join(c[2] for c in columns),
        "#" + "\t".join(c[3] for c in columns),
        "#" + "\t".join("1" for _ in columns),
        "\t".join(c[0] for c in columns),
    ]
    lines += ["\t".join(_clean(x) for x in row) for row in rows]
    return "\n".join(lines) + "\n"


def _na(x, fmt="{}"):
    return "NA" if x is None else fmt.format(x)


def cbioportal_files(docs: list[dict], study_id: str, study_name: str) -> dict[str, str]:
    """Text of every file of the cBioPortal study except ``cohort.maf``, keyed by relative path."""
    patient_cols = [("PATIENT_ID", "Patient Identifier", "Pseudonymised patient identifier", "STRING"),
                    ("CENTER", "Centre", "Treating or sequencing centre", "STRING")]  # fmt: skip
    sample_cols = [
        ("PATIENT_ID", "Patient Identifier", "Pseudonymised patient identifier", "STRING"),
        ("SAMPLE_ID", "Sample Identifier", "Tumour sample identifier", "STRING"),
        ("ONCOTREE_CODE", "OncoTree Code", "OncoTree code of the tumour type", "STRING"),
        ("CANCER_TYPE_DETAILED", "Cancer Type Detailed", "OncoTree name of the tumour type", "STRING"),
        ("CENTER", "Centre", "Treating or sequencing centre", "STRING"),
        ("ASSAY", "Assay", "panel, wes or wgs", "STRING"),
        ("SEQUENCING_SETTING", "Sequencing Setting", "paired or tumour-only", "STRING"),
        ("TUMOR_PURITY", "Tumour Purity", "Tumour cell fraction (0-1)", "NUMBER"),
        (
            "TMB_NONSYNONYMOUS",
            "TMB (nonsynonymous)",
            "Tumour mutational burden in mutations per megabase",
            "NUMBER",
        ),
        ("MSI_STATUS", "MSI Status", "msi_high, mss or not_assessable", "STRING"),
        ("KEY_FINDINGS", "Key Findings", "Number of ESCAT I-III or resistance findings", "NUMBER"),
        ("SYNTHETIC", "Synthetic", "Synthetic test data", "STRING"),
    ]
    prow, srow = [], []
    for doc in docs:
        p, bm = doc["patient"], doc["biomarkers"]
        pid = cbio_id(p["patient_id"])
        prow.append([pid, p["center"]])
        srow.append([
            pid, cbio_id(p["sample_id"] or p["patient_id"]), p["tumor_type"]["code"], p["tumor_type"]["name"] or "NA",
            p["center"], p["assay"] or "NA", p["setting"], _na(p["purity"]), _na(bm["tmb"]["value"]),
            bm["msi"]["status"], str(len(doc["key_findings"])), "YES" if doc["synthetic"] else "NO",
        ])  # fmt: skip
    for kind, rows, col in (("patient", prow, 0), ("sample", srow, 1)):
        ids = [r[col] for r in rows]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[0]
            raise InputError(
                f"expected unique cBioPortal {kind} IDs after replacing characters other than letters, digits, '.', '_', '-'; "
                f"found {dup!r} twice"
            )
    types = sorted({d["patient"]["tumor_type"]["code"] for d in docs})
    builds = sorted({ncbi_build(d["patient"]["genome_build"]) for d in docs})
    genome = {"GRCh38": "hg38", "GRCh37": "hg19"}.get(builds[0], "hg38") if len(builds) == 1 else "hg38"
    if len(builds) > 1:
        log.warning("reports use several genome builds (%s); cBioPortal needs one", ", ".join(builds))
    synthetic = any(d["synthetic"] for d in docs)
    desc = f"{len(docs)} patients pooled by ccevariants" + (" (SYNTHETIC DATA)" if synthetic else "")
    samples = [r[1] for r in srow]
    return {
        "meta_study.txt": (
            f"type_of_cancer: {types[0].lower() if len(types) == 1 else 'mixed'}\n"
            f"cancer_study_identifier: {study_id}\nname: {study_name}\ndescription: {desc}\n"
            f"short_name: {study_id}\nadd_global_case_list: true\nreference_genome: {genome}\n"
        ),
        "meta_mutations.txt": (
            f"cancer_study_identifier: {study_id}\ngenetic_alteration_type: MUTATION_EXTENDED\ndatatype: MAF\n"
            "stable_id: mutations\nshow_profile_in_analysis_tab: true\n"
            "profile_name: Mutations\nprofile_description: Protein-altering and actionable variants reported by "
            "ccevariants\ndata_filename: cohort.maf\n"
        ),
        "meta_clinical_patient.txt": (
            f"cancer_study_identifier: {study_id}\ngenetic_alteration_type: CLINICAL\ndatatype: PATIENT_ATTRIBUTES\n"
            "data_filename: data_clinical_patient.txt\n"
        ),
        "meta_clinical_sample.txt": (
            f"cancer_study_identifier: {study_id}\ngenetic_alteration_type: CLINICAL\ndatatype: SAMPLE_ATTRIBUTES\n"
            "data_filename: data_clinical_sample.txt\n"
        ),
        "data_clinical_patient.txt": _clinical(patient_cols, prow),
        "data_clinical_sample.txt": _clinical(sample_cols, srow),
        "case_lists/cases_sequenced.txt": (
            f"cancer_study_identifier: {study_id}\nstable_id: {study_id}_sequenced\ncase_list_name: Sequenced samples\n"
            f"case_list_description: All sequenced samples ({len(samples)} samples)\ncase_list_category: all_cases_with_mutation_data\n"
            f"case_list_ids: {chr(9).join(samples)}\n"
        ),
    }


# --------------------------------------------------------------------------------------------------
# overview page


def _alteration_kind(finding: dict, variant: dict | None) -> str:
    if finding["category"] == "cna":
        return "deletion" if "del" in finding["alteration"].lower() else "amplification"
    if finding["category"] == "fusion":
        return "fusion"
    cons = (variant or {}).get("consequence", "")
    if any(t in cons for t in ("stop_gained", "frameshift", "splice_acceptor", "splice_donor", "start_lost")):
        return "truncating"
    if "inframe" in cons:
        return "inframe"
    return "missense"


def oncoprint(docs: list[dict]) -> dict:
    """Patient x gene matrix of actionable alterations (ESCAT I-III findings of category variant/cna/fusion)."""
    cells: dict[tuple[str, str], dict] = {}
    for doc in docs:
        pid = doc["patient"]["patient_id"]
        by_id = {v["variant_id"]: v for v in doc["variants"]}
        for f in doc["findings"]:
            if f["category"] not in ("variant", "cna", "fusion") or f["escat"] not in ACTIONABLE_ESCAT:
                continue
            cell = cells.setdefault((f["gene"], pid), {"kinds": set(), "labels": set()})
            cell["kinds"].add(_alteration_kind(f, by_id.get(f["variant_id"] or "")))
            cell["labels"].add(f"{f['alteration']} ({f['escat']})")
    patients = [d["patient"]["patient_id"] for d in docs]
    counts: dict[str, int] = {}
    for gene, _ in cells:
        counts[gene] = counts.get(gene, 0) + 1
    all_genes = sorted(counts, key=lambda g: (-counts[g], g))
    hidden = max(len(all_genes) - MAX_ONCOPRINT_GENES, 0)
    genes = all_genes[:MAX_ONCOPRINT_GENES]
    # order patients by their alteration pattern (classic oncoprint sort)
    patients.sort(key=lambda p: (tuple(0 if (g, p) in cells else 1 for g in genes), p))
    cw, ch, left, top = 22, 18, 90, 80
    rects = []
    for gi, g in enumerate(genes):
        for pi, p in enumerate(patients):
            cell = cells.get((g, p))
            kinds = sorted(cell["kinds"]) if cell else []
            rects.append(
                {
                    "x": left + pi * cw, "y": top + gi * ch, "w": cw - 2, "h": ch - 2,
                    "kind": "multiple" if len(kinds) > 1 else (kinds[0] if kinds else "none"),
                    "title": f"{p} {g}: " + ", ".join(sorted(cell["labels"])) if cell else f"{p} {g}: none",
                }
            )  # fmt: skip
    matrix = {g: {p: sorted(cells[(g, p)]["labels"]) for p in patients if (g, p) in cells} for g in all_genes}
    return {
        "genes": [
            {"name": g, "y": top + i * ch + ch / 2 + 3, "count": counts[g]} for i, g in enumerate(genes)
        ],
        "patients": [{"name": p, "x": left + i * cw + cw / 2} for i, p in enumerate(patients)],
        "rects": rects,
        "width": left + max(len(patients), 1) * cw + 120,
        "height": top + max(len(genes) * ch, 7 * 14) + 10,
        "top": top,
        "matrix": matrix,
        "legend_x": left + len(patients) * cw + 10,
        "hidden_genes": hidden,
    }


def _count(items) -> list[tuple[str, int]]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return sorted(out.items())


def _top_findings(doc: dict, n: int) -> list[str]:
    """The first ``n`` distinct key alterations of a report, as "GENE alteration (ESCAT[, resistance])"."""
    by_id = {f["finding_id"]: f for f in doc["findings"]}
    out: list[str] = []
    for fid in doc["key_findings"]:
        f = by_id[fid]
        label = f"{f['gene']} {f['alteration']} ({f['escat']}{', resistance' if f['effect'] == 'resistance' else ''})"
        if label not in out:
            out.append(label)
        if len(out) == n:
            break
    return out


def overview_context(docs: list[dict], variants, findings, biomarkers) -> dict:
    from .report.render import bar_chart, group_pending, histogram

    tiers = _count(f["escat"] for d in docs for f in d["findings"])
    amp = _count(v["amp_tier"] or "none" for d in docs for v in d["variants"])
    tmbs = [d["biomarkers"]["tmb"]["value"] for d in docs if d["biomarkers"]["tmb"]["value"] is not None]
    bins = 20
    # a round bin width (mut/Mb) so that 20 bins cover the largest TMB
    width = next((w for w in (1, 2, 5, 10, 20, 50, 100) if w * bins > max(tmbs, default=0.0)), 500)
    top = float(width * bins)
    edges = [width * i for i in range(bins)]
    tmb_plot = bar_chart([f"{e:.0f}" for e in edges], histogram(tmbs, bins, 0.0, top))
    rows = []
    for d in docs:
        p, bm = d["patient"], d["biomarkers"]
        rows.append(
            {
                "patient": p["patient_id"], "sample": p["sample_id"], "center": p["center"],
                "tumor_type": p["tumor_type"]["code"], "tumor_name": p["tumor_type"]["name"],
                "tmb": bm["tmb"]["value"], "msi": bm["msi"]["status"], "key": len(d["key_findings"]),
                "top": ", ".join(_top_findings(d, 3)),
                "pending": "; ".join(g["message"] for g in group_pending(d.get("pending") or [])),
                "synthetic": d["synthetic"],
            }
        )  # fmt: skip
    return {
        "docs": docs,
        "rows": rows,
        "oncoprint": oncoprint(docs),
        "by_escat": tiers,
        "by_amp": amp,
        "by_oncogenicity": _count(v.get("oncogenicity") or "not stated" for d in docs for v in d["variants"]),
        "by_center": _count(d["patient"]["center"] for d in docs),
        "by_tumor": _count(f"{d['patient']['tumor_type']['code']}" for d in docs),
        "tmb_plot": tmb_plot,
        "n_tmb": len(tmbs),
        "synthetic": any(d["synthetic"] for d in docs),
        "n_variants": len(variants),
        "n_findings": len(findings),
    }


# --------------------------------------------------------------------------------------------------


def build_cohort(
    report_jsons, outdir, study_id: str = "ccev_cohort", study_name: str = "ccevariants cohort"
) -> dict[str, Path]:
    """Pool report JSONs (paths or documents) into ``outdir``; return the written paths by name."""
    from .report.render import render_cohort
    from .report.writer import readable

    if not re.fullmatch(r"[A-Za-z0-9_]+", study_id):
        raise InputError(f"expected a study identifier of letters, digits and '_'; found {study_id!r}")
    docs = load_reports(report_jsons)
    variants, findings, biomarkers = pooled_tables(docs)
    html = render_cohort(overview_context(docs, variants, findings, biomarkers))
    maf = (
        "#version 2.4\n"
        + "\t".join(MAF_COLUMNS)
        + "\n"
        + "".join("\t".join(r) + "\n" for r in maf_rows(docs))
    )
    texts = {"index.html": html, "cohort.maf": maf, **cbioportal_files(docs, study_id, study_name)}
    for name, frame in (("variants", variants), ("findings", findings), ("biomarkers", biomarkers)):
        texts[f"{name}.tsv"] = frame.to_csv(sep="\t", index=False, na_rep="", lineterminator="\n")
    outdir = Path(outdir)
    out = {name: outdir / name for name in texts}
    with contextlib.ExitStack() as stack:
        for name, text in sorted(texts.items()):
            stack.enter_context(atomic_write(out[name])).write(text)
        for name, frame in (("variants", variants), ("findings", findings), ("biomarkers", biomarkers)):
            out[f"{name}.parquet"] = outdir / f"{name}.parquet"
            tmp = stack.enter_context(atomic_path(out[f"{name}.parquet"]))
            frame.to_parquet(tmp, index=False)
    readable(out.values())
    log.info("cohort of %d patients: %d variants, %d findings", len(docs), len(variants), len(findings))
    return out
