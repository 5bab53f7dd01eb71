"""Wild-type requirements need assessable loci (coverage or callable BED); oncogenicity; merging.

Synthetic annotation used here (1-based GFF3 coordinates):
KRAS chr12 minus strand, CDS 1901-1950 (CDS positions 1-50) and 1101-1600 (CDS 51-550):
codon 12 = CDS 34-36 = chr12:1915-1917, codon 117 = CDS 349-351 = chr12:1300-1302,
codon 146 = CDS 436-438 = chr12:1213-1215.
NRAS chr1 plus strand, CDS 201-300 (CDS 1-100) and 501-900 (CDS 101-500):
codon 12 = chr1:234-236, codon 146 = chr1:836-838.
"""

from __future__ import annotations

import json

import pytest
from test_match import biomarkers, find, find_pending, fusion, run, variant, write_inputs

from ccevariants.biomarkers._regions import read_bed
from ccevariants.cli import main
from ccevariants.kb import wildtype as wt
from ccevariants.kb.snapshot import build_snapshot, snapshot_from_document
from ccevariants.match import validate_matches
from ccevariants.transcripts import load_annotation

GFF = """##gff-version 3
chr1\t.\tgene\t101\t1000\t.\t+\t.\tID=gene:N1;Name=NRAS;biotype=protein_coding
chr1\t.\tmRNA\t101\t1000\t.\t+\t.\tID=transcript:NT1;Parent=gene:N1;biotype=protein_coding;tag=MANE_Select
chr1\t.\texon\t101\t300\t.\t+\t.\tParent=transcript:NT1
chr1\t.\texon\t501\t1000\t.\t+\t.\tParent=transcript:NT1
chr1\t.\tCDS\t201\t300\t.\t+\t0\tParent=transcript:NT1
chr1\t.\tCDS\t501\t900\t.\t+\t2\tParent=transcript:NT1
chr12\t.\tgene\t1001\t2000\t.\t-\t.\tID=gene:K1;Name=KRAS;biotype=protein_coding
chr12\t.\tmRNA\t1001\t2000\t.\t-\t.\tID=transcript:KT1;Parent=gene:K1;biotype=protein_coding;tag=MANE_Select
chr12\t.\texon\t1801\t2000\t.\t-\t.\tParent=transcript:KT1
chr12\t.\texon\t1001\t1600\t.\t-\t.\tParent=transcript:KT1
chr12\t.\tCDS\t1901\t1950\t.\t-\t0\tParent=transcript:KT1
chr12\t.\tCDS\t1101\t1600\t.\t-\t1\tParent=transcript:KT1
"""

CETUXIMAB = "CCEV-CRC-RAS-WT-CETUXIMAB"
PANITUMUMAB = "CCEV-CRC-RAS-WT-PANITUMUMAB"


@pytest.fixture(scope="module")
def snapshot():
    return snapshot_from_document(build_snapshot([("bundled", None)]))


@pytest.fixture(scope="module")
def annotation(tmp_path_factory):
    path = tmp_path_factory.mktemp("ann") / "genes.gff3"
    path.write_text(GFF)
    return load_annotation(path, use_cache=False)


def bed(tmp_path, *lines, name="callable.bed"):
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return read_bed(path)


def with_coverage(coverage, **kw):
    return {**biomarkers(**kw), "coverage": coverage}


TP53 = variant("TP53", "R175H", exon="5/11")


def test_codon_loci_on_both_strands(annotation):
    chrom, pos0 = wt.codon_loci(annotation, "KRAS", (12, 146))
    assert chrom == "chr12" and (pos0 + 1).tolist() == [1917, 1916, 1915, 1215, 1214, 1213]
    chrom, pos0 = wt.codon_loci(annotation, "NRAS", (12, 146))
    assert chrom == "chr1" and (pos0 + 1).tolist() == [234, 235, 236, 836, 837, 838]
    assert wt.codon_loci(annotation, "NRAS", (200,)) is None  # beyond the 500-base CDS
    assert wt.codon_loci(annotation, "BRAF", (600,)) is None


def test_no_coverage_no_bed_goes_to_pending_with_escat_withheld(snapshot):
    doc = run(snapshot, [TP53], "COAD")
    assert find(doc, CETUXIMAB) is None and find(doc, PANITUMUMAB) is None
    assert not [f for f in doc["findings"] if f["match_type"] == "wildtype"]
    p = find_pending(doc, PANITUMUMAB)
    assert p["status"] == "not_assessable" and p["requires_confirmation"] is True
    assert p["escat_if_confirmed"] == "I-A" and "escat" not in p and "on_label" not in p
    assert p["on_label_if_confirmed"] == {"EMA": True, "FDA": True}
    assert "no coverage data and no callable BED" in p["reason"]
    assert sorted(p["wildtype_assessment"]["problems"])[0].startswith("KRAS codons 12, 13, 59, 61, 117, 146:")
    assert any(line.startswith("not assessable, ESCAT withheld: NRAS") for line in p["trace"])
    assert {q["evidence"]["statement_id"] for q in doc["pending"]} == {CETUXIMAB, PANITUMUMAB}


def test_empty_vcf_without_coverage_never_asserts_ras_wildtype(snapshot):
    doc = run(snapshot, [], "COAD")
    assert [f for f in doc["findings"] if f["match_type"] == "wildtype"] == []
    assert len(doc["pending"]) == 2


def test_tmb_bed_source_without_bed_asks_for_it(snapshot):
    bm = biomarkers()
    bm["tmb"]["callable_source"] = "bed"
    p = find_pending(run(snapshot, [TP53], "COAD", bm=bm), CETUXIMAB)
    assert "--callable-bed" in p["reason"]


def test_gene_coverage_inadequate_for_one_gene(snapshot):
    cov = [
        {"gene": "KRAS", "adequate": True, "mean_depth": 400.0},
        {
            "gene": "NRAS",
            "adequate": False,
            "mean_depth": 31.5,
            "fraction_at_threshold": 0.62,
            "threshold": 25,
        },
    ]
    doc = run(snapshot, [TP53], "COAD", bm=with_coverage(cov))
    assert find(doc, CETUXIMAB) is None
    p = find_pending(doc, CETUXIMAB)
    assert p["wildtype_assessment"]["basis"] == {"KRAS": "coverage_gene"}
    (problem,) = p["wildtype_assessment"]["problems"]
    assert (
        problem.startswith("NRAS codons")
        and "not adequately covered (mean depth 31.5, 0.62 of bases >= 25x)" in problem
    )


def test_per_locus_coverage_decides_over_gene_level(snapshot):
    codons = (12, 13, 59, 61, 117, 146)
    loci = [{"gene": "KRAS", "codon": c, "adequate": c != 61} for c in codons]
    cov = [{"gene": "KRAS", "adequate": True, "loci": loci}, {"gene": "NRAS", "adequate": True}]
    doc = run(snapshot, [TP53], "COAD", bm=with_coverage(cov))
    p = find_pending(doc, PANITUMUMAB)
    assert p["wildtype_assessment"]["problems"] == [
        "KRAS codons 12, 13, 59, 61, 117, 146: codon(s) 61 not adequately covered"
    ]
    # every codon covered (object form with a top-level locus list): the finding is asserted
    cov_ok = {
        "genes": [{"gene": "KRAS", "adequate": False}, {"gene": "NRAS", "adequate": True}],
        "loci": [{"gene": "KRAS", "residue": c, "adequate": True} for c in codons],
    }
    f = find(run(snapshot, [TP53], "COAD", bm=with_coverage(cov_ok)), PANITUMUMAB)
    assert f["escat"] == "I-A" and f["wildtype_assessment"]["basis"]["KRAS"] == "coverage_locus"
    assert any(line.startswith("wild-type confirmed assessable: KRAS codons") for line in f["trace"])


def test_callable_bed_covering_all_codons_confirms(snapshot, annotation, tmp_path):
    regions = bed(tmp_path, "chr12\t1100\t1950", "chr1\t200\t900")
    doc = run(snapshot, [TP53], "COAD", callable_regions=regions, annotation=annotation)
    f = find(doc, CETUXIMAB)
    assert f["escat"] == "I-A" and f["wildtype_assessment"]["basis"] == {
        "KRAS": "callable_bed",
        "NRAS": "callable_bed",
    }
    assert doc["pending"] == []
    assert (
        "all bases of these codons inside the callable BED (chr12, 18 bases)"
        in f["wildtype_assessment"]["details"][0]
    )


def test_callable_bed_missing_codons_lists_them(snapshot, annotation, tmp_path):
    regions = bed(tmp_path, "chr12\t1300\t1950", "chr1\t200\t900")
    doc = run(snapshot, [TP53], "COAD", callable_regions=regions, annotation=annotation)
    p = find_pending(doc, CETUXIMAB)
    (problem,) = p["wildtype_assessment"]["problems"]
    # codon 146 (1213-1215) and the first base of codon 117 (1300) lie outside [1300, 1950) 0-based
    assert "4 base(s) outside the callable BED: chr12:1300, chr12:1215, chr12:1214, chr12:1213" in problem


def test_callable_bed_without_annotation_is_not_enough(snapshot, tmp_path):
    regions = bed(tmp_path, "chr12\t1\t5000", "chr1\t1\t5000")
    p = find_pending(run(snapshot, [TP53], "COAD", callable_regions=regions), CETUXIMAB)
    assert "no annotation to place the codons" in p["reason"]


def test_measured_inadequate_coverage_is_not_overridden_by_bed(snapshot, annotation, tmp_path):
    regions = bed(tmp_path, "chr12\t1100\t1950", "chr1\t200\t900")
    cov = [{"gene": "KRAS", "adequate": False}]
    doc = run(
        snapshot, [TP53], "COAD", bm=with_coverage(cov), callable_regions=regions, annotation=annotation
    )
    p = find_pending(doc, CETUXIMAB)
    assert p["wildtype_assessment"]["basis"] == {"NRAS": "callable_bed"}
    assert p["wildtype_assessment"]["problems"][0].startswith(
        "KRAS codons 12, 13, 59, 61, 117, 146: gene not adequately covered"
    )


def test_filtered_ras_call_blocks_wildtype(snapshot):
    cov = [{"gene": "KRAS", "adequate": True}, {"gene": "NRAS", "adequate": True}]
    filtered = variant("KRAS", "G12D", exon="2/5", filter="weak_evidence", pos=25245350)
    doc = run(snapshot, [TP53, filtered], "COAD", bm=with_coverage(cov))
    assert find(doc, CETUXIMAB) is None
    p = find_pending(doc, CETUXIMAB)
    assert p["wildtype_assessment"]["problems"] == [
        "non-PASS call at a required locus: KRAS G12D (FILTER weak_evidence) (review before asserting wild-type)"
    ]
    # a PASS KRAS mutation: no wild-type finding and nothing pending (resistance is reported instead)
    doc = run(snapshot, [variant("KRAS", "G12D", exon="2/5")], "COAD", bm=with_coverage(cov))
    assert doc["pending"] == [] and find(doc, CETUXIMAB) is None


def test_cli_callable_bed_and_annotation(snapshot, tmp_path):
    snap = tmp_path / "kb.json"
    assert main(["kb", "build", "--output", str(snap)]) == 0
    parquet, bjson = write_inputs(tmp_path, [TP53], biomarkers())
    gff = tmp_path / "genes.gff3"
    gff.write_text(GFF)
    (tmp_path / "c.bed").write_text("chr12\t1100\t1950\nchr1\t200\t900\n")
    out = tmp_path / "m.json"
    base = [
        "match",
        "--variants",
        str(parquet),
        "--biomarkers",
        str(bjson),
        "--kb",
        str(snap),
        "--tumor-type",
        "COAD",
    ]
    assert (
        main(
            base + ["--output", str(out), "--callable-bed", str(tmp_path / "c.bed"), "--annotation", str(gff)]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    validate_matches(doc)
    assert find(doc, CETUXIMAB)["escat"] == "I-A" and doc["pending"] == []
    # a malformed BED is a one-line error naming file and line; nothing written
    (tmp_path / "bad.bed").write_text("chr12\t1950\t1100\n")
    out2 = tmp_path / "m2.json"
    assert main(base + ["--output", str(out2), "--callable-bed", str(tmp_path / "bad.bed")]) == 2
    assert not out2.exists()


def test_schema_rejects_pending_with_escat(snapshot):
    from ccevariants.errors import SchemaError

    doc = run(snapshot, [TP53], "COAD")
    doc["pending"][0]["escat"] = "I-A"
    with pytest.raises(SchemaError, match="pending/0"):
        validate_matches(doc)


# ---------------------------------------------------------------------------------------------
# oncogenicity
# ---------------------------------------------------------------------------------------------
def _onc(doc, gene):
    entries = [f for f in doc["findings"] if f["gene"] == gene] + [
        u for u in doc["unmatched"] if u["gene"] == gene
    ]
    return {(e["oncogenicity"], e["oncogenicity_reason"].split(":")[0]) for e in entries}


def test_oncogenicity_levels(snapshot):
    rows = [
        variant("EGFR", "L858R", exon="21/28", pos=1),  # KB allele → oncogenic
        variant("BRAF", "D594G", exon="15/18", pos=2),  # hotspot codon, no statement of its own
        variant("BRCA2", "K3326*", consequence="stop_gained", pos=3),  # truncating TSG (KB gene)
        variant("KRAS", "Q22*", consequence="stop_gained", pos=4),  # truncating oncogene
        variant("TP53", "P72R", exon="4/11", pos=5),  # not a KB gene, not a hotspot codon → unknown
        variant("APC", "R1450*", consequence="stop_gained", pos=6),  # truncating TSG, non-KB gene
        variant("EGFR", "A289V", exon="7/28", pos=7),  # hotspot codon 289
    ]
    doc = run(snapshot, rows, "LUAD")
    by_vid = {}
    for e in doc["findings"] + doc["unmatched"]:
        if e.get("variant_id"):
            by_vid.setdefault(e["variant_id"], set()).add(e["oncogenicity"])
    assert by_vid["chr1:1:A:T"] == {"oncogenic"}
    assert by_vid["chr1:3:A:T"] == {"likely_oncogenic"}
    assert by_vid["chr1:4:A:T"] == {"unknown"}
    assert by_vid["chr1:5:A:T"] == {"unknown"}
    assert by_vid["chr1:6:A:T"] == {"likely_oncogenic"}
    assert by_vid["chr1:7:A:T"] == {"likely_oncogenic"}
    assert by_vid["chr1:2:A:T"] == {"likely_oncogenic"}
    apc = [u for u in doc["unmatched"] if u["gene"] == "APC"][0]
    assert apc["oncogenicity_reason"] == "truncating variant in a tumour suppressor (APC: tsg)"
    l858r = [f for f in doc["findings"] if f["gene"] == "EGFR" and f["alteration"] == "L858R"][0]
    assert l858r["oncogenicity_reason"].startswith(
        "knowledge-base biomarker: exact match to CCEV-NSCLC-EGFR-"
    )


def test_oncogenic_even_where_excluded_or_resistant(snapshot):
    # BRAF V600E in colorectal cancer: tumour-agnostic dabrafenib + trametinib excluded, still oncogenic
    doc = run(snapshot, [variant("BRAF", "V600E", exon="15/18")], "COAD")
    assert {f["oncogenicity"] for f in doc["findings"] if f["gene"] == "BRAF"} == {"oncogenic"}
    # EGFR T790M (resistance / allele-specific statements) is oncogenic
    doc = run(snapshot, [variant("EGFR", "T790M", exon="20/28")], "LUAD")
    assert {f["oncogenicity"] for f in doc["findings"] if f["gene"] == "EGFR"} == {"oncogenic"}


def test_cna_oncogenicity(snapshot):
    bm = biomarkers(
        cna=[
            {
                "gene": "PTEN",
                "alteration": "deletion",
                "copy_number": 0.0,
                "chrom": "chr10",
                "start": 1,
                "end": 2,
            },
            {
                "gene": "CDKN2A",
                "alteration": "deletion",
                "copy_number": 0.0,
                "chrom": "chr9",
                "start": 1,
                "end": 2,
            },
            {
                "gene": "MYC",
                "alteration": "amplification",
                "copy_number": 12.0,
                "chrom": "chr8",
                "start": 1,
                "end": 2,
            },
        ]
    )
    doc = run(snapshot, [], "IDC", bm=bm)
    pten = [f for f in doc["findings"] if f["gene"] == "PTEN"]
    assert pten and {f["oncogenicity"] for f in pten} == {"oncogenic"}
    unmatched = {u["gene"]: u["oncogenicity"] for u in doc["unmatched"]}
    assert unmatched == {"CDKN2A": "likely_oncogenic", "MYC": "unknown"}


# ---------------------------------------------------------------------------------------------
# co-occurring resistance, merged duplicates, knowledge-base review fixes
# ---------------------------------------------------------------------------------------------
def test_l858r_with_t790m_flags_first_generation_tkis(snapshot):
    rows = [variant("EGFR", "L858R", exon="21/28", pos=1), variant("EGFR", "T790M", exon="20/28", pos=2)]
    doc = run(snapshot, rows, "LUAD")
    l858r = {
        tuple(f["therapies"]): f
        for f in doc["findings"]
        if f["alteration"] == "L858R" and f["effect"] == "sensitivity"
    }
    for drug in ("gefitinib", "erlotinib", "afatinib", "dacomitinib"):
        conflicts = l858r[(drug,)]["resistance_conflicts"]
        assert [(c["alteration"], c["drugs"]) for c in conflicts] == [("T790M", [drug])]
        assert any(
            line.startswith(f"co-occurring EGFR T790M confers resistance to {drug}")
            for line in l858r[(drug,)]["trace"]
        )
    # osimertinib is active against T790M: no conflict
    assert "resistance_conflicts" not in l858r[("osimertinib",)]
    # L858R alone: no conflicts at all
    alone = run(snapshot, rows[:1], "LUAD")
    assert not [f for f in alone["findings"] if f.get("resistance_conflicts")]


def test_pd1_negative_predictor_is_worded_as_such(snapshot):
    doc = run(snapshot, [variant("EGFR", "L858R", exon="21/28")], "LUAD")
    f = find(doc, "CCEV-NSCLC-EGFR-L858R-RES-PD1-MONOTHERAPY")
    assert (
        f["effect"] == "resistance" and f["escat"] == "II-A" and f["on_label"] == {"EMA": False, "FDA": False}
    )
    assert f["indication"]["context"].startswith(
        "negative predictive factor for PD-(L)1 inhibitor monotherapy"
    )
    # outside lung cancer it is other-tumour evidence: III-A
    colon = run(snapshot, [variant("EGFR", "L858R", exon="21/28")], "COAD")
    g = find(colon, "CCEV-NSCLC-EGFR-L858R-RES-PD1-MONOTHERAPY")
    assert (g["disease_match"], g["escat"]) == ("other", "III-A")


def test_same_pair_from_two_statements_is_listed_once(snapshot):
    bm = biomarkers(fusions=[fusion("EML4", "ALK", "chr2", reads=20, source="test")])
    doc = run(snapshot, [], "LUAD", bm=bm)
    alectinib = [f for f in doc["findings"] if f["therapies"] == ["alectinib"]]
    assert len(alectinib) == 1
    f = alectinib[0]
    assert f["evidence"]["statement_id"] == "CCEV-NSCLC-ALK-FUSION-ALECTINIB"
    assert [m["statement_id"] for m in f["merged_statements"]] == ["CCEV-NSCLC-ALK-FUSION-ALECTINIB-ADJUVANT"]
    assert f["oncogenicity"] == "oncogenic"


def test_unmatched_reason_agrees_with_oncogenicity(snapshot):
    rows = [
        variant("APC", "R1450*", consequence="stop_gained", pos=6),
        variant("TP53", "P72R", exon="4/11", pos=5),
        variant("TP53", "R273C", exon="8/11", pos=9),
        variant("BRCA2", "T1915M", pos=8),
    ]
    doc = run(snapshot, rows, "LUAD")
    reasons = {(u["gene"], u["alteration"]): u["reason"] for u in doc["unmatched"]}
    assert reasons["APC", "R1450*"] == "no knowledge-base statement for APC (not tiered; likely oncogenic)"
    assert reasons["TP53", "P72R"] == "no knowledge-base statement for TP53 (variant of unknown significance)"
    assert reasons["TP53", "R273C"] == "no knowledge-base statement for TP53 (not tiered; likely oncogenic)"
    assert reasons["BRCA2", "T1915M"].endswith(
        "(gene-only match, not tiered; variant of unknown significance)"
    )


def test_classify_columns_without_protein_position():
    import pandas as pd

    from ccevariants.kb import oncogenicity as onc
    from ccevariants.match import hotspots

    rows = pd.DataFrame(
        {
            "gene": ["TP53", "TP53", "KRAS", "NF1", "GENE9"],
            "consequence": [
                "missense_variant",
                "missense_variant",
                "missense_variant",
                "frameshift_variant",
                "stop_gained",
            ],
            "hgvsp_short": ["p.R248Q", "p.P72R", "p.G12D", "p.L1000fs", "p.Q5*"],
        }
    )
    levels, reasons = onc.classify_columns(rows, hotspots())
    assert levels.tolist() == [
        "likely_oncogenic",
        "unknown",
        "likely_oncogenic",
        "likely_oncogenic",
        "unknown",
    ]
    assert reasons[0] == "TP53 codon 248 is a recurrent missense hotspot (Chang et al. 2016)"


def test_partial_locus_data_falls_back_to_gene_entry(snapshot):
    loci = [{"codon": c, "adequate": True} for c in (12, 13, 61)]
    nras = {"gene": "NRAS", "adequate": True}
    # codons 59, 117, 146 have no locus entry: the adequate gene entry covers them
    doc = run(
        snapshot, [TP53], "COAD", bm=with_coverage([{"gene": "KRAS", "adequate": True, "loci": loci}, nras])
    )
    f = find(doc, CETUXIMAB)
    assert f["wildtype_assessment"]["details"][0] == (
        "KRAS codons 12, 13, 59, 61, 117, 146: codon(s) 59, 117, 146 without locus data; gene adequately covered"
    )
    # ... but not an inadequate gene entry
    doc = run(
        snapshot, [TP53], "COAD", bm=with_coverage([{"gene": "KRAS", "adequate": False, "loci": loci}, nras])
    )
    assert find_pending(doc, CETUXIMAB)["wildtype_assessment"]["problems"] == [
        "KRAS codons 12, 13, 59, 61, 117, 146: no locus coverage for codon(s) 59, 117, 146"
    ]


def test_gene_missing_from_annotation_is_not_assessable(snapshot, tmp_path):
    gff = tmp_path / "nras_only.gff3"
    gff.write_text("\n".join(line for line in GFF.splitlines() if not line.startswith("chr12")) + "\n")
    regions = bed(tmp_path, "chr12\t1\t5000", "chr1\t1\t5000")
    doc = run(
        snapshot, [TP53], "COAD", callable_regions=regions, annotation=load_annotation(gff, use_cache=False)
    )
    p = find_pending(doc, CETUXIMAB)
    assert p["wildtype_assessment"]["basis"] == {"NRAS": "callable_bed"}
    assert p["wildtype_assessment"]["problems"] == [
        "KRAS codons 12, 13, 59, 61, 117, 146: gene or codons not found in the annotation"
    ]
