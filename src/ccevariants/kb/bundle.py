"""Regenerate the bundled derived resources from public upstream files (maintainers only).

* ``data/oncotree_subset.json``: the whole hierarchy (code, name, parent, tissue, main type) of the pinned
  OncoTree release, so any valid code passes sample-sheet validation (CC BY 4.0, attribution inside);
* ``data/kb/gene_aliases.tsv``: NCBI symbols and aliases for every gene the bundled KB and the
  hotspot table name.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from .._io import write_json
from ..oncotree import PAN_CANCER, OncoTree, subset_document
from .genes import derive_alias_table
from .importers.bundled import import_bundled

#: Common sample-sheet tumour types kept in the subset even without a KB statement.
COMMON_CODES = (
    "LUAD",
    "LUSC",
    "NSCLC",
    "SCLC",
    "COAD",
    "READ",
    "COADREAD",
    "BRCA",
    "IDC",
    "ILC",
    "MEL",
    "SKCM",
    "GIST",
    "PAAD",
    "PRAD",
    "HGSOC",
    "OVT",
    "BLCA",
    "UTUC",
    "UCEC",
    "STAD",
    "ESCA",
    "EGC",
    "THPA",
    "THME",
    "THAP",
    "THFO",
    "CHOL",
    "IHCH",
    "EHCH",
    "GBC",
    "AML",
    "MNM",
    "GB",
    "HNSC",
    "CCRCC",
    "HCC",
    "LIVER",
)


def _codes_and_genes(result) -> tuple[set[str], set[str]]:
    codes, genes = set(), set()

    def walk(b: dict) -> None:
        if b.get("gene"):
            genes.add(b["gene"])
        if b.get("partner"):
            genes.add(b["partner"])
        for key in ("components", "absent"):
            for c in b.get(key, []):
                walk(c)

    for item in result.statements:
        doc = item[0]
        codes.update(doc["disease"]["codes"])
        codes.update(doc["disease"].get("exclude", []))
        walk(doc["biomarker"])
    return codes, genes


def regenerate_bundled_resources(
    oncotree_release: str | Path, ncbi_genes: str | Path, output_dir: str | Path | None = None
) -> dict:
    """Write ``oncotree_subset.json`` and ``kb/gene_aliases.tsv`` under ``output_dir`` (default: the
    package's ``data`` directory) from the bundled statements and hotspot table."""
    data = Path(str(resources.files("ccevariants") / "data"))
    out = Path(output_dir) if output_dir is not None else data
    result = import_bundled()
    codes, genes = _codes_and_genes(result)
    hot = yaml.safe_load((data / "kb" / "hotspots.yaml").read_text(encoding="utf-8"))["hotspots"]
    genes |= set(hot)
    tree = OncoTree.load(oncotree_release)
    # Every node of the pinned release (codes, names, parents only): a sample sheet may use any valid code,
    # and validation must not reject one because the bundled KB has no statement for it.
    missing = sorted(c for c in codes | set(COMMON_CODES) if c not in tree.nodes and c not in PAN_CANCER)
    if missing:
        raise ValueError(f"bundled KB or common codes not in OncoTree {tree.release}: {', '.join(missing)}")
    document = subset_document(tree, sorted(tree.nodes))
    write_json(out / "oncotree_subset.json", document)
    n = derive_alias_table(ncbi_genes, genes, out / "kb" / "gene_aliases.tsv")
    return {"oncotree_nodes": len(document["nodes"]), "genes": n}
