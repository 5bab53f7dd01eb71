"""Clinical matching and tiering cases (CLINICAL.md §2-3) against the bundled knowledge base."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ccevariants.cli import main
from ccevariants.errors import InputError
from ccevariants.kb.snapshot import build_snapshot, snapshot_from_document
from ccevariants.match import compare_matches, match_patient, validate_matches

COLUMNS = {
    "variant_id": str,
    "chrom": str,
    "pos": "int64",
    "ref": str,
    "alt": str,
    "filter": str,
    "t_dp": "int64",
    "t_ad_ref": "int64",
    "t_ad_alt": "int64",
    "n_dp": "int64",
    "n_ad_ref": "int64",
    "n_ad_alt": "int64",
    "t_af": "float64",
    "n_af": "float64",
    "gene": str,
    "gene_id": str,
    "transcript": str,
    "biotype": str,
    "strand": "int8",
    "consequence": str,
    "impact": str,
    "exon": str,
    "intron": str,
    "hgvsc": str,
    "hgvsp": str,
    "hgvsp_short": str,
    "cds_position": "int64",
    "protein_position": "int64",
    "amino_acids": str,
    "codons": str,
    "pick": bool,
    "mane": bool,
    "canonical": bool,
}


def variant(
    gene,
    protein,
    consequence="missense_variant",
    exon="",
    intron="",
    chrom="chr1",
    pos=1000,
    ref="A",
    alt="T",
    filter="PASS",
):
    """One pick row in the annotated-table contract (§3); coordinates 1-based."""
    position = int("".join(ch for ch in protein if ch.isdigit())[:4] or -1) if protein else -1
    return {
        "variant_id": f"{chrom}:{pos}:{ref}:{alt}",
        "chrom": chrom,
        "pos": pos,
        "ref": ref,
        "alt": alt,
        "filter": filter,
        "t_dp": 100,
        "t_ad_ref": 60,
        "t_ad_alt": 40,
        "n_dp": -1,
        "n_ad_ref": -1,
        "n_ad_alt": -1,
        "t_af": 0.4,
        "n_af": float("nan"),
        "gene": gene,
        "gene_id": f"ENSG-{gene}",
        "transcript": f"ENST-{gene}",
        "biotype": "protein_coding",
        "strand": 1,
        "consequence": consequence,
        "impact": "MODERATE",
        "exon": exon,
        "intron": intron,
        "hgvsc": "c.1A>T",
        "hgvsp": "",
        "hgvsp_short": f"p.{protein}" if protein else "",
        "cds_position": 1,
        "protein_position": position,
        "amino_acids": "",
        "codons": "",
        "pick": True,
        "mane": True,
        "canonical": True,
    }


def table(*rows):
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})
    frame = pd.DataFrame(list(rows))
    return frame.astype({c: t for c, t in COLUMNS.items()})


def fusion(gene5, gene3, chrom, in_frame=True, reads=10, source="sv"):
    """A fusion call as the biomarkers stage writes it (breakpoints 1-based, placeholders)."""
    return {
        "gene5": gene5,
        "gene3": gene3,
        "chrom5": chrom,
        "pos5": 1,
        "chrom3": chrom,
        "pos3": 2,
        "in_frame": in_frame,
        "supporting_reads": reads,
        "source": source,
    }


def biomarkers(cna=(), fusions=(), tmb="low", msi="mss"):
    return {
        "tmb": {
            "value": 3.0,
            "eligible_variants": 3,
            "callable_mb": 1.0,
            "callable_source": "assay",
            "definition": "x",
            "threshold": 10.0,
            "status": tmb,
        },
        "msi": {"status": msi, "score": None, "method": "x", "sites": None},
        "cna": list(cna),
        "fusions": list(fusions),
    }


@pytest.fixture(scope="module")
def snapshot():
    return snapshot_from_document(build_snapshot([("bundled", None)]))


def run(snapshot, rows, tumor, **kw):
    doc = match_patient(table(*rows), kw.pop("bm", biomarkers()), tumor, snapshot, "P1", **kw)
    validate_matches(doc)
    json.dumps(doc, allow_nan=False)
    return doc


def find(doc, statement_id):
    """The finding reporting ``statement_id``: as its main evidence or merged into it (same
    alteration, therapy, effect and tier from another statement)."""
    hits = [
        f
        for f in doc["findings"]
        if f["evidence"]["statement_id"] == statement_id
        or statement_id in {m["statement_id"] for m in f.get("merged_statements", ())}
    ]
    return hits[0] if hits else None


def find_pending(doc, statement_id):
    hits = [p for p in doc.get("pending", []) if p["evidence"]["statement_id"] == statement_id]
    return hits[0] if hits else None


def test_egfr_l858r_luad_osimertinib_ia_on_label(snapshot):
    doc = run(snapshot, [variant("EGFR", "L858R", exon="21/28")], "LUAD")
    f = find(doc, "CCEV-NSCLC-EGFR-L858R-OSIMERTINIB")
    assert (f["escat"], f["amp_tier"], f["amp_level"]) == ("I-A", "I", "A")
    assert f["on_label"] == {"EMA": True, "FDA": True}
    assert f["disease_match"] == "ancestor" and f["match_type"] == "exact"
    assert f["therapies"] == ["osimertinib"] and f["alteration"] == "L858R"
    assert doc["tumor_type"]["lineage"] == ["LUNG", "NSCLC", "LUAD"]
    assert any("PMID:29151359" == r for r in f["evidence"]["references"])
    assert any(t.startswith("tier rule: same tumour type") for t in f["trace"])
    # the strongest findings come first
    assert doc["findings"][0]["escat"] == "I-A"
    # T790M resistance is allele-specific: L858R is never reported as resistant to gefitinib
    assert find(doc, "CCEV-NSCLC-EGFR-T790M-RES-GEFITINIB") is None
    assert not [
        x
        for x in doc["findings"]
        if x["effect"] == "resistance" and x["gene"] == "EGFR" and "gefitinib" in x["therapies"]
    ]


def test_egfr_l858r_in_colon_is_iiia_off_label(snapshot):
    doc = run(snapshot, [variant("EGFR", "L858R", exon="21/28")], "COAD")
    osimertinib = [f for f in doc["findings"] if f["therapies"] == ["osimertinib"]]
    assert len(osimertinib) == 1  # one representative of the NSCLC indications (metastatic, adjuvant)
    f = osimertinib[0]
    assert f["evidence"]["statement_id"].startswith("CCEV-NSCLC-EGFR-")
    assert f["escat"] == "III-A" and (f["amp_tier"], f["amp_level"]) == ("II", "C")
    assert f["on_label"] == {"EMA": False, "FDA": False}
    assert f["disease_match"] == "other"
    assert any("approved for another tumour type" in line for line in f["trace"])
    # the equally strong adjuvant NSCLC statement is merged, not listed twice
    assert [m["statement_id"] for m in f.get("merged_statements", [])] in (
        ["CCEV-NSCLC-EGFR-COMMON-OSIMERTINIB-ADJUVANT"],
        ["CCEV-NSCLC-EGFR-L858R-OSIMERTINIB"],
    )


def test_braf_v600e_melanoma_braf_mek_ia(snapshot):
    doc = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "SKCM")
    therapies = {tuple(f["therapies"]): f for f in doc["findings"] if f["escat"] == "I-A"}
    assert {
        ("dabrafenib + trametinib",),
        ("vemurafenib + cobimetinib",),
        ("encorafenib + binimetinib",),
    } <= set(therapies)
    dt = sorted(
        f["evidence"]["statement_id"]
        for f in doc["findings"]
        if f["therapies"] == ["dabrafenib + trametinib"]
    )
    # metastatic and adjuvant settings of the same pair and tier are merged into one finding that
    # keeps the metastatic statement as evidence and both statements' references and contexts
    assert dt == ["CCEV-MEL-BRAF-V600-DABRAFENIB-TRAMETINIB"]
    (f,) = [f for f in doc["findings"] if f["therapies"] == ["dabrafenib + trametinib"]]
    merged = f["merged_statements"]
    assert [m["statement_id"] for m in merged] == ["CCEV-MEL-BRAF-V600-DABRAFENIB-TRAMETINIB-ADJUVANT"]
    assert "adjuvant" in merged[0]["context"]
    assert set(merged[0]["references"]) <= set(f["evidence"]["references"])
    assert any(
        line.startswith("merged: CCEV-MEL-BRAF-V600-DABRAFENIB-TRAMETINIB-ADJUVANT") for line in f["trace"]
    )
    # the tumour-agnostic I-C statement for the same therapy is folded into the stronger melanoma finding
    assert find(doc, "CCEV-AGN-BRAF-V600E-DABRAFENIB-TRAMETINIB") is None
    assert any(s["statement_id"] == "CCEV-AGN-BRAF-V600E-DABRAFENIB-TRAMETINIB" for s in doc["suppressed"])


def test_braf_v600e_colon_encorafenib_cetuximab_not_tumour_agnostic(snapshot):
    doc = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "COAD")
    f = find(doc, "CCEV-CRC-BRAF-V600E-ENCORAFENIB-CETUXIMAB")
    assert f["escat"] == "I-A" and f["on_label"] == {"EMA": True, "FDA": True}
    assert find(doc, "CCEV-AGN-BRAF-V600E-DABRAFENIB-TRAMETINIB") is None
    assert not [x for x in doc["findings"] if "dabrafenib + trametinib" in x["therapies"]]
    reasons = {s["statement_id"]: s["reason"] for s in doc["suppressed"]}
    assert "excludes" in reasons["CCEV-AGN-BRAF-V600E-DABRAFENIB-TRAMETINIB"]


def test_braf_v600e_thyroid_gets_tumour_agnostic_ic_fda_only(snapshot):
    doc = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "THPA")
    f = find(doc, "CCEV-AGN-BRAF-V600E-DABRAFENIB-TRAMETINIB")
    assert f["escat"] == "I-C" and f["disease_match"] == "pan_cancer"
    assert f["on_label"] == {"EMA": False, "FDA": True}


def test_kras_g12c_nsclc_sotorasib_adagrasib(snapshot):
    doc = run(snapshot, [variant("KRAS", "G12C", exon="2/5")], "LUAD")
    assert find(doc, "CCEV-NSCLC-KRAS-G12C-SOTORASIB")["escat"] == "I-B"
    assert find(doc, "CCEV-NSCLC-KRAS-G12C-ADAGRASIB")["on_label"] == {"EMA": True, "FDA": True}


def test_kras_g12d_nsclc_no_g12c_inhibitor(snapshot):
    doc = run(snapshot, [variant("KRAS", "G12D", exon="2/5")], "LUAD")
    assert not [f for f in doc["findings"] if {"sotorasib", "adagrasib"} & set(f["therapies"])]


def test_kras_g12d_colon_resistance_to_anti_egfr(snapshot):
    doc = run(snapshot, [variant("KRAS", "G12D", exon="2/5")], "COAD")
    f = find(doc, "CCEV-CRC-KRAS-RAS-RES-ANTIEGFR")
    assert f["effect"] == "resistance" and f["escat"] == "I-A" and f["match_type"] == "codon"
    assert f["therapies"] == ["cetuximab", "panitumumab"]
    assert f["on_label"] == {"EMA": False, "FDA": False}
    # RAS wild-type requirement is not met
    assert find(doc, "CCEV-CRC-RAS-WT-CETUXIMAB") is None


def test_ras_wildtype_colon_anti_egfr_sensitivity(snapshot):
    cov = [{"gene": "KRAS", "adequate": True}, {"gene": "NRAS", "adequate": True}]
    doc = run(snapshot, [variant("TP53", "R175H", exon="5/11")], "READ", bm={**biomarkers(), "coverage": cov})
    f = find(doc, "CCEV-CRC-RAS-WT-PANITUMUMAB")
    assert f["match_type"] == "wildtype" and f["category"] == "biomarker" and f["variant_id"] is None
    assert f["escat"] == "I-A" and f["wildtype_assessment"]["basis"] == {
        "KRAS": "coverage_gene",
        "NRAS": "coverage_gene",
    }
    assert f["oncogenicity"] == "not_applicable"
    # without coverage data the same call set gives no finding, only a pending entry (wildtype tests)
    assert (
        find(run(snapshot, [variant("TP53", "R175H", exon="5/11")], "READ"), "CCEV-CRC-RAS-WT-PANITUMUMAB")
        is None
    )
    # wild-type statements do not leak into other tumour types
    lung = run(snapshot, [], "LUAD", bm={**biomarkers(), "coverage": cov})
    assert find(lung, "CCEV-CRC-RAS-WT-PANITUMUMAB") is None and lung["pending"] == []


def test_ntrk1_fusion_any_solid_tumour_ic(snapshot):
    bm = biomarkers(fusions=[fusion("TPM3", "NTRK1", "chr1", reads=12)])
    for tumor in ("PAAD", "COAD", "THPA"):
        doc = run(snapshot, [], tumor, bm=bm)
        laro = find(doc, "CCEV-AGN-NTRK1-LAROTRECTINIB")
        entre = find(doc, "CCEV-AGN-NTRK1-ENTRECTINIB")
        assert laro["escat"] == entre["escat"] == "I-C"
        assert laro["on_label"] == {"EMA": True, "FDA": True}
        assert laro["alteration"] == "TPM3-NTRK1 fusion" and laro["category"] == "fusion"
    # not a solid tumour: pan-solid evidence is evidence from another tumour type
    aml = find(run(snapshot, [], "AML", bm=bm), "CCEV-AGN-NTRK1-LAROTRECTINIB")
    assert (
        aml["disease_match"] == "other"
        and aml["escat"] == "III-A"
        and aml["on_label"] == {"EMA": False, "FDA": False}
    )
    # an out-of-frame fusion does not match
    bm["fusions"][0]["in_frame"] = False
    assert find(run(snapshot, [], "PAAD", bm=bm), "CCEV-AGN-NTRK1-LAROTRECTINIB") is None


def test_eml4_alk_fusion_luad(snapshot):
    bm = biomarkers(fusions=[fusion("EML4", "ALK", "chr2", in_frame=None, reads=9)])
    doc = run(snapshot, [], "LUAD", bm=bm)
    for drug in ("alectinib", "lorlatinib", "brigatinib"):
        f = [x for x in doc["findings"] if x["therapies"] == [drug] and x["disease_match"] == "ancestor"][0]
        assert f["escat"] == "I-A" and f["match_type"] == "fusion" and f["alteration"] == "EML4-ALK fusion"
    # a fusion never matches a statement for an unrelated gene
    assert not [x for x in doc["findings"] if x["gene"] != "ALK"]


def test_gene_only_match_is_never_tiered(snapshot):
    doc = run(
        snapshot,
        [variant("EGFR", "A289T", exon="7/28"), variant("EGFR", "R1052W", pos=2000, exon="26/28")],
        "LUAD",
    )
    egfr = [f for f in doc["findings"] if f["variant_id"] == "chr1:2000:A:T"]
    assert egfr == []
    unmatched = {u["variant_id"]: u["reason"] for u in doc["unmatched"]}
    assert "gene-only match, not tiered" in unmatched["chr1:2000:A:T"]


def test_resistance_outweighs_weak_sensitivity(snapshot, tmp_path):
    # T790M (resistance allele) is never suggested for afatinib, only reported as resistant to it
    doc = run(snapshot, [variant("EGFR", "T790M", exon="20/28")], "LUAD")
    afatinib = [f for f in doc["findings"] if f["therapies"] == ["afatinib"]]
    assert [(f["effect"], f["escat"]) for f in afatinib] == [("resistance", "I-A")]
    assert find(doc, "CCEV-NSCLC-EGFR-T790M-OSIMERTINIB")["escat"] == "I-A"
    # the general rule: a similar-alteration (III-B) sensitivity is dropped when the same alteration is
    # resistant to that drug in the patient's tumour type (in-house statement as the resistance source)
    header = "id\tgene\ttype\talteration\tdisease\texclude\tdrugs\tcombination\teffect\tescat\tamp_level\tnative_level\tema_approved\tfda_approved\tpmids\turls\tnotes\n"
    row = "LAB-R1\tPIK3CA\tvariant\tH1047Q\tBRCA\t\talpelisib\tno\tresistance\tIV-A\tD\t\t\t\t\t\tsynthetic\n"
    path = tmp_path / "lab.tsv"
    path.write_text(header + row)
    combined = snapshot_from_document(build_snapshot([("bundled", None), ("inhouse", str(path))]))
    without = run(snapshot, [variant("PIK3CA", "H1047Q", exon="21/21")], "IDC")
    assert find(without, "CCEV-BRCA-PIK3CA-ALPELISIB-FULVESTRANT")["escat"] == "III-B"
    with_res = run(combined, [variant("PIK3CA", "H1047Q", exon="21/21")], "IDC")
    assert find(with_res, "CCEV-BRCA-PIK3CA-ALPELISIB-FULVESTRANT") is None
    reasons = {s["statement_id"]: s["reason"] for s in with_res["suppressed"]}
    assert "LAB-R1" in reasons["CCEV-BRCA-PIK3CA-ALPELISIB-FULVESTRANT"]
    # ... but the functional-class capivasertib statement (its own class, I-A) is untouched
    assert find(with_res, "CCEV-BRCA-PIK3CA-CAPIVASERTIB-FULVESTRANT")["escat"] == "I-A"


def test_tissue_specific_resistance(snapshot):
    # colorectal: BRAF-inhibitor monotherapy resistance suppresses melanoma-derived vemurafenib (III-A)
    crc = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "COAD")
    assert find(crc, "CCEV-CRC-BRAF-V600E-RES-BRAF-MONOTHERAPY")["escat"] == "II-B"
    assert find(crc, "CCEV-MEL-BRAF-V600-VEMURAFENIB") is None
    # ... and BRAF + MEK regimens from melanoma (no anti-EGFR partner) as well
    assert find(crc, "CCEV-MEL-BRAF-V600-VEMURAFENIB-COBIMETINIB") is None
    assert not [
        f
        for f in crc["findings"]
        if f["effect"] == "sensitivity"
        and f["disease_match"] == "other"
        and {"vemurafenib", "dabrafenib", "encorafenib"} & set(" + ".join(f["therapies"]).split(" + "))
    ]
    # melanoma: the colorectal resistance does not contradict melanoma sensitivity
    mel = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "SKCM")
    assert find(mel, "CCEV-CRC-BRAF-V600E-RES-BRAF-MONOTHERAPY") is None
    assert find(mel, "CCEV-MEL-BRAF-V600-VEMURAFENIB")["escat"] == "I-A"
    # one representative per therapy from other tumour types
    egfr = run(snapshot, [variant("EGFR", "L858R", exon="21/28")], "COAD")
    assert len([f for f in egfr["findings"] if f["therapies"] == ["osimertinib"]]) == 1


def test_prognostic_is_escat_x_and_only_in_own_tumour(snapshot):
    crc = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "READ")
    f = find(crc, "CCEV-CRC-BRAF-V600E-PROGNOSTIC")
    assert (f["escat"], f["amp_tier"], f["amp_level"], f["therapies"]) == ("X", "I", "A", [])
    assert ESCAT_LAST(crc, f)
    mel = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "SKCM")
    assert find(mel, "CCEV-CRC-BRAF-V600E-PROGNOSTIC") is None


def ESCAT_LAST(doc, finding):
    return all(x["escat"] == "X" for x in doc["findings"][doc["findings"].index(finding) :])


def test_similar_alteration_is_iiib(snapshot):
    # PIK3CA H1047L is not in the alpelisib allele list but is an activating hotspot at the same residue
    doc = run(snapshot, [variant("PIK3CA", "H1047Q", exon="21/21")], "IDC")
    f = find(doc, "CCEV-BRCA-PIK3CA-ALPELISIB-FULVESTRANT")
    assert f["match_type"] == "codon" and f["escat"] == "III-B" and f["similar_alteration"] is True
    assert f["on_label"] == {"EMA": False, "FDA": False}
    # the functional-class capivasertib statement matches it as its own class
    g = find(doc, "CCEV-BRCA-PIK3CA-CAPIVASERTIB-FULVESTRANT")
    assert g["escat"] == "I-A" and g["match_type"] == "functional" and g["on_label"]["EMA"] is True


def test_exon19_deletion_and_met_exon14_skipping(snapshot):
    doc = run(
        snapshot, [variant("EGFR", "E746_A750del", consequence="inframe_deletion", exon="19/28")], "LUAD"
    )
    f = find(doc, "CCEV-NSCLC-EGFR-EX19DEL-OSIMERTINIB")
    assert f["match_type"] == "exon" and f["escat"] == "I-A"
    splice = variant("MET", "", consequence="splice_donor_variant&intron_variant", intron="14/20")
    doc = run(snapshot, [splice], "LUAD")
    assert find(doc, "CCEV-NSCLC-MET-EX14-CAPMATINIB")["match_type"] == "exon"
    # a splice variant at another exon does not
    doc = run(snapshot, [variant("MET", "", consequence="splice_donor_variant", intron="5/20")], "LUAD")
    assert find(doc, "CCEV-NSCLC-MET-EX14-CAPMATINIB") is None


def test_msi_high_colon_vs_tumour_agnostic(snapshot):
    doc = run(snapshot, [], "COAD", bm=biomarkers(msi="msi_high"))
    f = find(doc, "CCEV-CRC-MSIH-PEMBROLIZUMAB")
    assert f["escat"] == "I-A" and f["on_label"] == {"EMA": True, "FDA": True}
    doc = run(snapshot, [], "PAAD", bm=biomarkers(msi="msi_high", tmb="high"))
    f = find(doc, "CCEV-AGN-MSIH-PEMBROLIZUMAB")
    assert f["escat"] == "I-C" and f["on_label"] == {"EMA": False, "FDA": True}
    tmb = find(doc, "CCEV-AGN-TMBH-PEMBROLIZUMAB")
    assert (
        tmb["alteration"] == "TMB-high"
        and tmb["escat"] == "I-C"
        and tmb["on_label"] == {"EMA": False, "FDA": True}
    )
    assert find(doc, "CCEV-AGN-MSIH-DOSTARLIMAB")["on_label"]["FDA"] is True


def test_erbb2_amplification_breast_and_consider_ihc(snapshot):
    bm = biomarkers(
        cna=[
            {
                "gene": "ERBB2",
                "alteration": "amplification",
                "copy_number": 12.0,
                "chrom": "chr17",
                "start": 1,
                "end": 2,
            }
        ]
    )
    doc = run(snapshot, [], "IDC", bm=bm)
    assert find(doc, "CCEV-BRCA-ERBB2-AMP-TRASTUZUMAB")["escat"] == "I-A"
    doc = run(snapshot, [], "PAAD", bm=bm)
    f = find(doc, "CCEV-AGN-ERBB2-AMP-TDXD-CONSIDER-IHC")
    assert f["on_label"] == {"EMA": False, "FDA": False} and "Consider HER2 IHC" in f["notes"]
    # pan-cancer evidence below tier I is not promoted to I-C
    assert f["disease_match"] == "pan_cancer" and f["escat"] == "II-B"


def test_unknown_tumour_type_and_bad_inputs(snapshot):
    with pytest.raises(InputError, match="expected an OncoTree code"):
        match_patient(table(), biomarkers(), "NOTACODE", snapshot)
    with pytest.raises(InputError, match="cna\\[0\\]"):
        match_patient(table(), biomarkers(cna=[{"gene": "ERBB2", "alteration": "gain"}]), "LUAD", snapshot)
    with pytest.raises(InputError, match="fusions\\[0\\]"):
        match_patient(table(), biomarkers(fusions=[{"gene5": "EML4"}]), "LUAD", snapshot)
    with pytest.raises(InputError, match="columns"):
        match_patient(table().drop(columns=["pick"]), biomarkers(), "LUAD", snapshot)
    two_picks = table(variant("EGFR", "L858R"), variant("EGFR", "L858R"))
    with pytest.raises(InputError, match="one pick row per variant"):
        match_patient(two_picks, biomarkers(), "LUAD", snapshot)


def test_filtered_and_noncoding_are_accounted(snapshot):
    rows = [
        variant("EGFR", "L858R", filter="LowQual"),
        variant("", "", consequence="intergenic_variant", pos=5),
        variant("TTN", "", consequence="synonymous_variant", pos=7),
        variant("TTN", "A10V", pos=9),
    ]
    doc = run(snapshot, rows, "LUAD")
    assert doc["findings"] == [] or all(f["category"] != "variant" for f in doc["findings"])
    assert doc["unmatched_summary"] == {
        "filtered": 1,
        "intergenic": 1,
        "not protein-altering, no knowledge-base match": 1,
    }
    assert [u["alteration"] for u in doc["unmatched"]] == ["A10V"]


def test_genomic_key_match_and_deterministic_order(snapshot):
    row = variant("BRAF", "", consequence="missense_variant", chrom="chr7", pos=140753336, ref="A", alt="T")
    doc = run(snapshot, [row], "SKCM", genome_build="GRCh38")
    f = find(doc, "CCEV-MEL-BRAF-V600-DABRAFENIB-TRAMETINIB")
    assert f["match_type"] == "exact" and "genomic key 7:140753336:A:T" in f["trace"][1]
    assert run(snapshot, [row], "SKCM", genome_build="GRCh38") == doc
    keys = [(f["escat"], f["gene"]) for f in doc["findings"]]
    from ccevariants.kb.model import ESCAT_RANK

    assert [ESCAT_RANK[k[0]] for k in keys] == sorted(ESCAT_RANK[k[0]] for k in keys)


def test_rematch_changes(snapshot):
    old = run(snapshot, [variant("EGFR", "L858R", exon="21/28")], "LUAD")
    new = json.loads(json.dumps(old))
    new["findings"][0]["escat"] = "II-A"
    removed = new["findings"].pop()
    changes = compare_matches(old, new)
    assert changes["removed"] == [removed["finding_id"]]
    assert changes["retiered"][0]["changes"]["escat"] == {"old": "I-A", "new": "II-A"}
    assert changes["new"] == []


# ---- command line ---------------------------------------------------------------------------
def write_inputs(tmp_path, rows, bm):
    parquet = tmp_path / "annotated.parquet"
    table(*rows).to_parquet(parquet, index=False)
    bjson = tmp_path / "biomarkers.json"
    bjson.write_text(json.dumps(bm))
    return parquet, bjson


def test_cli_match_and_rematch(tmp_path):
    snap = tmp_path / "kb.json"
    assert main(["kb", "build", "--output", str(snap)]) == 0
    parquet, bjson = write_inputs(
        tmp_path, [variant("EGFR", "L858R", exon="21/28"), variant("TP53", "R175H", pos=3)], biomarkers()
    )
    out = tmp_path / "matches.json"
    args = [
        "match",
        "--variants",
        str(parquet),
        "--biomarkers",
        str(bjson),
        "--tumor-type",
        "LUAD",
        "--kb",
        str(snap),
        "--output",
        str(out),
        "--patient",
        "PT-7",
    ]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    validate_matches(doc)
    assert (
        doc["patient"] == "PT-7"
        and doc["kb"]["content_hash"] == json.loads(snap.read_text())["manifest"]["content_hash"]
    )
    top = doc["findings"][0]
    assert top["gene"] == "EGFR" and top["escat"] == "I-A"
    assert [u["gene"] for u in doc["unmatched"]] == ["TP53"]
    # re-match against an edited KB: one statement removed → reported as a removed finding
    kb = json.loads(snap.read_text())
    kb["statements"] = [s for s in kb["statements"] if s["id"] != "CCEV-NSCLC-EGFR-L858R-GEFITINIB"]
    from ccevariants._io import sha256_json

    kb["manifest"]["content_hash"] = sha256_json(kb["statements"])
    snap2 = tmp_path / "kb2.json"
    snap2.write_text(json.dumps(kb))
    out2 = tmp_path / "matches2.json"
    assert main(args[:8] + [str(snap2), "--output", str(out2), "--previous", str(out)]) == 0
    changes = json.loads(out2.read_text())["changes"]
    assert changes["removed"] == ["EGFR:L858R:CCEV-NSCLC-EGFR-L858R-GEFITINIB"]
    assert changes["new"] == [] and changes["retiered"] == []


def test_cli_match_errors_are_one_line_and_leave_nothing(tmp_path, capsys):
    snap = tmp_path / "kb.json"
    assert main(["kb", "build", "--output", str(snap)]) == 0
    parquet, bjson = write_inputs(tmp_path, [variant("EGFR", "L858R")], biomarkers())
    out = tmp_path / "m.json"
    base = [
        "match",
        "--variants",
        str(parquet),
        "--biomarkers",
        str(bjson),
        "--kb",
        str(snap),
        "--output",
        str(out),
    ]
    capsys.readouterr()
    assert main(base + ["--tumor-type", "LUNGX"]) == 2
    assert "expected an OncoTree code" in capsys.readouterr().err and not out.exists()
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("hello")
    bad = base.copy()
    bad[2] = str(not_parquet)
    assert main(bad + ["--tumor-type", "LUAD"]) == 2
    err = capsys.readouterr().err
    assert "x.parquet: expected an annotated Parquet table" in err and not out.exists()
    bad_kb = tmp_path / "kb_bad.json"
    bad_kb.write_text("[]")
    bad = base.copy()
    bad[6] = str(bad_kb)
    assert main(bad + ["--tumor-type", "LUAD"]) == 2
    assert "expected a snapshot" in capsys.readouterr().err


# ---- tiering cross-walk -------------------------------------------------------------------------
def _statement(
    escat="I-A", amp="A", effect="sensitivity", kind="variant", ema=True, fda=True, allele_specific=False
):
    from ccevariants.kb.model import statement_from_dict

    biomarker = {"type": kind, "gene": "EGFR"}
    if kind == "variant":
        biomarker["alterations"] = ["L858R"]
    elif kind == "functional":
        biomarker["function"] = "activating"
    doc = {
        "id": "T1",
        "biomarker": biomarker,
        "disease": {"codes": ["NSCLC"]},
        "therapy": {"drugs": ["x"]},
        "effect": effect,
        "evidence": {"escat": escat, "amp_level": amp},
        "references": {},
        "source": "t",
        "regulatory": {"EMA": {"approved": ema}, "FDA": {"approved": fda}},
    }
    return statement_from_dict(doc)


@pytest.mark.parametrize(
    "escat, match_type, disease, expected",
    [
        ("I-A", "exact", "same", ("I-A", "I", "A", {"EMA": True, "FDA": True})),
        ("I-B", "exact", "ancestor", ("I-B", "I", "A", {"EMA": True, "FDA": True})),
        ("II-B", "exact", "same", ("II-B", "I", "B", {"EMA": True, "FDA": True})),
        ("I-A", "exact", "pan_cancer", ("I-C", "I", "A", {"EMA": True, "FDA": True})),
        ("II-B", "exact", "pan_cancer", ("II-B", "I", "B", {"EMA": True, "FDA": True})),
        ("I-A", "exact", "other", ("III-A", "II", "C", {"EMA": False, "FDA": False})),
        ("IV-A", "exact", "other", ("IV-A", "II", "D", {"EMA": False, "FDA": False})),
        ("I-A", "codon", "same", ("III-B", "II", "C", {"EMA": False, "FDA": False})),
        ("I-A", "functional", "same", ("III-B", "II", "D", {"EMA": False, "FDA": False})),
        ("I-A", "codon", "other", None),
    ],
)
def test_tier_crosswalk(escat, match_type, disease, expected):
    from ccevariants.tiering import tier

    decision = tier(_statement(escat=escat), match_type, disease)
    got = (
        None
        if decision is None
        else (decision.escat, decision.amp_tier, decision.amp_level, decision.on_label)
    )
    assert got == expected


def test_tier_fda_only_label_is_off_label_in_eu_and_amp_derivation():
    from ccevariants.tiering import tier

    d = tier(_statement(ema=False, fda=True), "exact", "same")
    assert d.on_label == {"EMA": False, "FDA": True} and d.amp_level == "A"
    d = tier(_statement(escat=None, amp="B", ema=False, fda=False), "exact", "same")
    assert d.escat == "II-A" and "derived from the source's AMP level B" in d.notes[0]
    # functional statement matched functionally is its own class, not a similar alteration
    d = tier(_statement(kind="functional"), "functional", "same")
    assert d.escat == "I-A" and d.similar is False
    # resistance keeps its grade but is never on-label
    d = tier(_statement(effect="resistance"), "exact", "same")
    assert d.escat == "I-A" and d.on_label == {"EMA": False, "FDA": False}


def test_match_input_errors(tmp_path, snapshot):
    from ccevariants.errors import SchemaError
    from ccevariants.match import read_variants

    with pytest.raises(InputError, match="expected an existing annotated Parquet table"):
        read_variants(tmp_path / "none.parquet")
    with pytest.raises(InputError, match="expected a biomarkers JSON object; found list"):
        match_patient(table(), [], "LUAD", snapshot)
    doc = run(snapshot, [variant("EGFR", "L858R")], "LUAD")
    doc["findings"][0]["escat"] = "I-Z"
    with pytest.raises(SchemaError, match="findings/0/escat"):
        validate_matches(doc)


def test_two_variants_matching_one_statement_are_both_reported(snapshot):
    rows = [
        variant("PIK3CA", "E545K", exon="10/21", pos=100),
        variant("PIK3CA", "H1047R", exon="21/21", pos=200),
    ]
    doc = run(snapshot, rows, "IDC")
    alpelisib = sorted(
        f["alteration"]
        for f in doc["findings"]
        if f["evidence"]["statement_id"] == "CCEV-BRCA-PIK3CA-ALPELISIB-FULVESTRANT"
    )
    assert alpelisib == ["E545K", "H1047R"]
    assert len({f["finding_id"] for f in doc["findings"]}) == len(doc["findings"])
    assert doc["unmatched"] == []
