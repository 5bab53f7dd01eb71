"""Cohort view: pooled tables, MAF export (coordinates for indels), cBioPortal files, oncoprint matrix."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report_fixtures import (
    biomarkers,
    finding,
    nsclc_matches,
    nsclc_variants,
    sheet_row,
    variant_row,
    variants_frame,
)

from ccevariants.cli import main
from ccevariants.cohort import MAF_COLUMNS, build_cohort, maf_alleles, oncoprint, variant_classification
from ccevariants.errors import InputError, SchemaError
from ccevariants.report import write_report


def _crc_patient():
    """A second patient: colorectal, KRAS G12C + a BRAF deletion, MSI-high, paired."""
    rows = [
        variant_row("chr12", 25245351, "C", "A", gene="KRAS", gene_id="ENSG00000133703", transcript="ENST00000311936",
                    biotype="protein_coding", strand=-1, impact="MODERATE", consequence="missense_variant", exon="2/5",
                    hgvsc="c.34G>T", hgvsp="p.Gly12Cys", hgvsp_short="p.G12C", protein_position=12, t_dp=300,
                    t_ad_ref=210, t_ad_alt=90, t_af=0.3, n_dp=120, n_ad_ref=120, n_ad_alt=0, n_af=0.0, mane=True),
        variant_row("chr7", 140753335, "ACA", "A", gene="BRAF", gene_id="ENSG00000157764", transcript="ENST00000646891",
                    biotype="protein_coding", strand=-1, impact="HIGH", consequence="frameshift_variant", exon="15/18",
                    hgvsc="c.1797_1798del", hgvsp="p.Thr599fs", hgvsp_short="p.T599fs", protein_position=599,
                    t_dp=80, t_ad_ref=60, t_ad_alt=20, t_af=0.25, n_dp=50, n_ad_ref=50, n_ad_alt=0, n_af=0.0),
    ]  # fmt: skip
    matches = {
        "patient": "P002",
        "tumor_type": {"code": "COAD", "name": "Colon Adenocarcinoma", "lineage": ["TISSUE", "BOWEL", "COADREAD", "COAD"]},
        "kb": {"name": "ccev-curated", "version": "2026.11", "content_hash": "a" * 64},
        "findings": [
            finding("K1", "KRAS", "G12C", "chr12:25245351:C:A", "sensitivity", ["sotorasib", "panitumumab"], "I-B", "I",
                    True, True),
            finding("K2", "KRAS", "G12C", "chr12:25245351:C:A", "resistance", ["cetuximab"], "I-A", "I", True, True),
            finding("K3", "ERBB2", "amplification", None, "sensitivity", ["trastuzumab", "lapatinib"], "III-A", "II",
                    False, False, category="cna"),
        ],
        "unmatched": [],
    }  # fmt: skip
    bm = biomarkers(45.0, "high")
    bm["msi"] = {"status": "msi_high", "score": 0.42, "method": "msisensor-like", "sites": 120}
    bm["cna"] = [{"gene": "ERBB2", "alteration": "amplification", "copy_number": 9.0, "chrom": "chr17",
                  "start": 39687914, "end": 39730426}]  # fmt: skip
    return variants_frame(rows), matches, bm


@pytest.fixture
def reports(tmp_path):
    out = []
    out.append(
        write_report("P001", sheet_row(), nsclc_matches(), nsclc_variants(), biomarkers(), None, None, tmp_path / "r",
                     provenance={"genome_build": "GRCh38", "synthetic": True}, fixed_date="2026-11-28")["json"]
    )  # fmt: skip
    variants, matches, bm = _crc_patient()
    out.append(
        write_report("P002", sheet_row("P002", "S-002", center="Centre-B", tumor_type="COAD", normal_sample="N-002",
                                       assay="wes", purity=""),
                     matches, variants, bm, None, None, tmp_path / "r", provenance={"genome_build": "GRCh38"},
                     fixed_date="2026-11-28")["json"]
    )  # fmt: skip
    return out


def _maf(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#version 2.4"
    header = lines[1].split("\t")
    return header, [dict(zip(header, line.split("\t"), strict=True)) for line in lines[2:]]


# ------------------------------------------------------------------------------------------- MAF conventions


@pytest.mark.parametrize(
    ("vcf", "expected"),
    [
        ((100, "A", "G"), (100, 100, "A", "G", "SNP")),
        ((100, "AC", "GT"), (100, 101, "AC", "GT", "DNP")),
        ((100, "ACG", "TCA"), (100, 102, "ACG", "TCA", "TNP")),
        ((100, "ACGT", "TGCA"), (100, 103, "ACGT", "TGCA", "ONP")),
        ((100, "A", "ATT"), (100, 101, "-", "TT", "INS")),  # between 100 and 101
        ((100, "ATT", "A"), (101, 102, "TT", "-", "DEL")),  # deleted bases 101-102
        ((100, "ACGT", "AT"), (101, 102, "CG", "-", "DEL")),  # shared suffix trimmed too
        ((100, "AT", "ACGT"), (100, 101, "-", "CG", "INS")),
        ((100, "ACG", "ATTTG"), (101, 101, "C", "TTT", "INS")),  # complex: delins, longer ALT
        ((100, "ACGTA", "AG"), (101, 104, "CGTA", "G", "DEL")),  # delins, shorter ALT
        ((100, "ACGTA", "ATA"), (101, 102, "CG", "-", "DEL")),  # not left-aligned input
        ((100, "A", "CA"), (99, 100, "-", "C", "INS")),  # no shared first base: flank is 99/100
        ((1, "A", "CA"), (1, 1, "A", "CA", "INS")),  # at the contig start there is no left flank
    ],
)
def test_maf_alleles(vcf, expected):
    assert maf_alleles(*vcf) == expected


def test_maf_alleles_identical_is_error():
    with pytest.raises(ValueError):
        maf_alleles(5, "A", "A")


@pytest.mark.parametrize(
    ("consequence", "vtype", "ref", "alt", "expected"),
    [
        ("missense_variant", "SNP", "A", "G", "Missense_Mutation"),
        ("stop_gained&splice_region_variant", "SNP", "C", "T", "Nonsense_Mutation"),
        ("frameshift_variant", "DEL", "A", "-", "Frame_Shift_Del"),
        ("frameshift_variant", "INS", "-", "A", "Frame_Shift_Ins"),
        ("inframe_insertion", "INS", "-", "AAA", "In_Frame_Ins"),
        ("inframe_deletion", "DEL", "AAA", "-", "In_Frame_Del"),
        ("splice_donor_variant", "SNP", "G", "A", "Splice_Site"),
        ("synonymous_variant", "SNP", "G", "A", "Silent"),
        ("5_prime_UTR_variant", "SNP", "G", "A", "5'UTR"),
        ("intergenic_variant", "SNP", "G", "A", "IGR"),
        ("protein_altering_variant", "DEL", "AA", "-", "Frame_Shift_Del"),
        ("protein_altering_variant", "INS", "-", "AAA", "In_Frame_Ins"),
        ("made_up_term", "SNP", "G", "A", "Targeted_Region"),
    ],
)
def test_variant_classification(consequence, vtype, ref, alt, expected):
    assert variant_classification(consequence, vtype, ref, alt) == expected


def test_maf_coordinates_roundtrip_real_mafs(shared_data):
    """Real MAFs (cBioPortal study_es_0, OncoKB annotator examples): rebuild the VCF allele each MAF row
    stands for (padding base 'N' for indels) and check the conversion gives back the MAF coordinates."""
    files = [
        shared_data / "maf-inputs" / "cbioportal-study_es_0" / "data_mutations_extended.maf",
        shared_data / "maf-inputs" / "oncokb-annotator-examples" / "example_maf_grch38.txt",
        shared_data / "maf-inputs" / "oncokb-annotator-examples" / "example_maf.txt",
    ]
    checked = {"SNP": 0, "DNP": 0, "TNP": 0, "ONP": 0, "INS": 0, "DEL": 0}
    for path in files:
        maf = pd.read_csv(path, sep="\t", comment="#", dtype=str, keep_default_na=False)
        for r in maf.to_dict("records"):
            if not r["Start_Position"].isdigit():
                continue
            start, end = int(r["Start_Position"]), int(r["End_Position"])
            ref, alt = r["Reference_Allele"], r["Tumor_Seq_Allele2"]
            if ref == "-":
                vtype = "INS"
            elif alt == "-":
                vtype = "DEL"
            elif len(ref) == len(alt):
                vtype = {1: "SNP", 2: "DNP", 3: "TNP"}.get(len(ref), "ONP")
            else:
                vtype = None  # a delins: MAF keeps no padding base to rebuild the VCF allele from
            if vtype is None:
                continue
            assert r.get("Variant_Type", vtype) == vtype
            if vtype == "INS":
                vcf = (start, "N", "N" + alt)
            elif vtype == "DEL":
                vcf = (start - 1, "N" + ref, "N")
            else:
                vcf = (start, ref, alt)
            assert maf_alleles(*vcf) == (start, end, ref, alt, vtype), (path.name, r)
            checked[vtype] += 1
    assert checked["SNP"] >= 30 and checked["DEL"] >= 5 and checked["INS"] >= 1 and checked["DNP"] >= 1, (
        checked
    )


# ------------------------------------------------------------------------------------------- build_cohort


def test_cohort_maf(tmp_path, reports):
    out = build_cohort(reports, tmp_path / "cohort")
    header, rows = _maf(out["cohort.maf"])
    assert tuple(header) == MAF_COLUMNS
    assert header[:13] == ["Hugo_Symbol", "Entrez_Gene_Id", "Center", "NCBI_Build", "Chromosome", "Start_Position",
                           "End_Position", "Strand", "Variant_Classification", "Variant_Type", "Reference_Allele",
                           "Tumor_Seq_Allele1", "Tumor_Seq_Allele2"]  # fmt: skip
    by = {(r["Tumor_Sample_Barcode"], r["Hugo_Symbol"], r["HGVSp_Short"]): r for r in rows}
    # P001's sample name is hostile: cBioPortal IDs allow only [A-Za-z0-9._-]
    deletion = by[("_script_alert_1___script_", "EGFR", "p.E746_A750del")]
    assert (deletion["Chromosome"], deletion["Start_Position"], deletion["End_Position"]) == (
        "7",
        "55174772",
        "55174786",
    )
    assert (deletion["Reference_Allele"], deletion["Tumor_Seq_Allele2"], deletion["Variant_Type"]) == (
        "GGAATTAAGAGAAGC", "-", "DEL")  # fmt: skip
    assert deletion["Variant_Classification"] == "In_Frame_Del"
    assert (deletion["t_depth"], deletion["t_ref_count"], deletion["t_alt_count"], deletion["n_depth"]) == (
        "250",
        "200",
        "50",
        "",
    )
    insertion = by[("_script_alert_1___script_", "ERBB2", "p.Y772_A775dup")]
    assert (insertion["Start_Position"], insertion["End_Position"]) == ("39724740", "39724741")
    assert (insertion["Reference_Allele"], insertion["Tumor_Seq_Allele2"]) == ("-", "TACGTGATGGCT")
    assert insertion["Variant_Classification"] == "In_Frame_Ins" and insertion["Variant_Type"] == "INS"
    fs = by[("S-002", "BRAF", "p.T599fs")]
    assert (fs["Start_Position"], fs["End_Position"], fs["Reference_Allele"], fs["Variant_Classification"]) == (
        "140753336", "140753337", "CA", "Frame_Shift_Del")  # fmt: skip
    kras = by[("S-002", "KRAS", "p.G12C")]
    assert (kras["Matched_Norm_Sample_Barcode"], kras["n_depth"], kras["Mutation_Status"]) == (
        "N-002",
        "120",
        "Somatic",
    )
    assert (
        kras["NCBI_Build"] == "GRCh38"
        and kras["Center"] == "Centre-B"
        and kras["Transcript_ID"] == "ENST00000311936"
    )
    # TP53 (VUS) is exported; synonymous / intergenic variants are not in the report JSON, so not here
    assert sorted(r["Hugo_Symbol"] for r in rows) == ["BRAF", "EGFR", "EGFR", "EGFR", "ERBB2", "KRAS", "TP53"]


def test_cbioportal_clinical_and_meta(tmp_path, reports):
    out = build_cohort(reports, tmp_path / "cohort", study_id="demo_study")
    lines = out["data_clinical_sample.txt"].read_text().splitlines()
    assert all(line.startswith("#") for line in lines[:4]) and not lines[4].startswith("#")
    assert len({len(line.split("\t")) for line in lines}) == 1
    header = lines[4].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[5:]]
    assert [r["SAMPLE_ID"] for r in rows] == ["_script_alert_1___script_", "S-002"]
    assert [r["ONCOTREE_CODE"] for r in rows] == ["LUAD", "COAD"]
    assert [r["TMB_NONSYNONYMOUS"] for r in rows] == ["12.5", "45.0"]
    assert [r["TUMOR_PURITY"] for r in rows] == ["0.6", "NA"]
    assert lines[2].split("\t")[header.index("TMB_NONSYNONYMOUS")] == "NUMBER"
    patients = out["data_clinical_patient.txt"].read_text().splitlines()
    assert patients[4:] == ["PATIENT_ID\tCENTER", "P001\tCentre-A", "P002\tCentre-B"]
    meta = dict(line.split(": ", 1) for line in out["meta_study.txt"].read_text().splitlines())
    assert meta["cancer_study_identifier"] == "demo_study" and meta["type_of_cancer"] == "mixed"
    assert meta["reference_genome"] == "hg38" and "SYNTHETIC" in meta["description"]
    mut = dict(line.split(": ", 1) for line in out["meta_mutations.txt"].read_text().splitlines())
    assert (mut["genetic_alteration_type"], mut["datatype"], mut["data_filename"]) == (
        "MUTATION_EXTENDED",
        "MAF",
        "cohort.maf",
    )
    cases = dict(
        line.split(": ", 1) for line in out["case_lists/cases_sequenced.txt"].read_text().splitlines()
    )
    assert cases["case_list_ids"].split("\t") == ["_script_alert_1___script_", "S-002"]
    # every MAF sample is a clinical sample
    _, maf_rows = _maf(out["cohort.maf"])
    assert {r["Tumor_Sample_Barcode"] for r in maf_rows} <= {r["SAMPLE_ID"] for r in rows}


def test_pooled_tables(tmp_path, reports):
    out = build_cohort(reports, tmp_path / "cohort")
    variants = pd.read_parquet(out["variants.parquet"])
    assert variants.groupby("patient").size().to_dict() == {"P001": 5, "P002": 2}
    assert set(variants.loc[variants.patient == "P002", "center"]) == {"Centre-B"}
    assert set(variants.loc[variants.patient == "P002", "tumor_type"]) == {"COAD"}
    assert variants["pos"].dtype == "Int64"
    findings = pd.read_parquet(out["findings.parquet"])
    k2 = findings[findings.finding_id == "K2"].iloc[0]
    assert (k2["effect"], k2["escat"], k2["therapies"], bool(k2["key_finding"])) == (
        "resistance",
        "I-A",
        "cetuximab",
        True,
    )
    bm = pd.read_csv(out["biomarkers.tsv"], sep="\t")
    assert bm.set_index("patient")["tmb"].to_dict() == {"P001": 12.5, "P002": 45.0}
    assert bm.set_index("patient")["msi_status"].to_dict() == {"P001": "not_assessable", "P002": "msi_high"}
    assert pd.read_parquet(out["biomarkers.parquet"]).shape[0] == 2
    tsv = pd.read_csv(out["variants.tsv"], sep="\t", dtype=str, keep_default_na=False)
    assert len(tsv) == 7 and tsv.columns[:4].tolist() == ["patient", "sample", "center", "tumor_type"]


def test_oncoprint_matrix(tmp_path, reports):
    docs = [json.loads(p.read_text()) for p in reports]
    op = oncoprint(docs)
    assert op["matrix"] == {
        "EGFR": {"P001": ["E746_A750del (I-A)", "L858R (I-A)", "T790M (I-A)"]},
        "ERBB2": {"P001": ["Y772_A775dup (II-B)"], "P002": ["amplification (III-A)"]},
        "KRAS": {"P002": ["G12C (I-A)", "G12C (I-B)"]},
    }
    # ERBB2 (2 patients) first, then EGFR and KRAS (1 each, alphabetical)
    assert [g["name"] for g in op["genes"]] == ["ERBB2", "EGFR", "KRAS"]
    kinds = {r["title"].split(":")[0]: r["kind"] for r in op["rects"]}
    assert kinds["P002 ERBB2"] == "amplification" and kinds["P002 KRAS"] == "missense"
    assert kinds["P001 EGFR"] == "multiple" and kinds["P001 KRAS"] == "none"
    out = build_cohort(reports, tmp_path / "cohort")
    html = out["index.html"].read_text()
    assert html.count('data-kind="') == 6 and "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_oncoprint_draws_top_genes_only(tmp_path, reports, monkeypatch):
    import ccevariants.cohort as cohort

    monkeypatch.setattr(cohort, "MAX_ONCOPRINT_GENES", 1)
    docs = [json.loads(p.read_text()) for p in reports]
    op = cohort.oncoprint(docs)
    assert [g["name"] for g in op["genes"]] == ["ERBB2"] and op["hidden_genes"] == 2
    assert len(op["rects"]) == 2 and sorted(op["matrix"]) == ["EGFR", "ERBB2", "KRAS"]
    html = build_cohort(reports, tmp_path / "c")["index.html"].read_text()
    assert "2 less frequently altered genes are not drawn" in html


def test_patient_table_top_findings(tmp_path, reports):
    from ccevariants.cohort import _top_findings

    docs = [json.loads(p.read_text()) for p in reports]
    doc = docs[1]
    # K2 (I-A resistance) ranks before K1 (I-B sensitivity); K3 (III-A) third
    assert _top_findings(doc, 3) == [
        "KRAS G12C (I-A, resistance)",
        "KRAS G12C (I-B)",
        "ERBB2 amplification (III-A)",
    ]
    doc["key_findings"].insert(1, doc["key_findings"][0])  # a repeated alteration is listed once
    assert _top_findings(doc, 2) == ["KRAS G12C (I-A, resistance)", "KRAS G12C (I-B)"]


def test_overview_counts_and_tmb_histogram(tmp_path, reports):
    from ccevariants.cohort import overview_context, pooled_tables

    docs = [json.loads(p.read_text()) for p in reports]
    ctx = overview_context(docs, *pooled_tables(docs))
    assert ctx["by_center"] == [("Centre-A", 1), ("Centre-B", 1)]
    assert ctx["by_tumor"] == [("COAD", 1), ("LUAD", 1)]
    assert ctx["by_escat"] == [("I-A", 4), ("I-B", 1), ("I-C", 1), ("II-B", 1), ("III-A", 1)]
    bars = ctx["tmb_plot"]["bars"]
    # TMB 12.5 and 45.0: bins of 5 mut/Mb (20 bins cover 0-100)
    assert [b["label"] for b in bars[:3]] == ["0", "5", "10"]
    assert {i: b["count"] for i, b in enumerate(bars) if b["count"]} == {2: 1, 9: 1}


def test_cohort_deterministic(tmp_path, reports):
    a = build_cohort(reports, tmp_path / "a")
    b = build_cohort(reports, tmp_path / "b")
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name


# ------------------------------------------------------------------------------------------- errors


def test_duplicate_patient(tmp_path, reports):
    with pytest.raises(InputError, match="expected one report per patient; found 'P001' again"):
        build_cohort([reports[0], reports[0]], tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_invalid_report(tmp_path, reports):
    doc = json.loads(reports[0].read_text())
    del doc["variants"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SchemaError, match=r"bad\.json: expected a report document valid"):
        build_cohort([bad], tmp_path / "c")
    with pytest.raises(InputError, match="at least one report"):
        build_cohort([], tmp_path / "c")
    with pytest.raises(InputError, match="study identifier"):
        build_cohort(reports, tmp_path / "c", study_id="bad id")
    assert not (tmp_path / "c").exists()


def test_sanitised_sample_collision(tmp_path, reports):
    doc = json.loads(reports[1].read_text())
    doc["patient"]["patient_id"], doc["patient"]["sample_id"] = "P003", "<script>alert(1)</script>"
    with pytest.raises(InputError, match="expected unique cBioPortal sample IDs"):
        build_cohort([reports[0], doc], tmp_path / "c")


def test_cli(tmp_path, reports, capsys):
    assert main(["cohort", "--reports", *map(str, reports), "--outdir", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "cohort.maf").exists() and (tmp_path / "c" / "index.html").exists()
    assert main(["cohort", "--reports", str(tmp_path / "none.json"), "--outdir", str(tmp_path / "d")]) == 2
    assert "none.json: expected an existing JSON file; found none" in capsys.readouterr().err


def _apply_vcf(seq: str, pos: int, ref: str, alt: str) -> str:
    assert seq[pos - 1 : pos - 1 + len(ref)] == ref
    return seq[: pos - 1] + alt + seq[pos - 1 + len(ref) :]


def _apply_maf(seq: str, start: int, end: int, ref: str, alt: str, vtype: str) -> str:
    if ref == "-":
        assert vtype == "INS" and end == start + 1
        return seq[:start] + alt + seq[start:]
    assert seq[start - 1 : end] == ref and end - start + 1 == len(ref)
    return seq[: start - 1] + ("" if alt == "-" else alt) + seq[end:]


@settings(max_examples=300, deadline=None)
@given(
    seq=st.text(alphabet="ACGT", min_size=12, max_size=40),
    data=st.data(),
)
def test_maf_alleles_describe_the_same_change(seq, data):
    """Property: applying the MAF allele to the sequence gives the same result as the VCF allele."""
    pos = data.draw(st.integers(1, len(seq) - 6))
    ref_len = data.draw(st.integers(1, 5))
    ref = seq[pos - 1 : pos - 1 + ref_len]
    alt = data.draw(st.text(alphabet="ACGT", min_size=1, max_size=6).filter(lambda a: a != ref))
    start, end, mref, malt, vtype = maf_alleles(pos, ref, alt)
    assert _apply_maf(seq, start, end, mref, malt, vtype) == _apply_vcf(seq, pos, ref, alt)
    assert start >= max(pos - 1, 1) and "-" not in (mref + malt).strip("-")
