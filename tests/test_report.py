"""Per-patient report: values in the JSON, HTML and TSV; escaping; schema; determinism; errors."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser

import pytest
from test_report_fixtures import (
    HOSTILE,
    biomarkers,
    filtered_frame,
    finding,
    normalize_stats,
    nsclc_matches,
    nsclc_variants,
    sheet_row,
    variant_row,
    variants_frame,
    write_inputs,
)

from ccevariants.cli import main
from ccevariants.errors import InputError, SchemaError
from ccevariants.report import build_document, validate_document, write_report

DATE = "2026-11-28"


def _write(tmp_path, name="out", **overrides):
    args = {
        "patient": "P001",
        "sheet_row": sheet_row(),
        "matches": nsclc_matches(),
        "variants": nsclc_variants(),
        "biomarkers": biomarkers(),
        "normalize_stats": normalize_stats(),
        "filtered": filtered_frame(),
        "outdir": tmp_path / name,
        "provenance": {"genome_build": "GRCh38", "synthetic": True},
        "fixed_date": DATE,
        "previous": None,
    }
    args.update(overrides)
    paths = write_report(**args)
    doc = json.loads(paths["json"].read_text(encoding="utf-8"))
    html = paths["html"].read_text(encoding="utf-8")
    return paths, doc, html


class _Tables(HTMLParser):
    """Collect the text of every cell of every table, by table id."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._row = None
        self._cell = None
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "table":
            self._table = attrs.get("id", f"anon{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
            self.tables[self._table].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        if tag in ("td", "th", "tr", "div", "li", "p", "br", "h1", "h2", "h3", "section", "table"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def text(html: str) -> str:
    """Visible text of the page, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join("".join(parser.parts).split())


def tables(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


# ---------------------------------------------------------------------------------------------- values


def test_key_findings_ranked_with_tiers_and_agency_labels(tmp_path):
    _, doc, html = _write(tmp_path)
    # ESCAT I-A sensitivity (by gene, alteration), then I-A resistance, then I-C, then II-B
    assert doc["key_findings"] == ["F2", "F1", "F3", "F5", "F4"]
    rows = tables(html).tables["key-findings-table"]
    header, body = rows[0], rows[1:]
    assert header == [
        "#",
        "Alteration",
        "Effect",
        "ESCAT",
        "AMP tier",
        "Therapy",
        "EMA",
        "FDA",
        "Disease match",
        "VAF",
    ]
    assert [r[0] for r in body] == ["1", "2", "3", "4", "5"]
    l858r = next(r for r in body if "L858R" in r[1])
    assert l858r[1] == "EGFR L858R (p.Leu858Arg)"
    assert l858r[2:8] == ["sensitivity", "I-A", "I (A)", "osimertinib", "on-label", "on-label"]
    assert l858r[9] == "31.1%"
    erbb2 = next(r for r in body if "ERBB2" in r[1])
    assert erbb2[3:8] == ["II-B", "I (A)", "trastuzumab deruxtecan", "off-label", "on-label"]
    t790m = next(r for r in body if "T790M" in r[1])
    assert t790m[2] == "resistance"
    assert t790m[6:8] == ["n/a (resistance)", "n/a (resistance)"]  # label status does not apply
    finding = next(f for f in doc["findings"] if f["finding_id"] == "F1")
    assert finding["on_label"] == {"EMA": True, "FDA": True}
    assert finding["hgvsc"] == "c.2573T>G" and finding["transcript"] == "ENST00000275493"
    assert finding["vaf"] == 0.3107 and finding["depth"] == 412


def test_key_findings_grouped_per_alteration(tmp_path):
    """Alternatives for one alteration share a row group; each therapy keeps its own EMA/FDA status."""
    matches = nsclc_matches()
    f1 = next(f for f in matches["findings"] if f["finding_id"] == "F1")
    matches["findings"].append(
        dict(f1, finding_id="F1b", therapies=["erlotinib", "gefitinib"], on_label={"EMA": True, "FDA": False},
             indication={"context": "advanced or metastatic, first line"})
    )  # fmt: skip
    matches["findings"].append(dict(f1, finding_id="F1c"))  # a duplicate indication: shown once
    _, doc, html = _write(tmp_path, matches=matches)
    assert doc["key_findings"][:4] == ["F2", "F1b", "F1", "F1c"]  # same tier: by therapy name
    assert (
        next(f for f in doc["findings"] if f["finding_id"] == "F1b")["indication"]
        == "advanced or metastatic, first line"
    )
    body = tables(html).tables["key-findings-table"][1:]
    assert [len(r) for r in body[:5]] == [
        10,
        10,
        3,
        3,
        10,
    ]  # L858R: 3 rows (erlotinib, gefitinib, osimertinib)
    assert body[1][1] == "EGFR L858R (p.Leu858Arg)"
    assert body[1][5:8] == ["erlotinib — advanced or metastatic, first line", "on-label", "off-label"]
    assert body[2] == ["gefitinib — advanced or metastatic, first line", "on-label", "off-label"]
    assert body[3] == ["osimertinib", "on-label", "on-label"]
    assert 'rowspan="3"' in html


def test_front_page_values(tmp_path):
    _, doc, html = _write(tmp_path)
    p = doc["patient"]
    assert p["tumor_type"] == {
        "code": "LUAD",
        "name": "Lung Adenocarcinoma",
        "lineage": ["TISSUE", "LUNG", "NSCLC", "LUAD"],
    }
    assert (p["purity"], p["assay"], p["setting"], p["genome_build"]) == (
        0.6,
        "panel",
        "tumour-only",
        "GRCh38",
    )
    page = text(html)
    assert "Tumour type Lung Adenocarcinoma (OncoTree LUAD)" in page
    assert "Assay panel, tumour-only" in page and "Tumour purity 60.0%" in page
    assert "Sample <script>alert(1)</script>" in page  # shown as text


def test_biomarkers_section(tmp_path):
    _, doc, html = _write(tmp_path)
    assert doc["biomarkers"]["tmb"]["value"] == 12.5 and doc["biomarkers"]["tmb"]["status"] == "high"
    page = text(html)
    assert "Tumour mutational burden 12.50 mut/Mb (High)" in page
    assert "25 eligible variants / 2.000 callable Mb (source: assay); threshold 10.0 mut/Mb." in page
    assert "MSI: not assessed" in page
    assert doc["biomarkers"]["cna"][0]["gene"] == "MET"


def test_variant_classes_and_tiers(tmp_path):
    _, doc, html = _write(tmp_path)
    by_id = {v["variant_id"]: v for v in doc["variants"]}
    # 7 distinct variants, of which 5 are reported: 4 actionable, TP53 VUS; the synonymous and
    # intergenic ones are counted, not listed
    assert sorted((v["gene"], v["class"], v["amp_tier"]) for v in doc["variants"]) == [
        ("EGFR", "actionable", "I"), ("EGFR", "actionable", "I"), ("EGFR", "actionable", "I"),
        ("ERBB2", "actionable", "I"), ("TP53", "vus", "III"),
    ]  # fmt: skip
    assert doc["variants_not_reported"] == {
        "count": 2,
        "by_consequence": {"intergenic_variant": 1, "synonymous_variant": 1},
    }
    assert by_id["chr17:7673802:C:T"]["note"] == "no knowledge-base statement for TP53 R273H"
    assert doc["qc"]["variants_total"] == 7 and doc["qc"]["variants_low_depth"] == 1
    assert doc["qc"]["median_depth"] == 200.0
    vus = tables(html).tables["vus-table"]
    assert vus[1][:3] == ["TP53", "ENST00000269305:c.818G>A", "p.Arg273His (p.R273H)"]
    main_rows = tables(html).tables["variants-table"][1:]
    assert [r[0] for r in main_rows] == ["EGFR", "EGFR", "EGFR", "ERBB2"]
    assert main_rows[0][3] == "chr7:55174771 AGGAATTAAGAGAAGC>A"


def test_germline_flag_tumour_only_and_not_when_paired(tmp_path):
    _, doc, html = _write(tmp_path)
    assert [g["gene"] for g in doc["germline"]] == ["TP53"]
    assert "heterozygous" in doc["germline"][0]["reason"]
    assert "germline testing" in doc["germline"][0]["recommendation"]
    assert 'id="germline-flag"' in html
    _, paired, html2 = _write(tmp_path, "paired", sheet_row=sheet_row(normal_sample="NORMAL"))
    assert paired["germline"] == [] and paired["patient"]["setting"] == "paired"
    assert 'id="germline-flag"' not in html2


@pytest.mark.parametrize(
    ("gene", "vaf", "consequence", "flagged"),
    [
        ("BRCA2", 0.95, "frameshift_variant", True),
        ("BRCA2", 0.40, "stop_gained", True),
        ("BRCA2", 0.60, "missense_variant", True),
        ("BRCA2", 0.39, "missense_variant", False),
        ("BRCA2", 0.75, "missense_variant", False),
        ("BRCA2", 0.50, "synonymous_variant", False),
        ("EGFR", 0.50, "missense_variant", False),
    ],
)
def test_germline_rule(gene, vaf, consequence, flagged):
    from ccevariants.report.clinical import germline_suspect

    assert (germline_suspect(gene, vaf, consequence) is not None) is flagged


def test_pertinent_negatives_without_coverage(tmp_path):
    _, doc, html = _write(tmp_path)
    neg = {n["label"]: n for n in doc["pertinent_negatives"]["items"]}
    assert doc["pertinent_negatives"]["lineage_code"] == "NSCLC"
    assert neg["EGFR mutation (exon 18-21)"]["status"] == "detected"
    assert "EGFR p.L858R" in neg["EGFR mutation (exon 18-21)"]["detail"]
    assert neg["BRAF V600"]["status"] == "not_assessable"
    assert "cannot prove absence" in neg["BRAF V600"]["detail"]
    assert neg["ALK fusion"]["status"] == "not_assessable"  # no SV input in the sheet row
    assert neg["ERBB2 mutation"]["status"] == "detected"
    assert neg["TMB-high (>= 10 mut/Mb)"]["status"] == "detected"
    rows = {r[0]: r for r in tables(html).tables["negatives-table"][1:]}
    assert rows["BRAF V600"][1] == "Not assessable"
    assert any("does not prove absence of the alteration" in lim for lim in doc["limitations"])


def test_pertinent_negatives_with_coverage_and_fusions(tmp_path):
    bm = biomarkers()
    bm["coverage"] = [
        {"gene": "BRAF", "adequate": True, "mean_depth": 480.0, "min_depth": 310, "threshold": 100},
        {"gene": "KRAS", "adequate": False, "mean_depth": 40.0, "min_depth": 12, "threshold": 100},
    ]
    bm["fusions"] = [{"gene5": "EML4", "gene3": "ALK", "chrom5": "chr2", "pos5": 42299000, "chrom3": "chr2",
                      "pos3": 29223000, "in_frame": True, "supporting_reads": 12, "source": "sv_vcf"}]  # fmt: skip
    _, doc, _ = _write(tmp_path, biomarkers=bm, sheet_row=sheet_row(sv_vcf="sv/x.vcf"))
    neg = {n["label"]: n for n in doc["pertinent_negatives"]["items"]}
    assert neg["BRAF V600"]["status"] == "not_detected" and "min depth 310" in neg["BRAF V600"]["detail"]
    assert neg["KRAS G12C"]["status"] == "not_assessable" and "below threshold" in neg["KRAS G12C"]["detail"]
    assert neg["ALK fusion"]["status"] == "detected" and neg["ALK fusion"]["detail"] == "EML4-ALK"
    assert neg["ROS1 fusion"]["status"] == "not_detected"


def test_pertinent_negative_exact_alteration_and_lineages():
    from ccevariants.report.clinical import negatives_for

    kras = variant_row("chr12", 25245351, "C", "A", gene="KRAS", consequence="missense_variant",
                       hgvsp_short="p.G12C", protein_position=12, exon="2/5")  # fmt: skip
    kras_g12d = dict(kras, hgvsp_short="p.G12D", variant_id="chr12:25245350:C:T", pos=25245350)
    for rows, expected in (([kras], "detected"), ([kras_g12d], "not_assessable")):
        doc = build_document(
            "P1", sheet_row(), nsclc_matches("P1"), variants_frame(rows), biomarkers(), fixed_date=DATE
        )
        neg = {n["label"]: n for n in doc["pertinent_negatives"]["items"]}
        assert neg["KRAS G12C"]["status"] == expected
    assert negatives_for(["TISSUE", "BOWEL", "COADREAD", "COAD"])[0] == "COADREAD"
    code, table = negatives_for(["TISSUE", "SKIN", "MEL", "SKCM"])
    assert code == "MEL" and [n.label for n in table][:3] == ["BRAF V600", "NRAS mutation", "KIT mutation"]
    code, table = negatives_for(["TISSUE", "PERITONEUM"])
    assert code is None and {n.kind for n in table} == {"msi", "tmb", "fusion"}


def test_evidence_references_and_trace(tmp_path):
    _, doc, html = _write(tmp_path)
    refs = doc["findings"][0]["evidence"]["references"]
    assert refs == [
        {"label": "PMID:19692680", "url": "https://pubmed.ncbi.nlm.nih.gov/19692680/"},
        {"label": "NCT00446225", "url": "https://clinicaltrials.gov/study/NCT00446225"},
    ]
    assert (
        '<a href="https://pubmed.ncbi.nlm.nih.gov/19692680/" rel="noreferrer noopener">PMID:19692680</a>'
        in html
    )
    assert "<details><summary>Decision trace</summary>" in html


def test_filtered_counts_per_reason(tmp_path):
    _, doc, html = _write(tmp_path)
    assert doc["filtered"]["by_reason"] == {"duplicate": 2, "non_pass": 3}
    assert doc["filtered"]["total"] == 5 and doc["filtered"]["source"] == "filtered_tsv"
    reasons = tables(html).tables["filter-reasons"]
    assert reasons[1:] == [["duplicate", "2"], ["non_pass", "3"], ["Total", "5"]]
    _, doc2, _ = _write(tmp_path, "stats_only", filtered=None)
    assert doc2["filtered"]["source"] == "normalize_stats" and doc2["filtered"]["total"] == 5


def test_many_filtered_records_are_counted_and_capped(tmp_path):
    import pandas as pd

    n = 1203
    frame = pd.DataFrame(
        {
            "chrom": ["chr10" if i % 2 else "chr2" for i in range(n)],
            "pos": [n - i for i in range(n)],
            "ref": ["A"] * n,
            "alt": ["G"] * n,
            "filter": ["LowQual"] * n,
            "reason": ["non_pass" if i % 3 else "low_depth" for i in range(n)],
        }
    ).astype({"pos": "int64"})
    _, doc, html = _write(tmp_path, filtered=frame)
    fl = doc["filtered"]
    assert (fl["total"], fl["listed"], fl["by_reason"]) == (1203, 500, {"low_depth": 401, "non_pass": 802})
    first = fl["records"][:2]
    # sorted by reason, then chr2 before chr10 (natural order), then position: low_depth on chr2 are the
    # rows i = 0 (mod 6), pos = n - i, so the smallest positions are 1203 - 1200 and 1203 - 1194
    assert [(r["reason"], r["chrom"], r["pos"]) for r in first] == [
        ("low_depth", "chr2", 3),
        ("low_depth", "chr2", 9),
    ]
    assert "First 500 of 1203 records" in html


def test_tsv_rows(tmp_path):
    paths, doc, _ = _write(tmp_path)
    lines = paths["tsv"].read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [r["record"] for r in rows].count("finding") == 5
    assert [r["record"] for r in rows].count("variant") == 7  # the non-pick transcript row is not a variant
    l858r = next(r for r in rows if r["record"] == "finding" and r["alteration"] == "L858R")
    assert (l858r["escat"], l858r["amp_tier"], l858r["ema_on_label"], l858r["fda_on_label"]) == (
        "I-A",
        "I",
        "true",
        "true",
    )
    assert l858r["pos"] == "55191822" and l858r["references"] == "PMID:19692680;NCT00446225"
    syn = next(r for r in rows if r["gene"] == "KRAS")
    assert syn["note"] == "not protein-altering"


# ---------------------------------------------------------------------------------------------- safety


def test_tsv_keeps_quotes_and_flattens_tabs(tmp_path):
    matches = nsclc_matches()
    matches["findings"][0]["alteration"] = 'odd "quoted"\tvalue'
    paths, _, _ = _write(tmp_path, matches=matches)
    lines = paths["tsv"].read_text(encoding="utf-8").splitlines()
    assert len({len(line.split("\t")) for line in lines}) == 1
    assert any('odd "quoted" value' in line for line in lines)


def test_hostile_values_are_escaped(tmp_path):
    _, doc, html = _write(tmp_path)
    assert HOSTILE not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert html.count(escaped) >= 3  # sample name (twice) + filtered FILTER value + trace
    assert html.count("<script>") == 1  # ours only
    assert doc["patient"]["sample_id"] == HOSTILE  # the JSON keeps the data as data


def test_self_contained_no_external_resources(tmp_path):
    _, _, html = _write(tmp_path)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\bsrc\s*=", html)
    assert "@import" not in html and "url(" not in html
    hrefs = re.findall(r"<(\w+)[^>]*\shref=", html)
    assert set(hrefs) == {"a"}
    assert "default-src 'none'" in html


def test_synthetic_banner(tmp_path):
    _, doc, html = _write(tmp_path)
    assert doc["synthetic"] is True and 'id="synthetic-banner"' in html
    _, doc2, html2 = _write(tmp_path, "real", provenance={"genome_build": "GRCh38"})
    assert doc2["synthetic"] is False and "SYNTHETIC" not in html2
    _, doc3, _ = _write(tmp_path, "sheet", provenance={}, sheet_row=sheet_row(synthetic="yes"))
    assert doc3["synthetic"] is True


def test_empty_vcf_report(tmp_path):
    matches = nsclc_matches()
    matches["findings"], matches["unmatched"] = [], []
    _, doc, html = _write(tmp_path, variants=variants_frame([]), matches=matches, filtered=None, normalize_stats=None,
                          biomarkers=biomarkers(0.0, "low"))  # fmt: skip
    assert doc["variants"] == [] and doc["key_findings"] == [] and doc["qc"]["variants_total"] == 0
    assert "No variants were found in the submitted variant calls." in html
    assert 'id="no-key-findings"' in html


# ---------------------------------------------------------------------------------------------- schema, determinism


def test_schema_accepts_document_and_rejects_bad_values(tmp_path):
    _, doc, _ = _write(tmp_path)
    validate_document(doc)
    assert doc["schema_version"] == "1.2.0"
    bad = copy.deepcopy(doc)
    bad["findings"][0]["escat"] = "I-Z"
    with pytest.raises(SchemaError, match=r"findings/0/escat"):
        validate_document(bad)
    bad = copy.deepcopy(doc)
    del bad["provenance"]["kb"]
    with pytest.raises(SchemaError, match="provenance"):
        validate_document(bad)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("escat", "bogus", "expected findings[0].escat one of I-A, I-B"),
        ("amp_tier", "V", "expected findings[0].amp_tier one of I, II, III, IV; found 'V'"),
        ("effect", "response", "expected findings[0].effect one of sensitivity"),
        ("category", "gene", "expected findings[0].category one of variant, cna"),
        ("therapies", "osimertinib", "expected findings[0].therapies as a list"),
    ],
)
def test_invalid_finding_leaves_no_output(tmp_path, key, value, message):
    matches = nsclc_matches()
    matches["findings"][0][key] = value
    with pytest.raises(InputError, match=re.escape(message)):
        _write(tmp_path, matches=matches)
    assert not (tmp_path / "out").exists()


def test_schema_failure_leaves_no_output(tmp_path, monkeypatch):
    """A document the schema rejects (here: a negative TMB) is never written."""
    bm = biomarkers()
    bm["tmb"]["value"] = -1.0
    with pytest.raises(SchemaError, match="biomarkers/tmb/value"):
        _write(tmp_path, biomarkers=bm)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("patient", ["../escape", "a/b", "", ".hidden", "P 1"])
def test_patient_id_cannot_escape_outdir(tmp_path, patient):
    with pytest.raises(InputError, match="expected a patient ID of letters"):
        _write(tmp_path, patient=patient)
    assert list(tmp_path.iterdir()) == []


def test_sheet_values_checked(tmp_path):
    with pytest.raises(
        InputError, match="sample sheet: expected assay one of panel, wes, wgs; found 'targeted'"
    ):
        _write(tmp_path, sheet_row=sheet_row(assay="targeted"))
    with pytest.raises(
        InputError, match=r"expected matches for tumour type COAD \(sample sheet\); found LUAD"
    ):
        _write(tmp_path, sheet_row=sheet_row(tumor_type="COAD"))
    _, doc, _ = _write(tmp_path, sheet_row=sheet_row(assay="WES"))
    assert doc["patient"]["assay"] == "wes"


def test_outputs_readable(tmp_path):
    import os
    import stat

    paths, _, _ = _write(tmp_path)
    mask = os.umask(0)
    os.umask(mask)
    for path in paths.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_deterministic_output(tmp_path):
    a, _, _ = _write(tmp_path, "a")
    b, _, _ = _write(tmp_path, "b")
    for kind in ("html", "json", "tsv"):
        assert a[kind].read_bytes() == b[kind].read_bytes(), kind


def test_rereport_lists_changes(tmp_path):
    _, old, _ = _write(tmp_path, "old")
    matches = nsclc_matches()
    matches["kb"] = {"name": "ccev-curated", "version": "2027.01", "content_hash": "b" * 64}
    matches["findings"] = [f for f in matches["findings"] if f["finding_id"] != "F5"]
    f4 = next(f for f in matches["findings"] if f["finding_id"] == "F4")
    f4["escat"], f4["on_label"] = "I-B", {"EMA": True, "FDA": True}
    matches["findings"].append(
        dict(f4, finding_id="F6", gene="MET", alteration="amplification", category="cna", variant_id=None,
             therapies=["capmatinib"], escat="II-B", amp_tier="II")
    )  # fmt: skip
    _, new, html = _write(tmp_path, "new", matches=matches, previous=old)
    ch = new["changes"]
    assert (ch["kb_hash_old"], ch["kb_hash_new"]) == ("a" * 64, "b" * 64)
    assert [(c["gene"], c["alteration"]) for c in ch["new"]] == [("MET", "amplification")]
    assert [(c["gene"], c["alteration"]) for c in ch["removed"]] == [("TMB", "TMB-high")]
    assert [(c["gene"], c["escat_old"], c["escat"]) for c in ch["retiered"]] == [("ERBB2", "II-B", "I-B")]
    assert "ESCAT II-B → I-B" in html and "label EMA off → on" in html


# ---------------------------------------------------------------------------------------------- CLI


def _cli(paths, outdir, *extra):
    return main([
        "report", "--patient", "P001", "--sheet", str(paths["sheet"]), "--matches", str(paths["matches"]),
        "--variants", str(paths["variants"]), "--biomarkers", str(paths["biomarkers"]),
        "--normalize-stats", str(paths["stats"]), "--filtered", str(paths["filtered"]), "--outdir", str(outdir),
        "--fixed-date", DATE, *extra,
    ])  # fmt: skip


def test_cli_writes_deterministic_report_with_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("CCEV_GIT_COMMIT", "0" * 40)
    paths = write_inputs(tmp_path / "in")
    snapshot = tmp_path / "in" / "kb.json"
    snapshot.write_text(json.dumps({"manifest": {"name": "ccev-curated", "version": "2026.11", "date": "2026-11-01",
                                                 "content_hash": "c" * 64}, "statements": []}))  # fmt: skip
    fasta = tmp_path / "in" / "genome.fa"
    fasta.write_text(">chr7 SYNTHETIC demo contig\nACGT\n")
    gff = tmp_path / "in" / "genes.gff3"
    gff.write_text("##gff-version 3\n#!genome-build GRCh38.p14\nchr7\t.\tgene\t1\t4\t.\t+\t.\tID=gene:G\n")
    extra = ("--kb", str(snapshot), "--reference", str(fasta), "--annotation", str(gff), "--config-hash", "cfg123",
             "--oncotree-release", "oncotree_2025_10_03")  # fmt: skip
    assert _cli(paths, tmp_path / "r1", *extra) == 0
    assert _cli(paths, tmp_path / "r2", *extra) == 0
    for name in ("P001.html", "P001.json", "P001.tsv"):
        assert (tmp_path / "r1" / name).read_bytes() == (tmp_path / "r2" / name).read_bytes()
    doc = json.loads((tmp_path / "r1" / "P001.json").read_text())
    prov = doc["provenance"]
    assert prov["kb"] == {
        "name": "ccev-curated",
        "version": "2026.11",
        "date": "2026-11-01",
        "content_hash": "c" * 64,
    }
    assert prov["genome_build"] == "GRCh38.p14" and prov["config_hash"] == "cfg123"
    assert prov["git_commit"] == "0" * 40 and prov["oncotree_release"] == "oncotree_2025_10_03"
    assert prov["reference"].startswith("genome.fa (sha256 ") and prov["synthetic"] is True
    assert set(prov["inputs"]) == {"matches", "variants", "biomarkers", "normalize_stats", "filtered"}
    assert doc["filtered"]["by_reason"] == {"duplicate": 2, "non_pass": 3}


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_cli_unknown_patient(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in", patient="P009")
    assert _cli(paths, tmp_path / "out") == 2
    assert "expected a row for patient 'P001'; found none" in _err(capsys)
    assert not (tmp_path / "out").exists()


def test_cli_variants_missing_column(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    nsclc_variants().drop(columns=["hgvsp_short"]).to_parquet(paths["variants"])
    assert _cli(paths, tmp_path / "out") == 2
    line = _err(capsys)
    assert "annotated.parquet" in line and "found no hgvsp_short" in line


def test_cli_two_pick_rows(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    frame = nsclc_variants()
    frame.loc[frame["transcript"] == "ENST00000455089", "pick"] = True
    frame.to_parquet(paths["variants"])
    assert _cli(paths, tmp_path / "out") == 2
    assert "exactly one pick=True row per variant; found 2 for chr7:55191822:T:G" in _err(capsys)


def test_cli_bad_json_and_bad_matches(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    paths["matches"].write_text('{"findings": [\n', encoding="utf-8")
    assert _cli(paths, tmp_path / "out") == 2
    line = _err(capsys)
    assert "matches.json:2: expected valid JSON" in line
    paths["matches"].write_text(json.dumps({"tumor_type": {"code": "LUAD"}}), encoding="utf-8")
    assert _cli(paths, tmp_path / "out") == 2
    assert "expected a matches document with a 'findings' list" in _err(capsys)
    m = nsclc_matches()
    m["findings"][0]["on_label"] = {"FDA": True}
    paths["matches"].write_text(json.dumps(m), encoding="utf-8")
    assert _cli(paths, tmp_path / "out") == 2
    assert "on_label with EMA and FDA" in _err(capsys)
    m = nsclc_matches(patient="P777")
    paths["matches"].write_text(json.dumps(m), encoding="utf-8")
    assert _cli(paths, tmp_path / "out") == 2
    assert "expected matches for patient 'P001'; found 'P777'" in _err(capsys)
    assert not (tmp_path / "out").exists()


def test_cli_bad_biomarkers(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    paths["biomarkers"].write_text(json.dumps({"tmb": {}}), encoding="utf-8")
    assert _cli(paths, tmp_path / "out") == 2
    assert "biomarkers.json: expected 'tmb' with a 'status'" in _err(capsys)


def test_cli_bad_filtered_tsv(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    paths["filtered"].write_text("chrom\tpos\tref\talt\tfilter\treason\nchr1\tx12\tA\tC\tLowQual\tnon_pass\n")
    assert _cli(paths, tmp_path / "out") == 2
    assert "filtered.tsv:2: expected a 1-based integer pos; found 'x12'" in _err(capsys)
    paths["filtered"].write_text("chrom\tpos\n")
    assert _cli(paths, tmp_path / "out") == 2
    assert "filtered.tsv:1: expected columns" in _err(capsys)
    paths["filtered"].write_text("")
    assert _cli(paths, tmp_path / "out") == 2
    assert "found an empty file" in _err(capsys)


def test_cli_bad_sheet(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    text = paths["sheet"].read_text().splitlines()
    paths["sheet"].write_text(text[0] + "\n" + text[1] + "\n" + text[1] + "\n")
    assert _cli(paths, tmp_path / "out") == 2
    assert "samples.tsv:3: expected one row for patient 'P001'; found a second" in _err(capsys)
    paths["sheet"].write_text(text[0] + "\n" + text[1].replace("0.6", "1.7") + "\n")
    assert _cli(paths, tmp_path / "out") == 2
    assert "expected purity as a number in [0, 1]; found '1.7'" in _err(capsys)
    paths["sheet"].write_text("patient\tsample\nP001\tS\n")
    assert _cli(paths, tmp_path / "out") == 2
    assert (
        "samples.tsv:1: expected columns patient, sample, center, tumor_type; found no center, tumor_type"
        in _err(capsys)
    )
    paths["sheet"].write_text(text[0] + "\nP001\tonly-two\n")
    assert _cli(paths, tmp_path / "out") == 2
    assert "samples.tsv:2: expected 14 tab-separated fields; found 2" in _err(capsys)


def test_cli_bad_date_kb_and_previous(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    assert main(["report", "--patient", "P001", "--sheet", str(paths["sheet"]), "--matches", str(paths["matches"]),
                 "--variants", str(paths["variants"]), "--biomarkers", str(paths["biomarkers"]),
                 "--outdir", str(tmp_path / "out"), "--fixed-date", "28/11/2026"]) == 2  # fmt: skip
    assert "expected --fixed-date as YYYY-MM-DD; found '28/11/2026'" in _err(capsys)
    kb = tmp_path / "in" / "kb.json"
    kb.write_text(json.dumps({"statements": []}))
    assert _cli(paths, tmp_path / "out", "--kb", str(kb)) == 2
    assert "kb.json: expected a KB snapshot with a 'manifest' object" in _err(capsys)
    prev = tmp_path / "in" / "old.json"
    prev.write_text(json.dumps({"findings": "nope"}))
    assert _cli(paths, tmp_path / "out", "--previous", str(prev)) == 2
    assert "old.json: expected a previous report document" in _err(capsys)
    assert _cli(paths, tmp_path / "out", "--reference", str(tmp_path / "missing.fa")) == 2
    assert "missing.fa: expected an existing reference FASTA; found none" in _err(capsys)
    assert not (tmp_path / "out").exists()


def test_missing_parquet(tmp_path, capsys):
    paths = write_inputs(tmp_path / "in")
    paths["variants"].write_bytes(b"not parquet")
    assert _cli(paths, tmp_path / "out") == 2
    assert "expected a Parquet table; found unreadable data" in _err(capsys)
    paths["variants"].unlink()
    assert _cli(paths, tmp_path / "out") == 2
    assert "expected an existing Parquet table; found none" in _err(capsys)


def test_direct_api_rejects_table_without_pick(tmp_path):
    with pytest.raises(InputError, match="contracts section 3"):
        write_report("P1", sheet_row(), nsclc_matches("P1"), nsclc_variants().drop(columns=["pick"]), biomarkers(),
                     None, None, tmp_path / "out")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_schema_fields_documented(repo_root):
    """Every property the schema defines is named in docs/report-schema.md."""
    from ccevariants.report.writer import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text())
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    doc = (repo_root / "docs" / "report-schema.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in doc and f"`{n}." not in doc)
    assert missing == []


def test_wildtype_finding_caveat_without_coverage(tmp_path):
    matches = nsclc_matches()
    matches["findings"].append(
        finding("W1", "KRAS/NRAS", "RAS wild-type", None, "sensitivity", ["cetuximab"], "I-A", "I", True, True,
                category="biomarker", match_type="wildtype")
    )  # fmt: skip
    _, doc, html = _write(tmp_path, "nocov", matches=matches)
    w1 = next(f for f in doc["findings"] if f["finding_id"] == "W1")
    assert w1["caveat"] == (
        "RAS wild-type not assessable — no adequate-coverage evidence for KRAS, NRAS; confirm before cetuximab"
    )
    assert "Caution: RAS wild-type not assessable — no adequate-coverage evidence for KRAS, NRAS" in html
    assert all(f["caveat"] is None for f in doc["findings"] if f["finding_id"] != "W1")
    bm = biomarkers()
    bm["coverage"] = {
        "KRAS": {"adequate": True, "min_depth": 300},
        "NRAS": {"adequate": False, "min_depth": 8},
    }
    _, doc2, _ = _write(tmp_path, "partial", matches=matches, biomarkers=bm)
    assert next(f for f in doc2["findings"] if f["finding_id"] == "W1")["caveat"] == (
        "RAS wild-type not assessable — no adequate-coverage evidence for NRAS; confirm before cetuximab"
    )
    bm["coverage"]["NRAS"] = {"adequate": True, "min_depth": 250}
    _, doc3, _ = _write(tmp_path, "covered", matches=matches, biomarkers=bm)
    assert next(f for f in doc3["findings"] if f["finding_id"] == "W1")["caveat"] is None
