"""OncoTree tumour-type hierarchy: loading, lineage and disease matching.

OncoTree (Kundra et al., JCO Clin Cancer Inform 2021; https://oncotree.mskcc.org, CC BY 4.0) is
released as nested JSON: ``{"TISSUE": {"code", "name", "mainType", "tissue", "children": {...}}}``.
:class:`OncoTree` flattens it into ``code -> node`` with parent links so lineage and ancestor tests
are dictionary walks.

Two pseudo codes stand for pan-cancer evidence in knowledge-base statements (they are not OncoTree
nodes):

* ``ALL_TUMORS`` -- any tumour type (solid or haematological). Not ``ALL``: that was the OncoTree
  code of acute lymphoid leukaemia in older releases (still used by some knowledge bases);
* ``SOLID`` -- any solid tumour: every node whose top-level tissue is neither ``MYELOID`` nor
  ``LYMPH``.

Disease match of a statement against a patient (see ``docs/knowledge-base.md``):
``same`` (statement code == patient code), ``ancestor`` (statement code is an ancestor of the
patient's), ``pan_cancer`` (``ALL_TUMORS``/``SOLID`` applying to the patient, after exclusions; excluding a
code excludes its whole subtree), otherwise ``other``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import InputError

PAN_CANCER = {"ALL_TUMORS": "All tumour types", "SOLID": "All solid tumours"}
HAEMATOLOGICAL_TISSUES = frozenset({"MYELOID", "LYMPH"})
ROOT = "TISSUE"
#: Strength order of disease matches (lower is stronger).
DISEASE_MATCH_RANK = {"same": 0, "ancestor": 1, "pan_cancer": 2, "other": 3}


@dataclass(frozen=True)
class Node:
    code: str
    name: str
    parent: str | None
    main_type: str | None
    tissue: str | None
    level: int


class OncoTree:
    """A flattened OncoTree release (``code -> Node``)."""

    def __init__(self, nodes: dict[str, Node], release: str, source: str = ""):
        self.nodes = nodes
        self.release = release
        self.source = source

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, document: dict, release: str = "", source: str = "") -> OncoTree:
        """Build from a nested OncoTree release (``{"TISSUE": {...}}``) or a flat subset document
        (``{"release": ..., "nodes": [{"code", "name", "parent", ...}]}``, as written by
        :func:`subset_document`)."""
        if isinstance(document, dict) and "nodes" in document and isinstance(document["nodes"], list):
            nodes = {}
            for i, row in enumerate(document["nodes"]):
                try:
                    nodes[row["code"]] = Node(
                        code=row["code"],
                        name=row["name"],
                        parent=row.get("parent"),
                        main_type=row.get("mainType"),
                        tissue=row.get("tissue"),
                        level=int(row.get("level", 0)),
                    )
                except (KeyError, TypeError, ValueError):
                    raise InputError(
                        f"expected an OncoTree node with code and name; found {row!r:.80}",
                        path=source or None,
                        line=i + 1,
                    ) from None
            tree = cls(nodes, document.get("release", release), source)
            tree._check_parents()
            return tree
        if not isinstance(document, dict) or ROOT not in document:
            raise InputError(
                f"expected an OncoTree release with a top-level {ROOT!r} node; found keys {sorted(document)[:5] if isinstance(document, dict) else type(document).__name__}",
                path=source or None,
            )
        nodes: dict[str, Node] = {}
        stack = [(document[ROOT], None, 0)]
        while stack:
            raw, parent, level = stack.pop()
            try:
                code = raw["code"]
                node = Node(code, raw["name"], parent, raw.get("mainType"), raw.get("tissue"), level)
                children = raw.get("children") or {}
            except (KeyError, TypeError):
                raise InputError(
                    f"expected an OncoTree node with 'code', 'name' and 'children'; found {str(raw)[:80]}",
                    path=source or None,
                ) from None
            if code in nodes:
                raise InputError(f"expected unique OncoTree codes; found {code} twice", path=source or None)
            nodes[code] = node
            for child in children.values():
                stack.append((child, code, level + 1))
        return cls(nodes, release, source)

    @classmethod
    def load(cls, path: str | Path | None = None) -> OncoTree:
        """Load an OncoTree release JSON; ``None`` loads the bundled subset."""
        if path is None:
            ref = resources.files("ccevariants") / "data" / "oncotree_subset.json"
            with ref.open("r", encoding="utf-8") as handle:
                document = json.load(handle)
            return cls.from_json(document, source="bundled oncotree_subset.json")
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            raise InputError("expected an existing OncoTree JSON file; found none", path=path) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"expected valid JSON; found {exc.msg}", path=path, line=exc.lineno) from None
        release = _release_from_name(path.name)
        return cls.from_json(document, release=release, source=str(path))

    def _check_parents(self) -> None:
        for node in self.nodes.values():
            if node.parent is not None and node.parent not in self.nodes:
                raise InputError(
                    f"expected parent {node.parent} of {node.code} to be in the tree; found it missing",
                    path=self.source or None,
                )

    # -- queries -------------------------------------------------------------------------------
    def __contains__(self, code: str) -> bool:
        return code in self.nodes

    def node(self, code: str) -> Node:
        try:
            return self.nodes[code]
        except KeyError:
            raise InputError(
                f"expected an OncoTree code of release {self.release or '?'}; found {code!r}"
            ) from None

    def name(self, code: str) -> str:
        if code in PAN_CANCER:
            return PAN_CANCER[code]
        return self.node(code).name

    def lineage(self, code: str) -> list[str]:
        """Codes from the first level below the ``TISSUE`` root down to ``code`` (root→leaf)."""
        out = []
        current: str | None = self.node(code).code
        while current is not None and current != ROOT:
            out.append(current)
            current = self.nodes[current].parent
        return out[::-1]

    def tissue_code(self, code: str) -> str:
        """Top-level tissue code (e.g. ``LUNG`` for ``LUAD``)."""
        lineage = self.lineage(code)
        return lineage[0] if lineage else ROOT

    def is_ancestor(self, ancestor: str, code: str) -> bool:
        """True when ``ancestor`` is a strict ancestor of ``code``."""
        return ancestor != code and ancestor in self.lineage(code)

    def is_solid(self, code: str) -> bool:
        return self.tissue_code(code) not in HAEMATOLOGICAL_TISSUES

    def descendants(self, code: str) -> set[str]:
        children: dict[str, list[str]] = {}
        for node in self.nodes.values():
            if node.parent is not None:
                children.setdefault(node.parent, []).append(node.code)
        out, stack = set(), [code]
        while stack:
            for child in children.get(stack.pop(), []):
                out.add(child)
                stack.append(child)
        return out

    def disease_match(
        self, statement_codes: Iterable[str], patient_code: str, exclude: Iterable[str] = ()
    ) -> str:
        """Best disease match of a statement's codes against the patient's code.

        Returns ``same``, ``ancestor``, ``pan_cancer`` or ``other``; ``excluded`` when the patient's
        type (or one of its ancestors) is in ``exclude`` -- exclusions win over every match.
        Unknown statement codes never match (they give ``other``).
        """
        lineage = self.lineage(patient_code)
        if any(code in lineage for code in exclude):
            return "excluded"
        best = "other"
        for code in statement_codes:
            if code == patient_code:
                found = "same"
            elif code in lineage:
                found = "ancestor"
            elif code == "ALL_TUMORS" or (code == "SOLID" and self.is_solid(patient_code)):
                found = "pan_cancer"
            else:
                continue
            if DISEASE_MATCH_RANK[found] < DISEASE_MATCH_RANK[best]:
                best = found
        return best


def _release_from_name(name: str) -> str:
    import re

    m = re.search(r"(\d{4})_(\d{2})_(\d{2})", name)
    return f"oncotree_{m.group(1)}_{m.group(2)}_{m.group(3)}" if m else name


def subset_document(tree: OncoTree, codes: Iterable[str], *, with_descendants: bool = True) -> dict:
    """A flat subset: the given codes, their ancestors and (by default) their descendants."""
    keep: set[str] = set()
    for code in codes:
        if code in PAN_CANCER:
            continue
        keep.update(tree.lineage(code))
        if with_descendants:
            keep |= tree.descendants(code)
    # every top-level tissue, so tissue-level codes are always resolvable
    keep |= {c for c, n in tree.nodes.items() if n.parent == ROOT}
    keep.add(ROOT)
    rows = []
    for code in sorted(keep, key=lambda c: (tree.nodes[c].level, c)):
        n = tree.nodes[code]
        rows.append(
            {
                "code": n.code,
                "name": n.name,
                "parent": n.parent,
                "mainType": n.main_type,
                "tissue": n.tissue,
                "level": n.level,
            }
        )
    return {
        "release": tree.release,
        "attribution": (
            "OncoTree (Memorial Sloan Kettering Cancer Center), https://oncotree.mskcc.org, licensed CC BY 4.0; "
            f"subset of release {tree.release} generated by ccevariants.oncotree.subset_document"
        ),
        "licence": "CC-BY-4.0",
        "nodes": rows,
    }
