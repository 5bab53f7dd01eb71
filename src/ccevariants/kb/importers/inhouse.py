"""In-house statements: a YAML list in the statement schema, or a documented TSV.

TSV columns (tab-separated, header required; ``;`` separates list values; see docs/knowledge-base.md):

``id gene type alteration disease exclude drugs combination effect escat amp_level native_level
ema_approved fda_approved pmids urls notes``

* ``type``: variant | codon | exon | functional | amplification | deletion | fusion | characteristic
* ``alteration``: variant → ``L858R;L861Q``; codon → ``G12;G13``; exon → ``19:deletion``;
  functional → activating | loss_of_function | truncating | oncogenic; fusion → partner or empty;
  characteristic → TMB-high | MSI-high | HRD; amplification / deletion → empty
* ``combination``, ``ema_approved``, ``fda_approved``: yes | no | (empty = unknown)
"""

from __future__ import annotations

import csv
from pathlib import Path

from ...errors import KnowledgeBaseError
from . import SourceResult
from .bundled import load_yaml_statements

TSV_COLUMNS = (
    "id",
    "gene",
    "type",
    "alteration",
    "disease",
    "exclude",
    "drugs",
    "combination",
    "effect",
    "escat",
    "amp_level",
    "native_level",
    "ema_approved",
    "fda_approved",
    "pmids",
    "urls",
    "notes",
)
REQUIRED = ("id", "type", "disease", "effect")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def _yes_no(value: str | None, column: str) -> bool | None:
    v = (value or "").strip().lower()
    if v in ("yes", "true", "1"):
        return True
    if v in ("no", "false", "0"):
        return False
    if v in ("", "unknown", "na"):
        return None
    raise ValueError(f"expected {column} yes|no|empty; found {value!r}")


def tsv_row_to_statement(row: dict, source: str, version: str) -> dict:
    """One TSV row → statement document (schema form). Raises ValueError with "expected X; found Y"."""
    for column in REQUIRED:
        if not (row.get(column) or "").strip():
            raise ValueError(f"expected a value in column {column}; found it empty")
    kind = row["type"].strip()
    alteration = (row.get("alteration") or "").strip()
    biomarker: dict = {"type": kind}
    if row.get("gene", "").strip():
        biomarker["gene"] = row["gene"].strip()
    if kind in ("variant", "codon"):
        biomarker["alterations"] = _split(alteration)
    elif kind == "exon":
        exon, _, cls = alteration.partition(":")
        if not exon.isdigit() or not cls:
            raise ValueError(f"expected exon alteration like 19:deletion; found {alteration!r}")
        biomarker["exon"], biomarker["exon_class"] = int(exon), cls
    elif kind == "functional":
        biomarker["function"] = alteration
    elif kind == "fusion":
        if alteration:
            biomarker["partner"] = alteration
    elif kind == "characteristic":
        biomarker["characteristic"] = alteration
    regulatory = {}
    for agency in ("EMA", "FDA"):
        approved = _yes_no(row.get(f"{agency.lower()}_approved"), f"{agency.lower()}_approved")
        if approved is not None:
            regulatory[agency] = {"approved": approved}
    doc = {
        "id": row["id"].strip(),
        "biomarker": biomarker,
        "disease": {"codes": _split(row["disease"]), "exclude": _split(row.get("exclude"))},
        "effect": row["effect"].strip(),
        "evidence": {
            "escat": (row.get("escat") or "").strip() or None,
            "amp_level": (row.get("amp_level") or "").strip() or None,
            "native_level": (row.get("native_level") or "").strip() or None,
        },
        "regulatory": regulatory,
        "references": {"pmids": _split(row.get("pmids")), "urls": _split(row.get("urls")), "trials": []},
        "source": source,
        "source_version": version,
    }
    drugs = _split(row.get("drugs"))
    if drugs:
        doc["therapy"] = {"drugs": drugs, "combination": bool(_yes_no(row.get("combination"), "combination"))}
    if (row.get("notes") or "").strip():
        doc["notes"] = row["notes"].strip()
    return doc


def import_inhouse(path: str) -> SourceResult:
    p = Path(path)
    if not p.exists():
        raise KnowledgeBaseError("expected an existing in-house statement file; found none", path=p)
    result = SourceResult(name=f"inhouse:{p.stem}", version=p.stem, licence="in-house", path=str(p))
    if p.suffix in (".yaml", ".yml"):
        load_yaml_statements(p, result, result.name, result.version)
        return result
    with open(p, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise KnowledgeBaseError(
                f"expected TSV columns {', '.join(TSV_COLUMNS)}; found {', '.join(reader.fieldnames or [])} (missing {', '.join(missing)})",
                path=p,
                line=1,
            )
        for row in reader:
            line = reader.line_num
            result.rows_read += 1
            try:
                doc = tsv_row_to_statement(row, result.name, result.version)
            except ValueError as exc:
                result.skip("malformed row", f"{p}:{line}: {exc}")
                continue
            result.statements.append((doc, line))
    return result
