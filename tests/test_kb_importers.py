"""Knowledge-base importers on the real public files (counts) and a CIViC fixture in CIViC's format."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ccevariants.errors import KnowledgeBaseError
from ccevariants.kb.genes import GeneAliases
from ccevariants.kb.importers.cgi import parse_part
from ccevariants.kb.importers.civic import COLUMNS as CIVIC_COLUMNS
from ccevariants.kb.importers.civic import parse_profile
from ccevariants.kb.snapshot import build_snapshot, snapshot_from_document
from ccevariants.match import match_patient
from ccevariants.oncotree import OncoTree

# the variant-table builders of test_match.py, loaded by path (works with or without tests/__init__.py)
_spec = importlib.util.spec_from_file_location("_ccev_test_match", Path(__file__).with_name("test_match.py"))
_builders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_builders)
biomarkers, table, variant = _builders.biomarkers, _builders.table, _builders.variant


@pytest.fixture(scope="module")
def release(shared_data):
    return OncoTree.load(shared_data / "oncotree" / "oncotree_2025_10_03.json")


@pytest.fixture(scope="module")
def aliases(shared_data):
    return GeneAliases.load(shared_data / "gene-aliases" / "org.Hs.eg.genes.tsv")


@pytest.fixture(scope="module")
def moalmanac(shared_data, release, aliases):
    return build_snapshot(
        [("moalmanac", str(shared_data / "kb-moalmanac-db" / "referenced"))],
        oncotree=release,
        aliases=aliases,
    )


@pytest.fixture(scope="module")
def cgi(shared_data, release, aliases):
    return build_snapshot(
        [("cgi", str(shared_data / "kb-cgi-biomarkers" / "cgi_biomarkers_per_variant.tsv"))],
        oncotree=release,
        aliases=aliases,
    )


def test_gene_aliases_real_table(aliases):
    assert aliases.resolve("MLL") == "KMT2A"
    assert aliases.resolve("her2") == "ERBB2"
    assert aliases.resolve("EGFR") == "EGFR"
    assert aliases.resolve("NOTAGENE1") is None
    assert len(aliases.symbols) == 77510  # 77,614 rows; symbols unique after upper-casing


def test_moalmanac_counts_every_row(moalmanac):
    src = moalmanac["manifest"]["sources"][0]
    assert src["research_only"] is True and src["licence"] == "GPL-2.0"
    assert src["version"] == "2026-05-07"
    assert src["rows_read"] == 1944
    assert src["imported"] == 495
    assert src["skipped"] == {
        "disease not coded in OncoTree": 27,
        "merged into one statement per proposition (other agency / document)": 721,
        "no genomic biomarker": 661,
        "unknown OncoTree code": 22,
        "unsupported biomarker": 18,
    }
    assert src["imported"] + sum(src["skipped"].values()) == src["rows_read"]
    assert any("research" in w for w in moalmanac["manifest"]["warnings"])
    docs = {d["id"]: d for d in moalmanac["statements"]}
    # every imported statement names at least one agency approval (FDA/EMA, or another agency in references)
    assert all(
        any(a.get("approved") for a in d["regulatory"].values()) or d["references"]["other"]
        for d in docs.values()
    )
    only_other = [d for d in docs.values() if not any(a.get("approved") for a in d["regulatory"].values())]
    assert only_other and all(
        o.split(":")[0] in ("hc", "hse", "hpra") for d in only_other for o in d["references"]["other"]
    )


def test_moalmanac_matches_egfr_l858r_luad(moalmanac, release):
    snap = snapshot_from_document(moalmanac)
    doc = match_patient(
        table(variant("EGFR", "L858R", exon="21/28")), biomarkers(), "LUAD", snap, oncotree=release
    )
    osi = [
        f
        for f in doc["findings"]
        if f["therapies"] == ["osimertinib"] and f["disease_match"] in ("same", "ancestor")
    ]
    assert osi and osi[0]["escat"] == "I-A" and osi[0]["on_label"]["FDA"] is True
    assert any("derived from the source's AMP level A" in t for t in osi[0]["trace"])


def test_moalmanac_genomic_key_grch37(moalmanac, release):
    snap = snapshot_from_document(moalmanac)
    row = variant("BRAF", "", chrom="7", pos=140453136, ref="A", alt="T")
    doc = match_patient(table(row), biomarkers(), "SKCM", snap, oncotree=release, genome_build="GRCh37")
    assert any(
        f["match_type"] == "exact" and "genomic key 7:140453136:A:T" in f["trace"][1] for f in doc["findings"]
    )


def test_cgi_counts_every_row(cgi):
    src = cgi["manifest"]["sources"][0]
    assert src["research_only"] is True
    assert src["rows_read"] == 1442
    assert src["imported"] == 870
    assert src["skipped"] == {
        "biallelic inactivation (not modelled)": 6,
        "merged (per-variant expansion of one biomarker)": 367,
        "toxicity association (not modelled)": 40,
        "unknown gene": 1,
        "unmapped CGI tumour type": 38,
        "unsupported alteration": 120,
    }
    assert src["imported"] + sum(src["skipped"].values()) == src["rows_read"]
    assert src["normalised_genes"] == {"MLL": "KMT2A"}
    assert cgi["manifest"]["conflicts"] == []


def test_cgi_alteration_grammar():
    assert parse_part("EGFR:L858R,L861Q") == {
        "type": "variant",
        "gene": "EGFR",
        "alterations": ["L858R", "L861Q"],
    }
    assert parse_part("BRAF:V600.") == {"type": "codon", "gene": "BRAF", "alterations": ["V600"]}
    assert parse_part("KIT:550-552")["alterations"] == ["550", "551", "552"]
    assert parse_part("ALK__.") == {"type": "fusion", "gene": "ALK"}
    assert parse_part("ABL1__BCR") == {"type": "fusion", "gene": "ABL1", "partner": "BCR"}
    assert parse_part("ERBB2:amp") == {"type": "amplification", "gene": "ERBB2"}
    assert parse_part("KRAS:.") == {"type": "functional", "gene": "KRAS", "function": "oncogenic"}


# fmt: off
CIVIC_ROWS = [
    # molecular_profile, disease, therapies, interaction, type, direction, level, significance, status, eid
    ("BRAF V600E", "Melanoma", "Dabrafenib,Trametinib", "Combination", "Predictive", "Supports", "A", "Sensitivity/Response", "accepted", "1"),
    ("KRAS G12", "Colorectal Cancer", "Cetuximab", "", "Predictive", "Supports", "B", "Resistance", "accepted", "2"),
    ("EGFR Exon 19 Deletion", "Lung Non-small Cell Carcinoma", "Gefitinib", "", "Predictive", "Supports", "B", "Sensitivity/Response", "accepted", "3"),
    ("EML4::ALK Fusion", "Lung Adenocarcinoma", "Crizotinib", "", "Predictive", "Supports", "C", "Sensitivity/Response", "accepted", "4"),
    ("BRAF V600E AND MAP2K1 C121S", "Melanoma", "Vemurafenib", "", "Predictive", "Supports", "D", "Resistance", "accepted", "5"),
    ("KRAS G12D OR KRAS G13D", "Colorectal Cancer", "Cetuximab", "", "Predictive", "Supports", "B", "Resistance", "accepted", "6"),
    ("ERBB2 Overexpression", "Breast Cancer", "Trastuzumab", "", "Predictive", "Supports", "A", "Sensitivity/Response", "accepted", "7"),
    ("EGFR T790M", "Lung Non-small Cell Carcinoma", "Erlotinib", "", "Predictive", "Does Not Support", "B", "Sensitivity/Response", "accepted", "8"),
    ("BRCA1 Mutation", "Breast Cancer", "", "", "Predisposing", "Supports", "B", "Predisposition", "accepted", "9"),
    ("EGFR L858R", "Lung Non-small Cell Carcinoma", "Osimertinib", "", "Predictive", "Supports", "B", "Sensitivity/Response", "submitted", "10"),
    ("IDH1 R132H", "Chondrosarcoma Of The Moon", "Ivosidenib", "", "Predictive", "Supports", "B", "Sensitivity/Response", "accepted", "11"),
    ("NTRK1 Fusion", "Cancer", "", "", "Predictive", "Supports", "B", "Sensitivity/Response", "accepted", "12"),
    ("PIK3CA E545K", "Breast Cancer", "Alpelisib", "", "Predictive", "Supports", "Z", "Sensitivity/Response", "accepted", "13"),
    ("TP53 Mutation", "Chronic Lymphocytic Leukemia", "", "", "Prognostic", "Supports", "B", "Poor Outcome", "accepted", "14"),
    ("NTRK3 Fusion", "Solid Tumor", "Larotrectinib,Entrectinib", "Substitutes", "Predictive", "Supports", "B", "Sensitivity/Response", "accepted", "15"),
]
# fmt: on


def write_civic(tmp_path):
    path = tmp_path / "nightly-ClinicalEvidenceSummaries.tsv"
    lines = ["\t".join(CIVIC_COLUMNS)]
    for mp, disease, therapies, interaction, etype, direction, level, sig, status, eid in CIVIC_ROWS:
        row = dict.fromkeys(CIVIC_COLUMNS, "")
        row.update(
            molecular_profile=mp,
            molecular_profile_id=eid,
            disease=disease,
            doid="0",
            therapies=therapies,
            therapy_interaction_type=interaction,
            evidence_type=etype,
            evidence_direction=direction,
            evidence_level=level,
            significance=sig,
            evidence_statement="x",
            citation_id=str(1000 + int(eid)),
            source_type="PubMed",
            rating="4",
            evidence_status=status,
            evidence_id=eid,
            variant_origin="Somatic",
            evidence_civic_url=f"https://civicdb.org/links/evidence_items/{eid}",
            is_flagged="false",
        )
        lines.append("\t".join(row[c] for c in CIVIC_COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_civic_fixture_counts_and_mapping(tmp_path, release, aliases):
    doc = build_snapshot([("civic", str(write_civic(tmp_path)))], oncotree=release, aliases=aliases)
    src = doc["manifest"]["sources"][0]
    assert src["research_only"] is False and src["licence"] == "CC0-1.0"
    assert src["rows_read"] == 15 and src["imported"] == 7
    assert src["skipped"] == {
        "disease not mapped to OncoTree": 1,
        "does not support": 1,
        "evidence type not modelled": 1,
        "malformed row": 2,
        "not accepted": 1,
        "unsupported molecular profile": 2,
    }
    by_id = {s["id"]: s for s in doc["statements"]}
    assert by_id["CIVIC-EID1"]["therapy"] == {"drugs": ["dabrafenib", "trametinib"], "combination": True}
    assert by_id["CIVIC-EID1"]["disease"]["codes"] == ["MEL"]
    assert by_id["CIVIC-EID1"]["evidence"]["escat"] == "I-A" and by_id["CIVIC-EID1"]["references"][
        "pmids"
    ] == ["1001"]
    assert by_id["CIVIC-EID2"]["biomarker"] == {"type": "codon", "gene": "KRAS", "alterations": ["G12"]}
    assert by_id["CIVIC-EID2"]["effect"] == "resistance"
    assert by_id["CIVIC-EID3"]["biomarker"]["exon_class"] == "deletion"
    assert by_id["CIVIC-EID4"]["biomarker"] == {"type": "fusion", "gene": "ALK", "partner": "EML4"}
    assert by_id["CIVIC-EID4"]["evidence"]["escat"] == "IV-A"  # case study never ranks as tier I-III
    assert by_id["CIVIC-EID5"]["biomarker"]["type"] == "all_of"
    assert by_id["CIVIC-EID14"]["effect"] == "prognostic" and by_id["CIVIC-EID14"]["disease"]["codes"] == [
        "CLLSLL"
    ]
    assert (
        by_id["CIVIC-EID15"]["disease"]["codes"] == ["SOLID"]
        and by_id["CIVIC-EID15"]["therapy"]["combination"] is False
    )
    assert any("Chondrosarcoma Of The Moon" in p for p in src["problems"])
    with pytest.raises(KnowledgeBaseError, match="expected every source row to import"):
        build_snapshot(
            [("civic", str(write_civic(tmp_path)))], oncotree=release, aliases=aliases, strict=True
        )


def test_civic_profiles_and_bad_header(tmp_path):
    assert parse_profile("MET Exon 14 Skipping Mutation")["exon_class"] == "skipping"
    assert parse_profile("ERBB2 Amplification") == {"type": "amplification", "gene": "ERBB2"}
    assert parse_profile("v::RET Fusion") == {"type": "fusion", "gene": "RET"}
    bad = tmp_path / "civic.tsv"
    bad.write_text("gene\tvariant\nBRAF\tV600E\n")
    with pytest.raises(KnowledgeBaseError, match="civic.tsv:1: expected the CIViC evidence columns"):
        build_snapshot([("civic", str(bad))])


def test_missing_source_paths(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="expected the MOAlmanac referenced/ directory"):
        build_snapshot([("moalmanac", str(tmp_path / "nope"))])
    with pytest.raises(KnowledgeBaseError, match="expected MOAlmanac file about.json"):
        build_snapshot([("moalmanac", str(tmp_path))])
    with pytest.raises(KnowledgeBaseError, match="expected the CGI biomarkers TSV"):
        build_snapshot([("cgi", str(tmp_path / "nope.tsv"))])
    with pytest.raises(KnowledgeBaseError, match="expected --source cgi=PATH"):
        build_snapshot([("cgi", None)])


def test_moalmanac_broken_json_and_cgi_fixture_reasons(tmp_path):
    from ccevariants.kb.importers.moalmanac import FILES

    moa = tmp_path / "moa"
    moa.mkdir()
    for name in FILES:
        (moa / f"{name}.json").write_text("{}" if name == "about" else "[]")
    (moa / "statements.json").write_text('[{"id": 0,')
    with pytest.raises(KnowledgeBaseError, match="statements.json:1: expected valid JSON"):
        build_snapshot([("moalmanac", str(moa))])
    (moa / "statements.json").write_text("[]")
    assert build_snapshot([("moalmanac", str(moa))])["manifest"]["sources"][0]["rows_read"] == 0

    header = [
        "Alteration",
        "Alteration type",
        "Association",
        "Biomarker",
        "Drug",
        "Drug family",
        "Evidence level",
        "Gene",
        "Primary Tumor acronym",
        "Source",
        "Primary Tumor type",
    ]
    rows = [
        [
            "BRAF:V600E",
            "MUT",
            "Responsive",
            "BRAF (V600E)",
            "Vemurafenib",
            "",
            "FDA guidelines",
            "BRAF",
            "CM",
            "FDA",
            "Cutaneous melanoma",
        ],
        [
            "BRAF:V600E",
            "MUT",
            "Responsive",
            "BRAF (V600E)",
            "Vemurafenib",
            "",
            "FDA guidelines",
            "BRAF",
            "CM",
            "FDA",
            "Cutaneous melanoma",
        ],
        [
            "KRAS:G12.",
            "MUT",
            "Resistant",
            "KRAS (G12)",
            "Cetuximab",
            "",
            "Late trials",
            "KRAS",
            "COREAD",
            "PMID:18316791 ",
            "Colorectal",
        ],
        [
            "EGFR:L858R",
            "MUT",
            "Sometimes",
            "EGFR (L858R)",
            "Erlotinib",
            "",
            "FDA guidelines",
            "EGFR",
            "LUAD",
            "FDA",
            "Lung",
        ],
        [
            "EGFR:L858R",
            "MUT",
            "Responsive",
            "EGFR (L858R)",
            "Erlotinib",
            "",
            "Rumour",
            "EGFR",
            "LUAD",
            "FDA",
            "Lung",
        ],
        [
            "EGFR:L858R",
            "MUT",
            "Responsive",
            "EGFR (L858R)",
            "Erlotinib",
            "",
            "FDA guidelines",
            "EGFR",
            "ZZZ",
            "FDA",
            "Lung",
        ],
        [
            "ESR1:over",
            "EXPR",
            "Responsive",
            "ESR1 overexpression",
            "Tamoxifen",
            "",
            "FDA guidelines",
            "ESR1",
            "BRCA",
            "FDA",
            "Breast",
        ],
        [
            "EGFR:L858R",
            "MUT",
            "Responsive",
            "EGFR (L858R)",
            "[]",
            "",
            "Early trials",
            "EGFR",
            "LUAD",
            "PMID:1",
            "Lung",
        ],
    ]
    cgi_path = tmp_path / "cgi.tsv"
    cgi_path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n")
    doc = build_snapshot([("cgi", str(cgi_path))])
    src = doc["manifest"]["sources"][0]
    assert src["imported"] == 2
    assert src["skipped"] == {
        "merged (per-variant expansion of one biomarker)": 1,
        "no drug": 1,
        "unknown association": 1,
        "unmapped CGI tumour type": 1,
        "unmapped evidence level": 1,
        "unsupported alteration": 1,
    }
    by_drug = {s["therapy"]["drugs"][0]: s for s in doc["statements"]}
    assert by_drug["vemurafenib"]["regulatory"]["FDA"]["approved"] is True
    assert by_drug["vemurafenib"]["disease"]["codes"] == ["SKCM"]
    assert by_drug["cetuximab"]["references"]["pmids"] == ["18316791"]
    assert by_drug["cetuximab"]["evidence"] == {
        "escat": "II-A",
        "amp_level": "B",
        "native_level": "CGI: Late trials",
    }
    bad = tmp_path / "bad_cgi.tsv"
    bad.write_text("Gene\tDrug\nBRAF\tx\n")
    with pytest.raises(KnowledgeBaseError, match="bad_cgi.tsv:1: expected CGI columns"):
        build_snapshot([("cgi", str(bad))])


def test_alias_table_errors(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="expected an existing gene alias table"):
        GeneAliases.load(tmp_path / "none.tsv")
    bad = tmp_path / "aliases.tsv"
    bad.write_text("gene\tsynonyms\nA\tB\n")
    with pytest.raises(KnowledgeBaseError, match="aliases.tsv:1: expected a tab-separated header"):
        GeneAliases.load(bad)
