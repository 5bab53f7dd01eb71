"""Knowledge base: statement model, bundled KB, snapshot build / diff / validate, CLI."""

from __future__ import annotations

import json

import pytest

from ccevariants.cli import main
from ccevariants.errors import KnowledgeBaseError
from ccevariants.kb.genes import GeneAliases
from ccevariants.kb.model import parse_protein_change, statement_from_dict
from ccevariants.kb.snapshot import build_snapshot, diff_snapshots, load_snapshot, snapshot_from_document

HEADER = "id\tgene\ttype\talteration\tdisease\texclude\tdrugs\tcombination\teffect\tescat\tamp_level\tnative_level\tema_approved\tfda_approved\tpmids\turls\tnotes\n"


def tsv(tmp_path, rows, name="inhouse.tsv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


# fmt: off
GOOD = ["LAB-1", "EGFR", "variant", "L858R", "NSCLC", "", "osimertinib", "no", "sensitivity", "I-A", "A", "", "yes", "yes", "29151359", "", ""]
# fmt: on


@pytest.fixture(scope="module")
def bundled():
    return build_snapshot([("bundled", None)])


def test_bundled_kb_builds_clean_and_cited(bundled):
    manifest = bundled["manifest"]
    src = manifest["sources"][0]
    assert src["skipped"] == {} and src["imported"] == manifest["statement_count"] >= 150
    assert manifest["date"] == "2026-11-28" and src["version"] == "2026.11"
    assert manifest["conflicts"] == []
    assert src["research_only"] is False and src["licence"] == "CC0-1.0"
    ids = [s["id"] for s in bundled["statements"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for st in bundled["statements"]:
        refs = st["references"]
        assert refs["pmids"] or refs.get("urls") or refs.get("trials") or refs.get("other"), st["id"]
        if st["effect"] == "sensitivity":
            assert set(st["regulatory"]) == {"EMA", "FDA"}, st["id"]


def test_content_hash_is_stable_and_content_based(bundled):
    again = build_snapshot([("bundled", None)])
    assert again["manifest"]["content_hash"] == bundled["manifest"]["content_hash"]
    changed = json.loads(json.dumps(bundled))
    changed["statements"][0]["evidence"]["escat"] = "IV-A"
    with pytest.raises(KnowledgeBaseError, match="content_hash"):
        snapshot_from_document(changed, "edited.json")


def test_protein_change_parsing():
    assert parse_protein_change("p.L858R") == ("L", 858, "R")
    assert parse_protein_change("E746_A750del") == ("E", 746, "_A750del")
    assert parse_protein_change("R1450*") == ("R", 1450, "*")
    assert parse_protein_change("G12") is None
    assert parse_protein_change("") is None


def test_statement_validation_messages():
    doc = {
        "id": "X1",
        "biomarker": {"type": "variant", "gene": "EGFR", "alterations": ["L858"]},
        "disease": {"codes": ["NSCLC"]},
        "therapy": {"drugs": ["osimertinib"]},
        "effect": "sensitivity",
        "evidence": {"escat": "I-A"},
        "references": {},
        "source": "t",
    }
    with pytest.raises(KnowledgeBaseError, match="expected one-letter protein changes.*found 'L858'"):
        statement_from_dict(doc, path="kb.yaml", line=7)
    doc["biomarker"]["alterations"] = ["L858R"]
    doc["evidence"]["escat"] = "I-Z"
    with pytest.raises(KnowledgeBaseError, match="kb.yaml:7: statement X1: expected a document valid"):
        statement_from_dict(doc, path="kb.yaml", line=7)
    doc["evidence"]["escat"] = "I-A"
    doc["therapy"]["drugs"] = []
    with pytest.raises(KnowledgeBaseError, match="expected therapy.drugs"):
        statement_from_dict(doc)
    doc["therapy"]["drugs"] = ["Osimertinib "]
    assert statement_from_dict(doc).drugs == ("osimertinib",)


def test_inhouse_bad_rows_counted_and_strict_fails(tmp_path, shared_data):
    # fmt: off
    rows = [
        GOOD,
        ["LAB-2", "EGFR", "variant", "L858", "NSCLC", "", "osimertinib", "no", "sensitivity", "I-A", "", "", "", "", "", "", ""],
        ["LAB-3", "EGFR", "variant", "L858R", "NOTACODE", "", "osimertinib", "no", "sensitivity", "I-A", "", "", "", "", "", "", ""],
        ["LAB-4", "NOTAGENE1", "amplification", "", "NSCLC", "", "drugx", "no", "sensitivity", "II-B", "", "", "", "", "", "", ""],
        ["LAB-5", "EGFR", "variant", "L858R", "NSCLC", "", "osimertinib", "no", "resistance", "II-B", "", "", "", "", "", "", ""],
        ["LAB-1", "EGFR", "variant", "L861Q", "NSCLC", "", "afatinib", "no", "sensitivity", "I-B", "", "", "", "", "", "", ""],
        ["", "EGFR", "variant", "L861Q", "NSCLC", "", "afatinib", "no", "sensitivity", "I-B", "", "", "", "", "", "", ""],
        ["LAB-7", "MLL", "deletion", "", "AML", "", "drugy", "maybe", "sensitivity", "IV-A", "", "", "", "", "", "", ""],
        ["LAB-8", "MLL", "deletion", "", "AML", "", "drugy", "no", "sensitivity", "IV-A", "", "", "", "", "", "", ""],
    ]
    # fmt: on
    path = tsv(tmp_path, rows)
    aliases = GeneAliases.load(shared_data / "gene-aliases" / "org.Hs.eg.genes.tsv")
    doc = build_snapshot([("inhouse", str(path))], aliases=aliases)
    src = doc["manifest"]["sources"][0]
    assert src["rows_read"] == 9 and src["imported"] == 3
    assert src["skipped"] == {
        "duplicate statement id": 1,
        "malformed row": 2,
        "malformed statement": 1,
        "unknown OncoTree code": 1,
        "unknown gene": 1,
    }
    assert any(f"{path}:4:" in p and "NOTACODE" in p for p in src["problems"])
    assert any("NOTAGENE1" in p for p in src["problems"])
    assert src["normalised_genes"] == {"MLL": "KMT2A"}
    assert [s["biomarker"]["gene"] for s in doc["statements"] if s["id"] == "LAB-8"] == ["KMT2A"]
    assert doc["manifest"]["conflicts"] == [
        {
            "statement_ids": ["LAB-1", "LAB-5"],
            "reason": "same biomarker, disease and therapy reported as both sensitivity and resistance",
        }
    ]
    with pytest.raises(KnowledgeBaseError, match="expected every source row to import"):
        build_snapshot([("inhouse", str(path))], aliases=aliases, strict=True)


def test_strict_fails_on_contradiction_alone(tmp_path):
    rows = [
        GOOD,
        [
            "LAB-5",
            "EGFR",
            "variant",
            "L858R",
            "NSCLC",
            "",
            "osimertinib",
            "no",
            "resistance",
            "II-B",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    with pytest.raises(KnowledgeBaseError, match="no contradictory statements.*LAB-1, LAB-5"):
        build_snapshot([("inhouse", str(tsv(tmp_path, rows)))], strict=True)


def test_inhouse_tsv_missing_columns(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("id\tgene\nA\tEGFR\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="bad.tsv:1: expected TSV columns"):
        build_snapshot([("inhouse", str(path))])


def test_unknown_source_name():
    with pytest.raises(KnowledgeBaseError, match="expected a source name"):
        build_snapshot([("oncokb", "/x")])


def test_diff(tmp_path, bundled):
    new = build_snapshot([("bundled", None), ("inhouse", str(tsv(tmp_path, [GOOD])))])
    old = json.loads(json.dumps(bundled))
    old["statements"][0]["notes"] = "older note"
    old["statements"].append(dict(old["statements"][1], id="CCEV-OLD-1"))
    d = diff_snapshots(old, new)
    assert d["added"] == ["LAB-1"] and d["removed"] == ["CCEV-OLD-1"]
    assert d["changed"] == [{"id": bundled["statements"][0]["id"], "fields": ["notes"]}]


def test_cli_build_validate_diff_and_errors(tmp_path, capsys):
    out = tmp_path / "snap.json"
    assert main(["kb", "build", "--output", str(out)]) == 0
    snap = load_snapshot(out)
    assert snap.content_hash == json.loads(out.read_text())["manifest"]["content_hash"]
    assert main(["kb", "validate", str(out)]) == 0
    assert "valid snapshot" in capsys.readouterr().out
    assert main(["kb", "diff", str(out), str(out)]) == 0
    assert capsys.readouterr().out.startswith("added 0, removed 0, changed 0")
    bad = tsv(tmp_path, [GOOD, ["LAB-2", "EGFR", "variant", "L858", "NSCLC"] + [""] * 12])
    strict_out = tmp_path / "strict.json"
    assert (
        main(
            [
                "kb",
                "build",
                "--output",
                str(strict_out),
                "--source",
                "bundled",
                "--source",
                f"inhouse={bad}",
                "--strict",
            ]
        )
        == 2
    )
    assert not strict_out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected every source row to import" in err
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"a": 1}')
    assert main(["kb", "validate", str(garbage)]) == 2


def test_bundled_yaml_errors_name_file_and_line(tmp_path):
    from ccevariants.kb.importers.bundled import import_bundled

    (tmp_path / "_meta.yaml").write_text("name: t\nversion: '1'\n")
    (tmp_path / "a.yaml").write_text("- id: X\n  biomarker: [unclosed\n")
    with pytest.raises(KnowledgeBaseError, match=r"a.yaml:\d+: expected valid YAML"):
        import_bundled(str(tmp_path))
    (tmp_path / "a.yaml").write_text("id: X\n")
    with pytest.raises(KnowledgeBaseError, match="a.yaml:1: expected a YAML list of statements; found dict"):
        import_bundled(str(tmp_path))
    (tmp_path / "a.yaml").write_text("- just a string\n- id: Y\n  effect: sensitivity\n")
    result = import_bundled(str(tmp_path))
    assert result.skipped == {"malformed statement": 1} and [line for _, line, _ in result.statements] == [2]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KnowledgeBaseError, match="expected statement YAML files; found none"):
        import_bundled(str(empty))


def test_snapshot_with_bad_statement_names_it(bundled):
    doc = json.loads(json.dumps(bundled))
    doc["statements"][3]["effect"] = "maybe"
    doc["manifest"]["content_hash"] = None
    with pytest.raises(KnowledgeBaseError, match="snap.json: statement #4: statement .*effect"):
        snapshot_from_document(doc, "snap.json")


def test_cli_validate_sources(tmp_path, capsys):
    assert main(["kb", "validate", "--source", f"inhouse={tsv(tmp_path, [GOOD])}"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["statement_count"] == 1 and out["sources"][0]["imported"] == 1


def test_bundled_alias_table_is_partial():
    aliases = GeneAliases.load()
    assert aliases.complete is False
    assert aliases.resolve("HER2") == "ERBB2" and aliases.resolve("EGFR") == "EGFR"
    assert aliases.resolve("TTN") is None
