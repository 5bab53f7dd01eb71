"""The matcher's safety fields in the report: oncogenicity, pending (requires confirmation),
resistance conflicts, merged statements; in the JSON, HTML, TSV and the cohort tables."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from test_report_fixtures import (
    biomarkers,
    filtered_frame,
    finding,
    normalize_stats,
    nsclc_matches,
    nsclc_variants,
    sheet_row,
)

from ccevariants.errors import InputError
from ccevariants.report import validate_document, write_report

DATE = "2026-11-28"
L858R = "chr7:55191822:T:G"
T790M = "chr7:55181378:C:T"

WT_ASSESSMENT = {
    "assessable": False,
    "basis": {"NRAS": "coverage_locus"},
    "details": ["NRAS codons 12, 13, 59, 61, 117, 146: every codon adequately covered (per-locus coverage)"],
    "problems": ["KRAS codons 12, 13, 59, 61, 117, 146: codon(s) 59, 61 not adequately covered"],
}


def pending(fid, therapy, escat="I-A"):
    """A matches.json ``pending`` entry in the contract shape (matches.schema.json $defs/pending)."""
    return {
        "finding_id": fid, "gene": "KRAS/NRAS", "alteration": "RAS wild-type (KRAS/NRAS codons 12, 13, 59, 61, 117, 146)",
        "category": "biomarker", "variant_id": None, "match_type": "wildtype", "effect": "sensitivity",
        "therapies": [therapy], "disease_match": "ancestor",
        "evidence": {"source": "ccev-curated", "statement_id": f"S-{fid}", "references": ["PMID:18316791"]},
        "indication": {"context": "metastatic; greatest benefit in left-sided primaries"}, "regulatory": {},
        "notes": None, "status": "not_assessable", "requires_confirmation": True, "escat_if_confirmed": escat,
        "amp_tier_if_confirmed": "I", "amp_level_if_confirmed": "A",
        "on_label_if_confirmed": {"EMA": True, "FDA": True},
        "reason": "wild-type status not assessable: " + WT_ASSESSMENT["problems"][0],
        "wildtype_assessment": WT_ASSESSMENT,
        "trace": ["t1", "t2", "t3", "t4"],
    }  # fmt: skip


def safety_matches():
    m = nsclc_matches()
    for f in m["findings"]:
        f["oncogenicity"] = "oncogenic"
        f["oncogenicity_reason"] = "hotspot in OncoKB-style curated list"
    l858r = next(f for f in m["findings"] if f["finding_id"] == "F1")
    # gefitinib on L858R, resisted by the co-occurring T790M (F3)
    m["findings"].append(
        finding("F6", "EGFR", "L858R", L858R, "sensitivity", ["gefitinib"], "I-A", "I", True, True,
                oncogenicity="oncogenic", oncogenicity_reason="known hotspot",
                resistance_conflicts=[{"statement_id": "S-F3", "gene": "EGFR", "alteration": "T790M",
                                       "variant_id": T790M, "drugs": ["gefitinib"], "escat": "I-A"}])
    )  # fmt: skip
    l858r["merged_statements"] = [
        {"statement_id": "S-ADJ", "source": "ccev-curated", "context": "resected stage IB-IIIA, adjuvant",
         "on_label": {"EMA": True, "FDA": False}, "references": ["PMID:32955177", "NCT02511106"]}
    ]  # fmt: skip
    m["unmatched"][0]["oncogenicity"] = "likely_oncogenic"
    m["unmatched"][0]["oncogenicity_reason"] = "TP53 DNA-binding-domain missense"
    m["pending"] = [pending("P2", "panitumumab"), pending("P1", "cetuximab")]
    return m


def _write(tmp_path, name="out", matches=None):
    paths = write_report(
        "P001", sheet_row(), matches or safety_matches(), nsclc_variants(), biomarkers(), normalize_stats(),
        filtered_frame(), tmp_path / name, provenance={"genome_build": "GRCh38"}, fixed_date=DATE,
    )  # fmt: skip
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    return paths, doc, paths["html"].read_text(encoding="utf-8")


def _section(html: str, ident: str) -> str:
    start = html.index(f'<section id="{ident}">')
    return html[start : html.index("</section>", start)]


def test_pending_in_json_never_a_key_finding(tmp_path):
    _, doc, _ = _write(tmp_path)
    validate_document(doc)
    assert doc["schema_version"] == "1.2.0"
    assert [p["finding_id"] for p in doc["pending"]] == ["P1", "P2"]  # sorted by gene, alteration, statement
    p1 = doc["pending"][0]
    assert p1["status"] == "not_assessable" and p1["requires_confirmation"] is True
    assert p1["escat_if_confirmed"] == "I-A" and "escat" not in p1
    assert p1["message"] == (
        "RAS wild-type (KRAS/NRAS codons 12, 13, 59, 61, 117, 146) not assessable — KRAS codons 12, 13, 59, 61, "
        "117, 146: codon(s) 59, 61 not adequately covered; confirm before cetuximab"
    )
    assert p1["evidence"]["references"] == [
        {"label": "PMID:18316791", "url": "https://pubmed.ncbi.nlm.nih.gov/18316791/"}
    ]
    assert not {"P1", "P2"} & set(doc["key_findings"])
    assert not {"P1", "P2"} & {f["finding_id"] for f in doc["findings"]}


def test_requires_confirmation_block_on_front_page(tmp_path):
    _, _, html = _write(tmp_path)
    front = _section(html, "key-findings")
    block = front[
        front.index('id="requires-confirmation"') : front.index(
            "</div>", front.index("requires-confirmation")
        )
    ]
    # one line for the shared requirement, naming both therapies
    assert block.count('class="pending-item"') == 1
    assert (
        "<b>RAS wild-type (KRAS/NRAS codons 12, 13, 59, 61, 117, 146) not assessable — KRAS codons 12, 13, 59, 61, "
        "117, 146: codon(s) 59, 61 not adequately covered; confirm before cetuximab / panitumumab.</b>"
        in block
    )
    assert "(indication: metastatic; greatest benefit in left-sided primaries)" in block
    assert "Assessable: NRAS codons 12, 13, 59, 61, 117, 146: every codon adequately covered" in block
    # no ESCAT badge anywhere for the pending entries, and not in the key-findings table
    assert 'class="tier' not in block
    table = front[front.index('id="key-findings-table"') :]
    assert "RAS wild-type" not in table and "panitumumab" not in table
    # it comes before the ranked key findings
    assert front.index("requires-confirmation") < front.index("key-findings-table")


def test_no_confirmation_block_without_pending(tmp_path):
    m = safety_matches()
    m["pending"] = []
    _, doc, html = _write(tmp_path, matches=m)
    assert doc["pending"] == []
    assert "requires-confirmation" not in html


def test_resistance_conflict_next_to_affected_finding(tmp_path):
    _, doc, html = _write(tmp_path)
    f6 = next(f for f in doc["findings"] if f["finding_id"] == "F6")
    assert f6["resistance_conflicts"] == [
        {"statement_id": "S-F3", "gene": "EGFR", "alteration": "T790M", "variant_id": T790M, "drugs": ["gefitinib"],
         "escat": "I-A"}
    ]  # fmt: skip
    assert next(f for f in doc["findings"] if f["finding_id"] == "F1")["resistance_conflicts"] == []
    front = _section(html, "key-findings")
    rows = re.findall(r"<tr>.*?</tr>", front, flags=re.S)
    flagged = [r for r in rows if "⚠ co-occurring EGFR T790M confers resistance (ESCAT I-A)" in r]
    assert len(flagged) == 1 and "<td>gefitinib<br>" in flagged[0]
    # the osimertinib row of L858R carries no warning (T790M does not resist osimertinib)
    osi = [r for r in rows if "<td>osimertinib" in r]
    assert osi and all("co-occurring" not in r for r in osi)
    assert front.count("⚠ co-occurring") == 1


def test_merged_statements_in_evidence_column(tmp_path):
    _, doc, html = _write(tmp_path)
    f1 = next(f for f in doc["findings"] if f["finding_id"] == "F1")
    assert f1["merged_statements"] == [
        {"statement_id": "S-ADJ", "source": "ccev-curated", "context": "resected stage IB-IIIA, adjuvant",
         "on_label": {"EMA": True, "FDA": False},
         "references": [{"label": "PMID:32955177", "url": "https://pubmed.ncbi.nlm.nih.gov/32955177/"},
                        {"label": "NCT02511106", "url": "https://clinicaltrials.gov/study/NCT02511106"}]}
    ]  # fmt: skip
    actionable = _section(html, "actionable")
    row = next(r for r in re.findall(r"<tr>.*?</tr>", actionable, flags=re.S) if "S-F1" in r)
    assert "Also supported by:" in row
    assert (
        '<span class="mono">S-ADJ</span> — resected stage IB-IIIA, adjuvant; EMA on-label, FDA off-label'
        in row
    )
    assert (
        '<a href="https://clinicaltrials.gov/study/NCT02511106" rel="noreferrer noopener">NCT02511106</a>'
        in row
    )
    assert actionable.count("Also supported by:") == 1


def test_oncogenicity_in_variant_tables_json_and_tsv(tmp_path):
    paths, doc, html = _write(tmp_path)
    by_id = {v["variant_id"]: v for v in doc["variants"]}
    assert by_id[L858R]["oncogenicity"] == "oncogenic"
    assert by_id["chr17:7673802:C:T"]["oncogenicity"] == "likely_oncogenic"  # from the unmatched entry
    assert by_id["chr17:7673802:C:T"]["oncogenicity_reason"] == "TP53 DNA-binding-domain missense"
    assert doc["unmatched"][0]["oncogenicity"] == "likely_oncogenic"
    vus = _section(html, "appendix-vus")
    assert "<th>Oncogenicity</th>" in vus
    tp53 = next(r for r in re.findall(r"<tr>.*?</tr>", vus, flags=re.S) if "TP53" in r and "c." in r)
    assert 'title="TP53 DNA-binding-domain missense">Likely oncogenic</td>' in tp53
    unmatched = vus[vus.index('id="unmatched-table"') :]
    assert "Likely oncogenic<br>" in unmatched
    variants = _section(html, "variants")
    egfr = next(r for r in re.findall(r"<tr>.*?</tr>", variants, flags=re.S) if "p.Leu858Arg" in r)
    assert ">Oncogenic</td>" in egfr
    rows = list(csv.DictReader(io.StringIO(paths["tsv"].read_text()), delimiter="\t", quoting=csv.QUOTE_NONE))
    f6 = next(
        r
        for r in rows
        if r["record"] == "finding" and r["therapies"] == "gefitinib" and r["alteration"] == "L858R"
    )
    assert f6["oncogenicity"] == "oncogenic"
    assert f6["note"] == "co-occurring EGFR T790M confers resistance to gefitinib"
    tp53_row = next(r for r in rows if r["record"] == "variant" and r["variant_id"] == "chr17:7673802:C:T")
    assert tp53_row["oncogenicity"] == "likely_oncogenic"
    pend = [r for r in rows if r["record"] == "pending"]
    assert [r["therapies"] for r in pend] == ["cetuximab", "panitumumab"]
    assert all(r["escat"] == "" and r["amp_tier"] == "" for r in pend)
    assert pend[0]["note"].startswith(
        "RAS wild-type (KRAS/NRAS codons 12, 13, 59, 61, 117, 146) not assessable"
    )


def test_older_matches_without_safety_fields(tmp_path):
    """A matches.json without the new fields still renders: oncogenicity null, no block."""
    _, doc, html = _write(tmp_path, matches=nsclc_matches())
    validate_document(doc)
    assert all(f["oncogenicity"] is None and f["merged_statements"] == [] for f in doc["findings"])
    assert doc["pending"] == [] and doc["unmatched"][0]["oncogenicity"] is None
    vus = _section(html, "appendix-vus")
    assert 'class="onc onc-none">—</td>' in vus


def test_asserted_wildtype_with_assessment_has_no_caveat(tmp_path):
    m = safety_matches()
    ok = dict(
        WT_ASSESSMENT,
        assessable=True,
        problems=[],
        basis={"KRAS": "coverage_locus", "NRAS": "coverage_locus"},
    )
    m["findings"].append(
        finding("W1", "KRAS/NRAS", "RAS wild-type", None, "sensitivity", ["cetuximab"], "I-A", "I", True, True,
                category="biomarker", match_type="wildtype", wildtype_assessment=ok)
    )  # fmt: skip
    _, doc, html = _write(tmp_path, matches=m)
    w1 = next(f for f in doc["findings"] if f["finding_id"] == "W1")
    # the matcher confirmed coverage: no second, contradicting caveat (the report has no coverage data)
    assert w1["caveat"] is None
    assert w1["wildtype_assessment"]["assessable"] is True
    assert "wild-type status is inferred" not in html


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"pending": {"gene": "KRAS"}}, "expected 'pending' to be a list"),
        ({"pending": ["x"]}, "expected pending[0] to be an object; found str"),
        ({"pending": [{"gene": "KRAS", "therapies": []}]}, "expected pending[0] to have alteration, reason"),
    ],
)
def test_malformed_pending_rejected(tmp_path, bad, message):
    m = safety_matches()
    m.update(bad)
    with pytest.raises(InputError, match=re.escape(message)):
        _write(tmp_path, matches=m)
    assert not (tmp_path / "out").exists()


def test_cohort_carries_oncogenicity_and_pending(tmp_path):
    from ccevariants.cohort import build_cohort

    paths, _, _ = _write(tmp_path)
    out = build_cohort([paths["json"]], tmp_path / "cohort")
    import pandas as pd

    findings = pd.read_csv(out["findings.tsv"], sep="\t", keep_default_na=False)
    variants = pd.read_csv(out["variants.tsv"], sep="\t", keep_default_na=False)
    bm = pd.read_csv(out["biomarkers.tsv"], sep="\t", keep_default_na=False)
    assert set(findings["oncogenicity"]) == {"oncogenic"}
    f6 = findings[(findings["alteration"] == "L858R") & (findings["therapies"] == "gefitinib")]
    assert f6["resistance_conflicts"].tolist() == ["EGFR T790M"]
    assert variants.set_index("variant_id").loc["chr17:7673802:C:T", "oncogenicity"] == "likely_oncogenic"
    assert bm["n_pending"].tolist() == [2]
    html = out["index.html"].read_text()
    assert html.count("not assessable — KRAS codons") == 1  # one line for both therapies
    assert "not adequately covered; confirm before cetuximab / panitumumab</span>" in html
    assert re.search(r"<td>Likely oncogenic</td><td class=\"num\">1</td>", html)
