"""Write the three report files atomically: ``{P}.html``, ``{P}.json``, ``{P}.tsv``.

Either all three appear or none: each is rendered in memory first, validated, written to a temporary
file and renamed into place only after all three renderings succeeded.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from .._io import atomic_write
from ..errors import InputError, SchemaError
from .document import build_document
from .inputs import check_biomarkers, check_matches, check_variants
from .render import render_report

log = logging.getLogger(__name__)
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "report.schema.json"

#: Columns of ``{P}.tsv``: one row per finding (``record=finding``) then per variant (``record=variant``).
TSV_COLUMNS = (
    "record", "patient", "gene", "alteration", "variant_id", "chrom", "pos", "ref", "alt", "transcript",
    "hgvsc", "hgvsp", "hgvsp_short", "consequence", "t_af", "t_dp", "t_ad_alt", "class", "amp_tier", "escat",
    "effect", "therapies", "ema_on_label", "fda_on_label", "match_type", "disease_match", "source",
    "statement_id", "references", "germline_flag", "note", "oncogenicity",
)  # fmt: skip


@lru_cache(maxsize=1)
def _schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def _validator():
    """A validator for the schema with its local ``#/$defs/...`` references inlined (the schema has no
    recursion): resolving ``$ref`` per instance dominates validation time on large reports."""
    import jsonschema

    schema = _schema()
    defs = schema.get("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return jsonschema.Draft202012Validator(inline(schema))


def validate_document(doc: dict, path: str | Path | None = None) -> None:
    """Validate a report document against ``report.schema.json``; raise SchemaError on the first error."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(document)"
        raise SchemaError(
            f"expected a report document valid against report.schema.json at {where}; found {err.message}",
            path=path,
        )


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".4g")
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _variant_section(doc: dict) -> str:
    """TSV rows (record=variant) for every variant, reported or not, in genomic order. Columnar."""
    import numpy as np
    import pandas as pd

    from .document import sorted_pick_rows

    columns = list(TSV_COLUMNS)
    reported = pd.DataFrame(doc["variants"])
    other = doc["_other"]
    frames = []
    if len(reported):
        frames.append(reported.drop(columns=["finding_ids"]))
    if len(other):
        extra = other.copy()
        extra["class"] = "other"
        extra["note"] = "not protein-altering"
        notes = {u["variant_id"]: u["reason"] for u in doc["unmatched"] if u["variant_id"] and u["reason"]}
        if notes:
            hit = extra["variant_id"].astype(str).map(notes)
            extra["note"] = hit.fillna(extra["note"])
        onc = {
            u["variant_id"]: u["oncogenicity"]
            for u in doc["unmatched"]
            if u["variant_id"] and u["oncogenicity"]
        }
        extra["oncogenicity"] = extra["variant_id"].astype(str).map(onc) if onc else None
        for c in ("amp_tier", "escat", "germline_flag"):
            extra[c] = None
        for c in ("t_dp", "t_ad_ref", "t_ad_alt", "n_dp", "n_ad_ref", "n_ad_alt", "protein_position"):
            extra[c] = extra[c].where(extra[c] >= 0, None)
        frames.append(extra)
    if not frames:
        return ""
    table = pd.concat(frames, ignore_index=True)
    table["pick"] = True
    table = sorted_pick_rows(table)
    table["record"] = "variant"
    table["patient"] = doc["patient"]["patient_id"]
    short = table["hgvsp_short"].astype(str)
    table["alteration"] = np.where(short.str.startswith("p."), short.str[2:], "")
    out = pd.DataFrame(index=table.index)
    for c in columns:
        col = table[c] if c in table.columns else pd.Series([None] * len(table), index=table.index)
        if c == "t_af":
            values = pd.to_numeric(col, errors="coerce").round(4).to_numpy(dtype=float)
            text = np.char.mod("%.4g", np.nan_to_num(values))
            out[c] = np.where(np.isnan(values), "", text)
        elif c in ("t_dp", "t_ad_alt", "pos"):
            out[c] = pd.to_numeric(col, errors="coerce").astype("Int64").astype("string").fillna("")
        else:
            out[c] = col.fillna("").astype(str).str.replace(r"[\t\r\n]", " ", regex=True)
    # every cell is a string without tab or newline: Arrow's CSV writer with quoting off is exact and
    # an order of magnitude faster than DataFrame.to_csv on 10^5 rows
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table_ = pa.Table.from_pandas(out.astype(str), preserve_index=False)
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    pacsv.write_csv(table_, sink, write_options=options)
    return sink.getvalue().decode("utf-8")


def render_tsv(doc: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, quotechar=None)
    writer.writerow(TSV_COLUMNS)
    patient = doc["patient"]["patient_id"]
    by_id = {v["variant_id"]: v for v in doc["variants"]}
    for f in doc["findings"]:
        v = by_id.get(f["variant_id"] or "", {})
        row = {
            "record": "finding", "patient": patient, "gene": f["gene"], "alteration": f["alteration"],
            "variant_id": f["variant_id"], "chrom": v.get("chrom"), "pos": v.get("pos"), "ref": v.get("ref"),
            "alt": v.get("alt"), "transcript": f["transcript"], "hgvsc": f["hgvsc"], "hgvsp": f["hgvsp"],
            "hgvsp_short": v.get("hgvsp_short"), "consequence": v.get("consequence"), "t_af": f["vaf"],
            "t_dp": f["depth"], "t_ad_alt": v.get("t_ad_alt"), "class": f["category"], "amp_tier": f["amp_tier"],
            "escat": f["escat"], "effect": f["effect"], "therapies": ";".join(f["therapies"]),
            "ema_on_label": f["on_label"]["EMA"], "fda_on_label": f["on_label"]["FDA"],
            "match_type": f["match_type"], "disease_match": f["disease_match"], "source": f["evidence"]["source"],
            "statement_id": f["evidence"]["statement_id"],
            "references": ";".join(r["label"] for r in f["evidence"]["references"]),
            "germline_flag": f["germline_flag"],
            "note": "; ".join(f"co-occurring {c['gene']} {c['alteration']} confers resistance to "
                              f"{', '.join(c['drugs'])}" for c in f["resistance_conflicts"]),
            "oncogenicity": f["oncogenicity"],
        }  # fmt: skip
        writer.writerow([_fmt(row.get(c)) for c in TSV_COLUMNS])
    for x in doc["pending"]:
        # requires confirmation: no tier (escat / amp_tier stay empty; *_if_confirmed are in the JSON)
        row = {
            "record": "pending", "patient": patient, "gene": x["gene"], "alteration": x["alteration"],
            "class": x["category"], "effect": x["effect"], "therapies": ";".join(x["therapies"]),
            "match_type": "wildtype", "disease_match": x["disease_match"], "source": x["evidence"]["source"],
            "statement_id": x["evidence"]["statement_id"],
            "references": ";".join(r["label"] for r in x["evidence"]["references"]), "note": x["message"],
        }  # fmt: skip
        writer.writerow([_fmt(row.get(c)) for c in TSV_COLUMNS])
    return buffer.getvalue() + _variant_section(doc)


def readable(paths) -> None:
    """Give written files the usual permissions (0666 minus the umask): the temporary files behind the
    atomic writes are created 0600, and a report is meant to be shared."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    for path in paths:
        os.chmod(path, 0o666 & ~mask)


def write_report(
    patient: str,
    sheet_row: dict,
    matches: dict,
    variants,
    biomarkers: dict,
    normalize_stats: dict | None,
    filtered,
    outdir,
    provenance: dict | None = None,
    fixed_date: str | None = None,
    previous: dict | None = None,
    input_paths: dict | None = None,
) -> dict[str, Path]:
    """Build, validate and write ``{patient}.html``, ``.json`` and ``.tsv`` into ``outdir``.

    Returns ``{"html": path, "json": path, "tsv": path}``. ``input_paths`` (name -> path) only
    improves error messages. Positions in all outputs are 1-based.
    """
    paths = input_paths or {}
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(patient)):
        raise InputError(
            f"expected a patient ID of letters, digits, '.', '_', '-' (it names the output files); found {patient!r}"
        )
    check_matches(matches, paths.get("matches"))
    check_biomarkers(biomarkers, paths.get("biomarkers"))
    check_variants(variants, paths.get("variants"))
    if matches.get("patient") not in (None, "", patient):
        raise InputError(
            f"expected matches for patient {patient!r}; found {matches.get('patient')!r}",
            path=paths.get("matches") or "matches",
        )
    sheet_code = str(sheet_row.get("tumor_type") or "").strip()
    match_code = str(matches["tumor_type"].get("code") or "")
    if sheet_code and match_code and sheet_code != match_code:
        raise InputError(
            f"expected matches for tumour type {sheet_code} (sample sheet); found {match_code}",
            path=paths.get("matches") or "matches",
        )
    if previous is not None and not (
        isinstance(previous, dict)
        and isinstance(previous.get("findings"), list)
        and "schema_version" in previous
    ):
        raise InputError(
            "expected a previous report document (a {P}.json with schema_version and findings); found something else",
            path=paths.get("previous") or "previous report",
        )
    if fixed_date is not None:
        import datetime

        try:
            datetime.date.fromisoformat(fixed_date)
        except ValueError:
            raise InputError(f"expected --fixed-date as YYYY-MM-DD; found {fixed_date!r}") from None
    doc = build_document(
        patient,
        sheet_row,
        matches,
        variants,
        biomarkers,
        normalize_stats,
        filtered,
        provenance,
        fixed_date,
        previous,
    )
    html = render_report(doc)
    tsv = render_tsv(doc)
    public = {k: v for k, v in doc.items() if not k.startswith("_")}
    validate_document(public)
    text = json.dumps(public, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"

    outdir = Path(outdir)
    out = {
        "html": outdir / f"{patient}.html",
        "json": outdir / f"{patient}.json",
        "tsv": outdir / f"{patient}.tsv",
    }
    with contextlib.ExitStack() as stack:
        handles = {k: stack.enter_context(atomic_write(p)) for k, p in out.items()}
        handles["html"].write(html)
        handles["json"].write(text)
        handles["tsv"].write(tsv)
    readable(out.values())
    log.info("report for %s: %d findings, %d key, %d reported variants", patient, len(doc["findings"]),
             len(doc["key_findings"]), len(doc["variants"]))  # fmt: skip
    return out
