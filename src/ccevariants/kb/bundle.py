"""Regenerate the bundled derived resources from public upstream files (maintainers only).

* ``data/oncotree_subset.json``: the OncoTree codes used by the bundled KB plus the common tumour
  types of sample sheets, with ancestors and descendants (CC BY 4.0, attribution inside);
* ``data/kb/gene_aliases.tsv``: NCBI symbols and aliases for every gene the bundled KB and the
  hotspot table name.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from .._io import write_json
from ..oncotree import OncoTree, subset_document
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


def regenerate_bundled_resources(oncotree_release: str | Path, ncbi_genes: str | Path) -> dict:
    data = Path(str(resources.files("ccevariants") / "data"))
    result = import_bundled()
    codes, genes = _codes_and_genes(result)
    hot = yaml.safe_load((data / "kb" / "hotspots.yaml").read_text(encoding="utf-8"))["hotspots"]
    genes |= set(hot)
    tree = OncoTree.load(oncotree_release)
    document = subset_document(tree, sorted(codes | set(COMMON_CODES)))
    write_json(data / "oncotree_subset.json", document)
    n = derive_alias_table(ncbi_genes, genes, data / "kb" / "gene_aliases.tsv")
    return {"oncotree_nodes": len(document["nodes"]), "genes": n}
