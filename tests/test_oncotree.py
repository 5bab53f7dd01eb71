"""OncoTree loading, lineage and disease matching on the real 2025-10 release and the bundled subset."""

from __future__ import annotations

import json

import pytest

from ccevariants.errors import InputError
from ccevariants.oncotree import OncoTree, subset_document


@pytest.fixture(scope="module")
def release(shared_data):
    return OncoTree.load(shared_data / "oncotree" / "oncotree_2025_10_03.json")


def test_real_release_counts_and_lineage(release):
    assert release.release == "oncotree_2025_10_03"
    assert len(release.nodes) == 898  # README: 898 nodes in 2025-10 (root TISSUE included)
    assert release.lineage("LUAD") == ["LUNG", "NSCLC", "LUAD"]
    assert release.lineage("IHCH") == ["BILIARY_TRACT", "IPN", "CHOL", "IHCH"]
    assert release.lineage("HGSOC") == ["OVARY", "OVT", "SOC", "HGSOC"]
    assert release.tissue_code("COAD") == "BOWEL"
    assert release.is_ancestor("COADREAD", "COAD") and not release.is_ancestor("COAD", "COADREAD")
    assert not release.is_ancestor("LUAD", "LUAD")
    assert release.is_solid("LUAD") and not release.is_solid("AML")
    assert release.name("SKCM") == "Cutaneous Melanoma"


def test_disease_match_rules(release):
    dm = release.disease_match
    assert dm(["LUAD"], "LUAD") == "same"
    assert dm(["NSCLC"], "LUAD") == "ancestor"
    assert dm(["LUAD"], "NSCLC") == "other"  # more specific evidence is not the patient's type
    assert dm(["COADREAD"], "LUAD") == "other"
    assert dm(["SOLID"], "PAAD") == "pan_cancer"
    assert dm(["SOLID"], "AML") == "other"
    assert dm(["ALL_TUMORS"], "AML") == "pan_cancer"
    assert dm(["ALL"], "AML") == "other"  # old OncoTree code of acute lymphoid leukaemia, not pan-cancer
    # excluding a code excludes its subtree, and exclusion wins
    assert dm(["SOLID"], "COAD", exclude=["COADREAD"]) == "excluded"
    assert dm(["SOLID"], "READ", exclude=["COADREAD"]) == "excluded"
    assert dm(["SOLID"], "THPA", exclude=["COADREAD"]) == "pan_cancer"
    # best of several codes
    assert dm(["SOLID", "NSCLC"], "LUAD") == "ancestor"


def test_bundled_subset_agrees_with_release(release):
    bundled = OncoTree.load()
    assert bundled.release == "oncotree_2025_10_03"
    for code in ("LUAD", "COAD", "SKCM", "IDC", "IHCH", "THME", "HGSOC", "AML", "PAAD"):
        assert bundled.lineage(code) == release.lineage(code)
        assert bundled.name(code) == release.name(code)
    # descendants of KB codes are included (a patient may be coded more specifically)
    assert release.descendants("NSCLC") <= set(bundled.nodes)


def test_subset_document_keeps_ancestors_only_when_asked(release):
    doc = subset_document(release, ["LUAD"], with_descendants=False)
    codes = {n["code"] for n in doc["nodes"]}
    assert {"TISSUE", "LUNG", "NSCLC", "LUAD"} <= codes and "LUSC" not in codes
    assert "CC BY 4.0" in doc["attribution"]
    tree = OncoTree.from_json(doc)
    assert tree.lineage("LUAD") == ["LUNG", "NSCLC", "LUAD"]


def test_bad_inputs(tmp_path, release):
    with pytest.raises(
        InputError, match="expected an OncoTree code of release oncotree_2025_10_03; found 'XYZ'"
    ):
        release.lineage("XYZ")
    missing = tmp_path / "none.json"
    with pytest.raises(InputError, match="expected an existing OncoTree JSON"):
        OncoTree.load(missing)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"foo": {}}))
    with pytest.raises(InputError, match="top-level 'TISSUE'"):
        OncoTree.load(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"TISSUE": ')
    with pytest.raises(InputError, match="broken.json:1: expected valid JSON"):
        OncoTree.load(broken)
    orphan = {"release": "x", "nodes": [{"code": "A", "name": "a", "parent": "MISSING"}]}
    with pytest.raises(InputError, match="expected parent MISSING of A"):
        OncoTree.from_json(orphan)


def test_older_release_loads(shared_data):
    old = OncoTree.load(shared_data / "oncotree" / "oncotree_2019_12_01.json")
    assert old.release == "oncotree_2019_12_01"
    assert old.lineage("LUAD") == ["LUNG", "NSCLC", "LUAD"]


def test_bundled_resources_are_reproducible(shared_data, tmp_path):
    from importlib import resources

    from ccevariants.kb.bundle import regenerate_bundled_resources

    counts = regenerate_bundled_resources(
        shared_data / "oncotree" / "oncotree_2025_10_03.json",
        shared_data / "gene-aliases" / "org.Hs.eg.genes.tsv",
        output_dir=tmp_path,
    )
    data = resources.files("ccevariants") / "data"
    assert (tmp_path / "oncotree_subset.json").read_text() == (data / "oncotree_subset.json").read_text()
    assert (tmp_path / "kb" / "gene_aliases.tsv").read_text() == (
        data / "kb" / "gene_aliases.tsv"
    ).read_text()
    # the whole 2025-10 release (898 nodes, counted independently below); 48 genes
    assert counts == {"oncotree_nodes": 898, "genes": 48}


def test_bundled_tree_has_every_code_of_the_release(shared_data):
    import json

    def walk(node, out):
        out.add(node["code"])
        for child in (node.get("children") or {}).values():
            walk(child, out)
        return out

    release = json.loads((shared_data / "oncotree" / "oncotree_2025_10_03.json").read_text())
    codes = walk(release["TISSUE"], set())
    assert len(codes) == 898
    assert set(OncoTree.load(None).nodes) == codes
