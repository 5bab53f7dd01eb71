"""The bundled open knowledge base: curated YAML under ``ccevariants/data/kb/``.

Each ``*.yaml`` file (except ``_meta.yaml``, ``hotspots.yaml``, ``gene_roles.yaml`` and ``gene_aliases.tsv``) is a list
of statements in the schema form of ``kb_statement.schema.json`` without ``source`` /
``source_version`` (filled in from ``_meta.yaml``). PMIDs may be written as integers.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from ...errors import KnowledgeBaseError
from . import SourceResult

NON_STATEMENT_FILES = {"_meta.yaml", "hotspots.yaml", "gene_roles.yaml"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same result, faster


def bundled_dir() -> Path:
    return Path(str(resources.files("ccevariants") / "data" / "kb"))


def load_yaml_statements(path: Path, result: SourceResult, source: str, version: str) -> None:
    """Append every statement of one YAML list file to ``result`` with its 1-based line number."""
    text = path.read_text(encoding="utf-8")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KnowledgeBaseError(
            f"expected valid YAML; found {getattr(exc, 'problem', exc)}",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
    finally:
        loader.dispose()
    if data is None:
        return
    if not isinstance(data, list):
        raise KnowledgeBaseError(
            f"expected a YAML list of statements; found {type(data).__name__}", path=path, line=1
        )
    for node, item in zip(root.value, data, strict=True):
        line = node.start_mark.line + 1
        result.rows_read += 1
        if not isinstance(item, dict):
            result.skip(
                "malformed statement", f"{path}:{line}: expected a mapping; found {type(item).__name__}"
            )
            continue
        doc = dict(item)
        doc.setdefault("source", source)
        doc.setdefault("source_version", version)
        refs = doc.get("references")
        if isinstance(refs, dict) and "pmids" in refs and isinstance(refs["pmids"], list):
            refs = dict(refs)
            refs["pmids"] = [str(p) for p in refs["pmids"]]
            doc["references"] = refs
        result.statements.append((doc, line, str(path)))


def import_bundled(path: str | None = None) -> SourceResult:
    directory = Path(path) if path else bundled_dir()
    meta_path = directory / "_meta.yaml"
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    result = SourceResult(
        name=meta.get("name", "ccev-curated"),
        version=str(meta.get("version", "0")),
        licence=meta.get("licence", "CC0-1.0"),
        research_only=False,
        date=str(meta.get("date")) if meta.get("date") else None,
        url=meta.get("url"),
        path="bundled" if not path else str(directory),
    )
    files = sorted(p for p in directory.glob("*.yaml") if p.name not in NON_STATEMENT_FILES)
    if not files:
        raise KnowledgeBaseError("expected statement YAML files; found none", path=directory)
    for file in files:
        load_yaml_statements(file, result, result.name, result.version)
    return result
