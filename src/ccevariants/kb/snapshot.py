"""Compile knowledge-base sources into one content-hashed snapshot; load, validate and diff snapshots.

Snapshot JSON::

    {"manifest": {"name", "version", "date", "schema_version", "oncotree_release", "statement_count",
                  "content_hash", "sources": [{"name", "version", "date", "licence", "research_only",
                  "path", "rows_read", "imported", "skipped": {reason: n}, "problems": [...],
                  "normalised_genes": {alias: symbol}, "unverified_genes": [...]}],
                  "conflicts": [...], "warnings": [...]},
     "statements": [statement documents sorted by id]}

``content_hash`` is the SHA-256 of the canonical JSON of ``statements`` (so two builds of the same
content hash equal whatever the paths or build machine).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .._io import read_json, sha256_json
from ..errors import KnowledgeBaseError
from ..oncotree import PAN_CANCER, OncoTree
from .genes import GeneAliases
from .importers import SourceResult, run_importer
from .model import Statement, statement_from_dict

log = logging.getLogger(__name__)
SCHEMA_VERSION = "1"
SNAPSHOT_NAME = "ccev-kb"


@dataclass
class Snapshot:
    manifest: dict
    statements: list[Statement]
    path: str | None = None

    @property
    def name(self) -> str:
        return self.manifest.get("name", SNAPSHOT_NAME)

    @property
    def version(self) -> str:
        return self.manifest.get("version", "")

    @property
    def content_hash(self) -> str:
        return self.manifest.get("content_hash", "")

    def by_gene(self) -> dict[str | None, list[Statement]]:
        out: dict[str | None, list[Statement]] = {}
        for st in self.statements:
            genes = st.biomarker.genes() or {None}
            for g in genes:
                out.setdefault(g, []).append(st)
        return out


def _rename_genes(doc: dict, mapping: dict[str, str]) -> dict:
    def fix(b: dict) -> dict:
        b = dict(b)
        if b.get("gene") in mapping:
            b["gene"] = mapping[b["gene"]]
        if b.get("partner") in mapping:
            b["partner"] = mapping[b["partner"]]
        for key in ("components", "absent"):
            if key in b:
                b[key] = [fix(c) for c in b[key]]
        return b

    doc = dict(doc)
    doc["biomarker"] = fix(doc["biomarker"])
    return doc


def _canonical_biomarker(b: dict) -> str:
    """Biomarker identity for conflict detection: the document without display labels."""

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "label"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    import json

    return json.dumps(strip(b), sort_keys=True)


def _conflict_key(st: Statement) -> tuple:
    return (
        _canonical_biomarker(st.biomarker.to_dict()),
        tuple(sorted(st.disease_codes)),
        tuple(sorted(st.disease_exclude)),
        tuple(sorted(st.drugs)),
    )


def build_snapshot(
    sources: list[tuple[str, str | None]],
    *,
    strict: bool = False,
    oncotree: OncoTree | None = None,
    aliases: GeneAliases | None = None,
) -> dict:
    """Import every ``(name, path)`` source, validate and compile the snapshot document.

    Rows that fail are skipped and counted per source with a reason (malformed statement, unknown
    OncoTree code, unknown gene, duplicate id); contradictory statements (same biomarker, disease and
    therapy with sensitivity in one and resistance in another) are kept and listed under
    ``conflicts``. With ``strict`` any skipped row or conflict raises :class:`KnowledgeBaseError`.
    """
    tree = oncotree or OncoTree.load()
    genes = aliases or GeneAliases.load()
    if not sources:
        sources = [("bundled", None)]
    seen_ids: set[str] = set()
    statements: list[Statement] = []
    manifests = []
    warnings: list[str] = []
    for name, path in sources:
        result: SourceResult = run_importer(name, path, oncotree=tree)
        imported = 0
        normalised: dict[str, str] = {}
        unverified: set[str] = set()
        for item in result.statements:
            doc, line = item[0], item[1]
            file = item[2] if len(item) > 2 else (result.path or name)
            where = f"{file}:{line}" if line is not None else file
            try:
                st = statement_from_dict(doc, path=file, line=line)
            except KnowledgeBaseError as exc:
                result.skip("malformed statement", str(exc))
                continue
            # gene symbols
            mapping: dict[str, str] = {}
            unknown = []
            for gene in sorted(
                st.biomarker.genes() | ({st.biomarker.partner} if st.biomarker.partner else set())
            ):
                official = genes.resolve(gene)
                if official is None:
                    if genes.complete:
                        unknown.append(gene)
                    else:
                        unverified.add(gene)
                elif official != gene:
                    mapping[gene] = official
            if unknown:
                result.skip(
                    "unknown gene",
                    f"{where}: statement {st.id}: expected an NCBI/HGNC gene symbol; found {', '.join(unknown)}",
                )
                continue
            if mapping:
                normalised.update(mapping)
                st = statement_from_dict(_rename_genes(doc, mapping), path=file, line=line)
            # diseases
            bad = [c for c in st.disease_codes + st.disease_exclude if c not in PAN_CANCER and c not in tree]
            if bad:
                result.skip(
                    "unknown OncoTree code",
                    f"{where}: statement {st.id}: expected OncoTree codes of release {tree.release}; found {', '.join(bad)}",
                )
                continue
            if st.id in seen_ids:
                result.skip(
                    "duplicate statement id", f"{where}: expected a unique statement id; found {st.id} again"
                )
                continue
            seen_ids.add(st.id)
            statements.append(st)
            imported += 1
        if result.research_only:
            warnings.append(
                f"source {result.name} is licensed {result.licence} (research / non-commercial use only): "
                "this snapshot must not be redistributed or used clinically under that licence"
            )
        manifests.append(
            {
                "name": result.name,
                "kind": name,
                "version": result.version,
                "date": result.date,
                "licence": result.licence,
                "research_only": result.research_only,
                "url": result.url,
                "path": result.path,
                "rows_read": result.rows_read,
                "imported": imported,
                "skipped": dict(sorted(result.skipped.items())),
                "problems": list(result.problems),
                "normalised_genes": dict(sorted(normalised.items())),
                "unverified_genes": sorted(unverified),
            }
        )
    # contradictions
    groups: dict[tuple, list[Statement]] = {}
    for st in statements:
        if st.effect in ("sensitivity", "resistance"):
            groups.setdefault(_conflict_key(st), []).append(st)
    conflicts = []
    for group in groups.values():
        effects = {st.effect for st in group}
        if len(effects) > 1:
            conflicts.append(
                {
                    "statement_ids": sorted(st.id for st in group),
                    "reason": "same biomarker, disease and therapy reported as both sensitivity and resistance",
                }
            )
    conflicts.sort(key=lambda c: c["statement_ids"])
    if strict:
        problems = [p for m in manifests for p in m["problems"]]
        n_skipped = sum(sum(m["skipped"].values()) for m in manifests)
        if n_skipped:
            first = problems[0] if problems else "see manifest"
            raise KnowledgeBaseError(
                f"expected every source row to import (--strict); found {n_skipped} skipped, first: {first}"
            )
        if conflicts:
            raise KnowledgeBaseError(
                f"expected no contradictory statements (--strict); found {len(conflicts)}, first: {', '.join(conflicts[0]['statement_ids'])}"
            )
    statements.sort(key=lambda s: s.id)
    docs = [st.to_dict() for st in statements]
    manifest = {
        "name": SNAPSHOT_NAME,
        "version": "+".join(f"{m['name']}-{m['version']}" for m in manifests),
        # content date (newest source date), not the build time: identical inputs give identical snapshots
        "date": max((str(m["date"]) for m in manifests if m.get("date")), default=None),
        "schema_version": SCHEMA_VERSION,
        "oncotree_release": tree.release,
        "statement_count": len(docs),
        "content_hash": sha256_json(docs),
        "sources": manifests,
        "conflicts": conflicts,
        "warnings": warnings,
    }
    for w in warnings:
        log.warning(w)
    return {"manifest": manifest, "statements": docs}


def snapshot_from_document(document: dict, path: str | None = None) -> Snapshot:
    if not isinstance(document, dict) or "manifest" not in document or "statements" not in document:
        raise KnowledgeBaseError(
            "expected a snapshot with 'manifest' and 'statements'; found something else", path=path
        )
    statements = []
    for i, doc in enumerate(document["statements"]):
        statements.append(_parse(doc, path, i))
    manifest = document["manifest"]
    expected = sha256_json(document["statements"])
    if manifest.get("content_hash") not in (None, expected):
        raise KnowledgeBaseError(
            f"expected content_hash {manifest.get('content_hash')}; found {expected} (snapshot edited after build?)",
            path=path,
        )
    return Snapshot(manifest, statements, path)


def _parse(doc: dict, path: str | None, index: int) -> Statement:
    try:
        return statement_from_dict(doc, path=path)
    except KnowledgeBaseError as exc:
        raise KnowledgeBaseError(f"statement #{index + 1}: {exc.detail}", path=path) from None


def load_snapshot(path: str | Path) -> Snapshot:
    """Read and validate a snapshot written by :func:`build_snapshot`."""
    try:
        document = read_json(path)
    except KnowledgeBaseError:
        raise
    except Exception as exc:  # InputError from read_json
        raise KnowledgeBaseError(str(getattr(exc, "detail", exc)), path=path) from None
    return snapshot_from_document(document, str(path))


def diff_snapshots(old: dict, new: dict) -> dict:
    """Statement ids added, removed and changed (with the changed top-level fields) between two snapshot documents."""
    a = {s["id"]: s for s in old["statements"]}
    b = {s["id"]: s for s in new["statements"]}
    changed = []
    for sid in sorted(a.keys() & b.keys()):
        if a[sid] != b[sid]:
            fields = sorted(k for k in a[sid].keys() | b[sid].keys() if a[sid].get(k) != b[sid].get(k))
            changed.append({"id": sid, "fields": fields})
    return {
        "old": {
            "version": old["manifest"].get("version"),
            "content_hash": old["manifest"].get("content_hash"),
        },
        "new": {
            "version": new["manifest"].get("version"),
            "content_hash": new["manifest"].get("content_hash"),
        },
        "added": sorted(b.keys() - a.keys()),
        "removed": sorted(a.keys() - b.keys()),
        "changed": changed,
    }
