"""Render the report document to one self-contained HTML file (Jinja2, autoescape on).

All CSS, JavaScript and SVG are inline; the page references no external resource (links to PubMed or
trial registries are plain ``<a href>`` anchors, never loaded). Every value taken from the inputs is
escaped by Jinja2's autoescaping; the SVG plots are built in the template from numbers computed here.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,  # every template, whatever its suffix
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["pct"] = lambda x: "—" if x is None else f"{100 * x:.1f}%"
    env.filters["status_label"] = lambda s: STATUS_LABELS.get(s, s)
    env.filters["onc_label"] = lambda s: "—" if not s else ONCOGENICITY_LABELS.get(s, s)
    return env


ONCOGENICITY_LABELS = {
    "oncogenic": "Oncogenic",
    "likely_oncogenic": "Likely oncogenic",
    "unknown": "Unknown (VUS)",
    "not_applicable": "Not applicable",
}

STATUS_LABELS = {
    "detected": "Detected",
    "not_detected": "Not detected",
    "not_assessable": "Not assessable",
    "high": "High",
    "low": "Low",
    "msi_high": "MSI-high",
    "mss": "MSS (stable)",
}


def format_number(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, int | float):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return "—"
    return f"{value:.{digits}f}"


def histogram(values, bins: int = 20, lo: float = 0.0, hi: float = 1.0) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi] (the last bin is closed; values
    outside or missing are ignored)."""
    import numpy as np

    arr = np.asarray(
        [np.nan if v is None else v for v in values] if isinstance(values, list) else values, dtype=float
    )
    arr = arr[(arr >= lo) & (arr <= hi)]
    idx = np.minimum(((arr - lo) / ((hi - lo) / bins)).astype(np.int64), bins - 1)
    return np.bincount(idx, minlength=bins).astype(int).tolist()


def bar_chart(labels: list[str], counts: list[int], width: int = 360, height: int = 150) -> dict:
    """Geometry of a vertical bar chart: a dict the template draws as inline SVG."""
    top = max(counts) if counts and max(counts) > 0 else 1
    left, bottom, pad = 28, 30, 6
    plot_w, plot_h = width - left - pad, height - bottom - pad
    n = max(len(counts), 1)
    bw = plot_w / n
    bars = []
    for i, (label, c) in enumerate(zip(labels, counts, strict=True)):
        h = plot_h * c / top
        bars.append(
            {
                "x": round(left + i * bw + 1, 2),
                "y": round(pad + plot_h - h, 2),
                "w": round(max(bw - 2, 1), 2),
                "h": round(h, 2),
                "label": label,
                "count": c,
                "cx": round(left + i * bw + bw / 2, 2),
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "bottom": height - bottom,
        "top": pad,
        "max": top,
        "bars": bars,
    }


def group_key_findings(findings: list[dict]) -> list[dict]:
    """Fold ranked key findings into one group per alteration, effect and tier (first-seen order),
    each listing its therapies with their EMA and FDA label status and indication."""
    groups: dict[tuple, dict] = {}
    for f in findings:
        key = (
            f["gene"],
            f["alteration"],
            f["category"],
            f["effect"],
            f["escat"],
            f["amp_tier"],
            f["disease_match"],
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "finding": f,
                "therapies": [],
                "_seen": set(),
            }
        for therapy in f["therapies"] or ["—"]:
            item = (therapy, f["on_label"]["EMA"], f["on_label"]["FDA"], f["indication"] or "")
            if item not in group["_seen"]:
                group["_seen"].add(item)
                group["therapies"].append(
                    {
                        "name": therapy,
                        "ema": item[1],
                        "fda": item[2],
                        "indication": item[3],
                        "finding_id": f["finding_id"],
                        "conflicts": [
                            c
                            for c in f.get("resistance_conflicts") or []
                            if set(c["drugs"]) & set(therapy.split(" + "))
                        ],
                    }
                )
    out = []
    for group in groups.values():
        del group["_seen"]
        out.append(group)
    return out


def group_pending(pending: list[dict]) -> list[dict]:
    """One "Requires confirmation" line per unconfirmed requirement (same gene, alteration and
    problems), listing every therapy that depends on it (first-seen order)."""
    from .document import pending_message

    groups: dict[tuple, dict] = {}
    for x in pending:
        wa = x["wildtype_assessment"] or {"problems": [], "details": []}
        key = (x["gene"], x["alteration"], tuple(wa["problems"]), x["reason"])
        group = groups.setdefault(
            key, {"items": [], "therapies": [], "details": wa["details"], "indications": []}
        )
        group["items"].append(x)
        for t in x["therapies"]:
            if t not in group["therapies"]:
                group["therapies"].append(t)
        if x["indication"] and x["indication"] not in group["indications"]:
            group["indications"].append(x["indication"])
    out = []
    for (gene, alteration, problems, reason), group in groups.items():
        why = list(problems) or ([reason.split(": ", 1)[-1]] if reason else [])
        group["message"] = pending_message(gene, alteration, group["therapies"], why)
        group["escat_if_confirmed"] = sorted({x["escat_if_confirmed"] for x in group["items"]})
        group["statement_ids"] = [x["evidence"]["statement_id"] for x in group["items"]]
        out.append(group)
    return out


def render_report(doc: dict) -> str:
    vaf_counts = histogram(doc["_vafs"])
    vaf_labels = [f"{i * 0.05:.2f}" for i in range(20)]
    tier_labels = ["I", "II", "III", "not reported"]
    tier_counts = [
        sum(1 for v in doc["variants"] if v["amp_tier"] == "I"),
        sum(1 for v in doc["variants"] if v["amp_tier"] == "II"),
        sum(1 for v in doc["variants"] if v["amp_tier"] == "III"),
        doc["variants_not_reported"]["count"],
    ]
    findings = {f["finding_id"]: f for f in doc["findings"]}
    context = {
        "doc": doc,
        "key_groups": group_key_findings([findings[i] for i in doc["key_findings"]]),
        "pending_groups": group_pending(doc["pending"]),
        "actionable_variants": [v for v in doc["variants"] if v["class"] == "actionable"],
        "vus": [v for v in doc["variants"] if v["class"] == "vus"],
        "vaf_plot": bar_chart(vaf_labels, vaf_counts),
        "tier_plot": bar_chart(tier_labels, tier_counts),
        "n_vaf": sum(vaf_counts),
    }
    return environment().get_template("report.html.j2").render(**context)


def render_cohort(context: dict) -> str:
    return environment().get_template("cohort.html.j2").render(**context)
