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
    "statement_id", "references", "germline_flag", "note",
)  # fmt: skip


@lru_cache(maxsize=1)
def _schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def validate_document(doc: dict, path: str | Path | None = None) -> None:
    """Validate a report document against ``report.schema.json``; raise SchemaError on the first error."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
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
        return repr(value)
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def render_tsv(doc: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar=None)
    writer.writerow(TSV_COLUMNS)
    patient = doc["patient"]["patient_id"]
    by_id = {v["variant_id"]: v for v in doc["variants"] + doc.get("_other_variants", [])}
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
            "germline_flag": f["germline_flag"], "note": "",
        }  # fmt: skip
        writer.writerow([_fmt(row.get(c)) for c in TSV_COLUMNS])
    from .document import variant_sort_key

    for v in sorted(by_id.values(), key=variant_sort_key):
        row = dict(v)
        row.update(
            {
                "record": "variant",
                "patient": patient,
                "alteration": v["hgvsp_short"][2:] if v["hgvsp_short"].startswith("p.") else "",
            }
        )
        writer.writerow([_fmt(row.get(c)) for c in TSV_COLUMNS])
    return buffer.getvalue()


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
    check_matches(matches, paths.get("matches"))
    check_biomarkers(biomarkers, paths.get("biomarkers"))
    check_variants(variants, paths.get("variants"))
    if matches.get("patient") not in (None, "", patient):
        raise InputError(
            f"expected matches for patient {patient!r}; found {matches.get('patient')!r}",
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
    log.info("report for %s: %d findings, %d key, %d reported variants", patient, len(doc["findings"]),
             len(doc["key_findings"]), len(doc["variants"]))  # fmt: skip
    return out
