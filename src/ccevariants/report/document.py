"""Build the report document (a JSON-serialisable dict, schema ``report.schema.json``).

The document is the single source of truth: the HTML and TSV are renderings of it, and the cohort
view reads it back. Positions are VCF-style 1-based (``pos``); protein positions are 1-based residues.
Everything is sorted explicitly so the same inputs give a byte-identical document.
"""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from . import clinical
from .inputs import clean_count, clean_number, parse_assay, parse_purity

SCHEMA_VERSION = "1.2.0"
#: Variants with tumour depth below this are flagged in QC.
LOW_DEPTH = 20
#: Filtered records listed individually (all are counted per reason).
MAX_FILTERED_LISTED = 500
#: Standard germline-testing recommendation (ESMO PMWG, Kuzbari et al., Ann Oncol 2023).
GERMLINE_RECOMMENDATION = (
    "Possible germline origin (tumour-only testing). Recommend genetic counselling and confirmatory "
    "germline testing of a normal sample (blood/saliva)."
)
_TRUE = {"1", "true", "yes", "y", "t"}


def _chrom_key(chrom: str) -> tuple[int, int, str]:
    name = chrom[3:] if chrom.lower().startswith("chr") else chrom
    if name.isdigit():
        return (0, int(name), "")
    special = {"X": 1, "Y": 2, "M": 3, "MT": 3}
    if name.upper() in special:
        return (1, special[name.upper()], "")
    return (2, 0, chrom)


def variant_sort_key(v: dict) -> tuple:
    return (_chrom_key(v["chrom"]), v["pos"], v["ref"], v["alt"])


def _bool(text: Any) -> bool:
    return str(text).strip().lower() in _TRUE


# --------------------------------------------------------------------------------------------------
# references


def normalise_reference(ref: Any) -> dict[str, str]:
    """A KB reference (``"PMID:123"``, ``"NCT01234567"``, a URL, or a dict) as ``{label, url}``.

    The URL is kept as link text; the report never loads it.
    """
    if isinstance(ref, dict):
        for key in ("pmid", "PMID"):
            if ref.get(key):
                return normalise_reference(f"PMID:{ref[key]}")
        for key in ("nct", "trial", "trial_id"):
            if ref.get(key):
                return normalise_reference(str(ref[key]))
        if ref.get("doi"):
            doi = str(ref["doi"])
            return {"label": f"doi:{doi}", "url": f"https://doi.org/{doi}"}
        label = str(ref.get("citation") or ref.get("label") or ref.get("title") or ref.get("url") or "")
        return {"label": label, "url": str(ref.get("url") or "")}
    text = str(ref).strip()
    m = re.fullmatch(r"(?i)(?:pmid[:\s]*)?(\d{4,9})", text)
    if m:
        return {"label": f"PMID:{m.group(1)}", "url": f"https://pubmed.ncbi.nlm.nih.gov/{m.group(1)}/"}
    m = re.fullmatch(r"(?i)(NCT\d{8})", text)
    if m:
        nct = m.group(1).upper()
        return {"label": nct, "url": f"https://clinicaltrials.gov/study/{nct}"}
    m = re.fullmatch(r"(?i)doi:\s*(\S+)", text)
    if m:
        return {"label": f"doi:{m.group(1)}", "url": f"https://doi.org/{m.group(1)}"}
    if re.match(r"https?://", text):
        return {"label": text, "url": text}
    return {"label": text, "url": ""}


# --------------------------------------------------------------------------------------------------
# variants


def _record(row: dict) -> dict:
    """A report variant dict from one annotated-table row (already plain Python values)."""
    return {
        "variant_id": str(row["variant_id"]),
        "chrom": str(row["chrom"]),
        "pos": int(row["pos"]),
        "ref": str(row["ref"]),
        "alt": str(row["alt"]),
        "filter": str(row["filter"]),
        "gene": str(row["gene"]),
        "gene_id": str(row["gene_id"]),
        "transcript": str(row["transcript"]),
        "biotype": str(row["biotype"]),
        "consequence": str(row["consequence"]),
        "impact": str(row["impact"]),
        "exon": str(row["exon"]),
        "intron": str(row["intron"]),
        "hgvsc": str(row["hgvsc"]),
        "hgvsp": str(row["hgvsp"]),
        "hgvsp_short": str(row["hgvsp_short"]),
        "protein_position": clean_count(row["protein_position"]),
        "mane": bool(row["mane"]),
        "canonical": bool(row["canonical"]),
        "t_dp": clean_count(row["t_dp"]),
        "t_ad_ref": clean_count(row["t_ad_ref"]),
        "t_ad_alt": clean_count(row["t_ad_alt"]),
        "t_af": clean_number(row["t_af"], 4),
        "n_dp": clean_count(row["n_dp"]),
        "n_ad_ref": clean_count(row["n_ad_ref"]),
        "n_ad_alt": clean_count(row["n_ad_alt"]),
        "n_af": clean_number(row["n_af"], 4),
    }


def sorted_pick_rows(variants):
    """The reporting-transcript (pick) rows in genomic order (chromosomes in natural order, then
    1-based position, REF, ALT), as a DataFrame with a fresh index. Columnar: no per-row Python."""
    import numpy as np
    import pandas as pd

    if variants is None or len(variants) == 0:
        return pd.DataFrame(columns=list(variants.columns) if variants is not None else [])
    picked = variants[variants["pick"].to_numpy(dtype=bool)]
    chrom = picked["chrom"].astype(str)
    names = sorted(pd.unique(chrom), key=_chrom_key)
    keys = pd.DataFrame(
        {
            "c": pd.Categorical(chrom, categories=names).codes.astype(np.int64),
            "p": picked["pos"].to_numpy(dtype=np.int64),
            "r": picked["ref"].astype(str).to_numpy(),
            "a": picked["alt"].astype(str).to_numpy(),
        }
    )
    order = keys.sort_values(["c", "p", "r", "a"], kind="mergesort").index.to_numpy()
    return picked.iloc[order].reset_index(drop=True)


def _altering_mask(consequence):
    """Boolean array: consequence has a protein-altering SO term (evaluated once per distinct value)."""
    import pandas as pd

    values = consequence.astype(str)
    lookup = {c: clinical.is_protein_altering(c) for c in pd.unique(values)}
    return values.map(lookup).to_numpy(dtype=bool)


def _one_letter(hgvsp_short: str) -> str:
    return hgvsp_short[2:] if hgvsp_short.startswith("p.") else hgvsp_short


# --------------------------------------------------------------------------------------------------
# findings


def _finding_record(f: dict, variant: dict | None) -> dict:
    evidence = f.get("evidence") or {}
    refs = [normalise_reference(r) for r in (evidence.get("references") or [])]
    record = {
        "finding_id": str(f["finding_id"]),
        "gene": str(f["gene"]),
        "alteration": str(f["alteration"]),
        "category": str(f["category"]),
        "variant_id": f.get("variant_id"),
        "match_type": str(f.get("match_type") or ""),
        "effect": str(f["effect"]),
        "therapies": [str(t) for t in (f.get("therapies") or [])],
        "escat": str(f["escat"]),
        "amp_tier": str(f["amp_tier"]),
        "amp_level": str(f.get("amp_level") or ""),
        "on_label": {"EMA": bool(f["on_label"]["EMA"]), "FDA": bool(f["on_label"]["FDA"])},
        "disease_match": str(f.get("disease_match") or ""),
        "evidence": {
            "source": str(evidence.get("source") or ""),
            "statement_id": str(evidence.get("statement_id") or ""),
            "native_level": str(evidence.get("native_level") or ""),
            "source_version": str(evidence.get("source_version") or ""),
            "references": refs,
        },
        "trace": [str(t) for t in (f.get("trace") or [])],
        "similar_alteration": bool(f.get("similar_alteration", False)),
        "regulatory": _regulatory(f.get("regulatory")),
        "notes": str(f["notes"]) if f.get("notes") else None,
        "indication": _indication(f.get("indication")),
        "hgvsc": variant["hgvsc"] if variant else "",
        "hgvsp": variant["hgvsp"] if variant else "",
        "transcript": variant["transcript"] if variant else "",
        "vaf": variant["t_af"] if variant else None,
        "depth": variant["t_dp"] if variant else None,
        "germline_flag": None,
        "caveat": None,
        "oncogenicity": _oncogenicity(f.get("oncogenicity")),
        "oncogenicity_reason": str(f["oncogenicity_reason"]) if f.get("oncogenicity_reason") else None,
        "resistance_conflicts": [
            {
                "statement_id": str(c.get("statement_id") or ""),
                "gene": str(c.get("gene") or ""),
                "alteration": str(c.get("alteration") or ""),
                "variant_id": str(c["variant_id"]) if c.get("variant_id") else None,
                "drugs": [str(d) for d in c.get("drugs") or []],
                "escat": str(c.get("escat") or ""),
            }
            for c in f.get("resistance_conflicts") or []
            if isinstance(c, dict)
        ],
        "merged_statements": [
            {
                "statement_id": str(m.get("statement_id") or ""),
                "source": str(m.get("source") or ""),
                "context": str(m["context"]) if m.get("context") else None,
                "on_label": {
                    "EMA": bool((m.get("on_label") or {}).get("EMA")),
                    "FDA": bool((m.get("on_label") or {}).get("FDA")),
                },
                "references": [normalise_reference(r) for r in m.get("references") or []],
            }
            for m in f.get("merged_statements") or []
            if isinstance(m, dict)
        ],
        "wildtype_assessment": _wildtype_assessment(f.get("wildtype_assessment")),
    }
    return record


ONCOGENICITY = ("oncogenic", "likely_oncogenic", "unknown", "not_applicable")


def _oncogenicity(value) -> str | None:
    """The matcher's oncogenicity class, or None when the matcher gave none (older matches.json)."""
    return str(value) if value in ONCOGENICITY else None


def _wildtype_assessment(wa) -> dict | None:
    if not isinstance(wa, dict):
        return None
    return {
        "assessable": bool(wa.get("assessable")),
        "basis": {str(k): str(v) for k, v in sorted((wa.get("basis") or {}).items())},
        "details": [str(x) for x in wa.get("details") or []],
        "problems": [str(x) for x in wa.get("problems") or []],
    }


def pending_message(gene: str, alteration: str, therapies: list[str], problems: list[str]) -> str:
    """The one wording for a wild-type requirement that could not be confirmed, e.g. "KRAS/NRAS
    RAS wild-type not assessable — KRAS codons 59, 61 not adequately covered; confirm before
    cetuximab / panitumumab"."""
    genes = [g for g in re.split(r"[/,+ ]+", gene.upper()) if g]
    named = "wild" in alteration.lower() or any(g in alteration.upper() for g in genes)
    what = alteration if named and alteration else f"{gene} {alteration}".strip()
    why = "; ".join(problems) or "the required loci were not shown to be adequately covered"
    before = " / ".join(therapies) or "treatment"
    return f"{what} not assessable — {why}; confirm before {before}"


def _pending_record(p: dict) -> dict:
    wa = _wildtype_assessment(p.get("wildtype_assessment"))
    evidence = p.get("evidence") or {}
    therapies = [str(t) for t in (p.get("therapies") or [])]
    labels = p.get("on_label_if_confirmed") or {}
    problems = (wa or {}).get("problems") or []
    reason = str(p.get("reason") or "")
    return {
        "finding_id": str(p.get("finding_id") or ""),
        "gene": str(p.get("gene") or ""),
        "alteration": str(p.get("alteration") or ""),
        "category": str(p.get("category") or "biomarker"),
        "effect": str(p.get("effect") or ""),
        "therapies": therapies,
        "status": "not_assessable",
        "requires_confirmation": True,
        "escat_if_confirmed": str(p.get("escat_if_confirmed") or ""),
        "amp_tier_if_confirmed": str(p.get("amp_tier_if_confirmed") or ""),
        "on_label_if_confirmed": {"EMA": bool(labels.get("EMA")), "FDA": bool(labels.get("FDA"))},
        "disease_match": str(p.get("disease_match") or ""),
        "indication": _indication(p.get("indication")),
        "reason": reason,
        "message": pending_message(
            str(p.get("gene") or ""),
            str(p.get("alteration") or ""),
            therapies,
            problems or ([reason.split(": ", 1)[-1]] if reason else []),
        ),
        "wildtype_assessment": wa,
        "evidence": {
            "source": str(evidence.get("source") or ""),
            "statement_id": str(evidence.get("statement_id") or ""),
            "references": [normalise_reference(r) for r in evidence.get("references") or []],
        },
        "trace": [str(t) for t in (p.get("trace") or [])],
    }


def _wildtype_caveats(findings: list[dict], coverage: dict[str, dict]) -> None:
    """Caveat (in place) on asserted wild-type findings whose status is not established.

    The matcher's ``wildtype_assessment`` decides: a non-assessable wild-type requirement normally goes
    to ``pending`` (shown in "Requires confirmation"), so an asserted finding with ``assessable: true``
    gets no caveat. Only when the matcher gives no assessment (older matches.json) is adequate coverage
    checked here per gene; the caveat then uses the same wording as a pending entry.
    """
    for f in findings:
        if f["match_type"] != "wildtype":
            continue
        wa = f.get("wildtype_assessment")
        if wa is not None:
            if not wa["assessable"]:
                f["caveat"] = pending_message(f["gene"], f["alteration"], f["therapies"], wa["problems"])
            continue
        genes = [g for g in re.split(r"[/,+ ]+", f["gene"]) if g]
        uncovered = [g for g in genes if not (coverage.get(g) or {}).get("adequate")]
        if uncovered or not genes:
            names = ", ".join(uncovered or [f["gene"] or "the gene"])
            f["caveat"] = pending_message(
                f["gene"], f["alteration"], f["therapies"], [f"no adequate-coverage evidence for {names}"]
            )


def _indication(ind) -> str | None:
    """The statement's indication context (e.g. "advanced or metastatic, first line"), if any."""
    if isinstance(ind, dict) and ind.get("context"):
        return str(ind["context"])
    return None


def _regulatory(reg) -> dict:
    """Per-agency approval details from the matcher (``{agency: {approved, date, reference}}``)."""
    out = {}
    if isinstance(reg, dict):
        for agency, item in sorted(reg.items()):
            if not isinstance(item, dict):
                continue
            approved = item.get("approved")
            out[str(agency)] = {
                "approved": approved if isinstance(approved, bool) else None,
                "date": str(item["date"]) if item.get("date") else None,
                "reference": str(item["reference"]) if item.get("reference") else None,
            }
    return out


def finding_sort_key(f: dict) -> tuple:
    effect_rank = {"sensitivity": 0, "resistance": 1, "diagnostic": 2, "prognostic": 3}.get(f["effect"], 4)
    return (
        clinical.escat_rank(f["escat"]),
        clinical.amp_rank(f["amp_tier"]),
        effect_rank,
        f["gene"],
        f["alteration"],
        ",".join(f["therapies"]),
        f["finding_id"],
    )


def is_key_finding(f: dict) -> bool:
    """Front-page finding: a therapy-linked (sensitivity or resistance) finding with ESCAT I-III,
    or a resistance marker with AMP tier I/II."""
    if f["effect"] not in ("sensitivity", "resistance"):
        return False
    if f["escat"] in clinical.KEY_ESCAT:
        return True
    return f["effect"] == "resistance" and f["amp_tier"] in ("I", "II")


def finding_key(f: dict) -> str:
    """Identity of a finding across re-reports (finding IDs may change between KB snapshots)."""
    return "|".join(
        [f["gene"], f["alteration"], f["effect"], ";".join(sorted(f["therapies"])), f["category"]]
    )


# --------------------------------------------------------------------------------------------------
# pertinent negatives


def _variant_matches(neg: clinical.Negative, v: dict) -> bool:
    if v["gene"] != neg.gene or not clinical.is_protein_altering(v["consequence"]):
        return False
    if neg.alteration:
        return _one_letter(v["hgvsp_short"]) == neg.alteration
    if neg.codons or neg.exons or neg.introns:
        ok = False
        if neg.codons and v["protein_position"] in neg.codons:
            ok = True
        exon = v["exon"].split("/")[0]
        intron = v["intron"].split("/")[0]
        if neg.exons and exon.isdigit() and int(exon) in neg.exons:
            ok = True
        if neg.introns and intron.isdigit() and int(intron) in neg.introns:
            ok = True
        return ok
    return True


def _pertinent_negatives(lineage, variants, biomarkers, sheet_row, coverage) -> dict:
    code, table = clinical.negatives_for(lineage)
    fusions_assessed = bool(sheet_row.get("sv_vcf")) or bool(biomarkers.get("fusions"))
    cna_assessed = bool(sheet_row.get("cnv")) or bool(biomarkers.get("cna"))
    items = []
    for neg in table:
        status, detail = "not_assessable", ""
        if neg.kind == "variant":
            hits = [v for v in variants if _variant_matches(neg, v)]
            if hits:
                status = "detected"
                detail = "; ".join(
                    f"{v['gene']} {v['hgvsp_short'] or v['hgvsc'] or v['variant_id']}" for v in hits
                )
            else:
                cov = coverage.get(neg.gene)
                if cov is None:
                    detail = (
                        "no variant called; no coverage data, so variant calls alone cannot prove absence"
                    )
                elif cov.get("adequate"):
                    status = "not_detected"
                    detail = "no variant called; locus covered adequately" + _cov_text(cov)
                else:
                    detail = "no variant called; coverage below threshold" + _cov_text(cov)
        elif neg.kind == "amp":
            hits = [
                c
                for c in biomarkers.get("cna") or []
                if c.get("gene") == neg.gene and c.get("alteration") == "amplification"
            ]
            if hits:
                status = "detected"
                detail = f"copy number {hits[0].get('copy_number')}"
            elif cna_assessed:
                status = "not_detected"
                detail = "copy-number data analysed; no amplification called"
            else:
                detail = "no copy-number data supplied"
        elif neg.kind == "fusion":
            hits = [
                fu for fu in biomarkers.get("fusions") or [] if neg.gene in (fu.get("gene5"), fu.get("gene3"))
            ]
            if hits:
                status = "detected"
                detail = "; ".join(f"{fu.get('gene5')}-{fu.get('gene3')}" for fu in hits)
            elif fusions_assessed:
                status = "not_detected"
                detail = "structural-variant data analysed; no fusion called (DNA-based fusion detection has limited sensitivity)"
            else:
                detail = "no structural-variant or fusion data supplied"
        elif neg.kind == "msi":
            msi = biomarkers.get("msi") or {}
            if msi.get("status") == "msi_high":
                status, detail = "detected", f"MSI-high ({msi.get('method') or 'method not stated'})"
            elif msi.get("status") == "mss":
                status, detail = "not_detected", f"MSS ({msi.get('method') or 'method not stated'})"
            else:
                detail = "MSI not assessed"
        elif neg.kind == "tmb":
            tmb = biomarkers.get("tmb") or {}
            if tmb.get("status") == "high":
                status, detail = "detected", f"{tmb.get('value')} mut/Mb"
            elif tmb.get("status") == "low":
                status, detail = "not_detected", f"{tmb.get('value')} mut/Mb"
            else:
                detail = "TMB not assessable"
        items.append(
            {
                "label": neg.label,
                "gene": neg.gene,
                "kind": neg.kind,
                "status": status,
                "detail": detail,
                "source": neg.source,
            }
        )
    return {"lineage_code": code, "coverage_known": bool(coverage), "items": items}


def _cov_text(cov: dict) -> str:
    parts = []
    if cov.get("mean_depth") is not None:
        parts.append(f"mean depth {cov['mean_depth']}")
    if cov.get("min_depth") is not None:
        parts.append(f"min depth {cov['min_depth']}")
    if cov.get("threshold") is not None:
        parts.append(f"threshold {cov['threshold']}")
    return f" ({', '.join(parts)})" if parts else ""


def _coverage_by_gene(biomarkers: dict) -> dict[str, dict]:
    """Optional ``coverage`` in biomarkers.json: a list of ``{gene, adequate, mean_depth, min_depth,
    threshold}`` or a mapping gene -> that object (proposed extension of contracts section 4)."""
    cov = biomarkers.get("coverage")
    if isinstance(cov, dict):
        return {str(g): dict(v) for g, v in cov.items() if isinstance(v, dict)}
    if isinstance(cov, list):
        out: dict[str, dict] = {}
        for item in cov:
            if isinstance(item, dict) and item.get("gene"):
                g = str(item["gene"])
                item = dict(item)
                if "min_depth" not in item and item.get("depth") is not None:
                    item["min_depth"] = item["depth"]
                # a gene is adequate only if every region of it is
                prev = out.get(g)
                if prev is None or (prev.get("adequate") and not item.get("adequate")):
                    out[g] = dict(item)
        return out
    return {}


# --------------------------------------------------------------------------------------------------
# the document


def build_document(
    patient: str,
    sheet_row: dict,
    matches: dict,
    variants,
    biomarkers: dict,
    normalize_stats: dict | None = None,
    filtered=None,
    provenance: dict | None = None,
    fixed_date: str | None = None,
    previous: dict | None = None,
) -> dict:
    """Assemble the report document from the stage outputs (see module docstring)."""
    import datetime

    provenance = dict(provenance or {})
    run_date = fixed_date or datetime.datetime.now(datetime.UTC).date().isoformat()
    tumor = matches.get("tumor_type") or {}
    lineage = [str(c) for c in (tumor.get("lineage") or [tumor.get("code", "")])]

    import numpy as np

    picked = sorted_pick_rows(variants)
    finding_vids = {str(f.get("variant_id")) for f in matches["findings"] if f.get("variant_id")}
    if len(picked):
        keep = (
            _altering_mask(picked["consequence"])
            | picked["variant_id"].astype(str).isin(finding_vids).to_numpy()
        )
    else:
        keep = np.zeros(0, dtype=bool)
    reported_rows = picked[keep]
    other = picked[~keep].reset_index(drop=True)
    reported = [_record(r) for r in reported_rows.to_dict("records")]
    by_id = {v["variant_id"]: v for v in reported}

    normal_sample = (sheet_row.get("normal_sample") or "").strip()
    if normalize_stats and normalize_stats.get("normal_sample"):
        normal_sample = normal_sample or str(normalize_stats["normal_sample"])
    paired = bool(normal_sample) or bool(len(picked) and (picked["n_dp"].to_numpy() >= 0).any())

    # findings
    findings = [_finding_record(f, by_id.get(f.get("variant_id") or "")) for f in matches["findings"]]
    findings.sort(key=finding_sort_key)
    findings_by_variant: dict[str, list[dict]] = {}
    for f in findings:
        if f["variant_id"]:
            findings_by_variant.setdefault(f["variant_id"], []).append(f)
    unmatched_reason = {}
    unmatched_onc: dict[str, tuple[str | None, str | None]] = {}
    for u in matches.get("unmatched") or []:
        if isinstance(u, dict) and u.get("variant_id"):
            unmatched_reason.setdefault(str(u["variant_id"]), str(u.get("reason") or ""))
            unmatched_onc.setdefault(
                str(u["variant_id"]),
                (
                    _oncogenicity(u.get("oncogenicity")),
                    str(u["oncogenicity_reason"]) if u.get("oncogenicity_reason") else None,
                ),
            )

    # classify reported variants; germline
    germline = []
    for v in reported:
        fs = findings_by_variant.get(v["variant_id"], [])
        tiers = sorted((f["amp_tier"] for f in fs), key=clinical.amp_rank)
        escats = sorted((f["escat"] for f in fs), key=clinical.escat_rank)
        best_tier = tiers[0] if tiers else None
        if best_tier in ("I", "II"):
            v["class"] = "actionable"
        else:
            v["class"] = "vus"
            best_tier = best_tier or "III"
        v["amp_tier"] = best_tier
        v["escat"] = escats[0] if escats else None
        v["finding_ids"] = [f["finding_id"] for f in fs]
        v["note"] = unmatched_reason.get(v["variant_id"], "")
        onc = next(((f["oncogenicity"], f["oncogenicity_reason"]) for f in fs if f["oncogenicity"]), None)
        v["oncogenicity"], v["oncogenicity_reason"] = onc or unmatched_onc.get(v["variant_id"], (None, None))
        reason = None if paired else clinical.germline_suspect(v["gene"], v["t_af"], v["consequence"])
        v["germline_flag"] = reason
        if reason:
            germline.append(
                {
                    "variant_id": v["variant_id"],
                    "gene": v["gene"],
                    "hgvsc": v["hgvsc"],
                    "hgvsp": v["hgvsp"],
                    "transcript": v["transcript"],
                    "vaf": v["t_af"],
                    "depth": v["t_dp"],
                    "reason": reason,
                    "recommendation": GERMLINE_RECOMMENDATION,
                }
            )
            for f in fs:
                f["germline_flag"] = reason

    if len(other):
        first_term = other["consequence"].astype(str).str.split("&").str[0].replace("", "unknown")
        other_by_consequence = {str(k): int(v) for k, v in first_term.value_counts().sort_index().items()}
    else:
        other_by_consequence = {}

    # key findings
    key = [f["finding_id"] for f in findings if is_key_finding(f)]

    # biomarkers
    tmb = dict(biomarkers.get("tmb") or {})
    msi = dict(biomarkers.get("msi") or {})
    bm = {
        "tmb": {
            "value": clean_number(tmb.get("value"), 2),
            "eligible_variants": clean_count(tmb.get("eligible_variants")),
            "callable_mb": clean_number(tmb.get("callable_mb"), 3),
            "callable_source": str(tmb.get("callable_source") or "none"),
            "definition": str(tmb.get("definition") or ""),
            "threshold": clean_number(tmb.get("threshold", 10.0)),
            "status": str(tmb.get("status") or "not_assessable"),
        },
        "msi": {
            "status": str(msi.get("status") or "not_assessable"),
            "score": clean_number(msi.get("score"), 4),
            # read-based scores are % of evaluable sites, the VCF estimate is a fraction
            "score_unit": "percent" if msi.get("basis") == "bam" else "fraction",
            "interpretation": str(msi.get("interpretation") or ""),
            "method": str(msi.get("method") or ""),
            "sites": clean_count(msi.get("sites")),
        },
        "cna": sorted(
            (
                {
                    "gene": str(c.get("gene") or ""),
                    "alteration": str(c.get("alteration") or ""),
                    "copy_number": clean_number(c.get("copy_number"), 2),
                    "chrom": str(c.get("chrom") or ""),
                    "start": clean_count(c.get("start")),
                    "end": clean_count(c.get("end")),
                }
                for c in biomarkers.get("cna") or []
            ),
            key=lambda c: (c["gene"], c["alteration"], c["chrom"], c["start"] or 0),
        ),
        "fusions": sorted(
            (
                {
                    "gene5": str(fu.get("gene5") or ""),
                    "gene3": str(fu.get("gene3") or ""),
                    "chrom5": str(fu.get("chrom5") or ""),
                    "pos5": clean_count(fu.get("pos5")),
                    "chrom3": str(fu.get("chrom3") or ""),
                    "pos3": clean_count(fu.get("pos3")),
                    "in_frame": fu.get("in_frame") if isinstance(fu.get("in_frame"), bool) else None,
                    "supporting_reads": clean_count(fu.get("supporting_reads")),
                    "source": str(fu.get("source") or ""),
                }
                for fu in biomarkers.get("fusions") or []
            ),
            key=lambda fu: (fu["gene5"], fu["gene3"], fu["chrom5"], fu["pos5"] or 0),
        ),
    }
    coverage = _coverage_by_gene(biomarkers)
    _wildtype_caveats(findings, coverage)

    # filtered
    filtered_doc = {"total": 0, "by_reason": {}, "records": [], "listed": 0, "source": "none"}
    if filtered is not None:
        import pandas as pd

        reasons = filtered["reason"].astype(str).replace("", "unspecified")
        by_reason = {str(r): int(n) for r, n in reasons.value_counts().sort_index().items()}
        chrom = filtered["chrom"].astype(str)
        keys = pd.DataFrame(
            {
                "reason": filtered["reason"].astype(str).to_numpy(),
                "c": pd.Categorical(chrom, categories=sorted(pd.unique(chrom), key=_chrom_key)).codes,
                "p": filtered["pos"].to_numpy(dtype=np.int64),
                "r": filtered["ref"].astype(str).to_numpy(),
                "a": filtered["alt"].astype(str).to_numpy(),
            }
        )
        first = keys.sort_values(["reason", "c", "p", "r", "a"], kind="mergesort").index[:MAX_FILTERED_LISTED]
        listed = filtered.iloc[first]
        records = [
            {"chrom": str(c), "pos": int(p), "ref": str(r), "alt": str(a), "filter": str(fl), "reason": str(rs)}
            for c, p, r, a, fl, rs in zip(
                listed["chrom"], listed["pos"], listed["ref"], listed["alt"], listed["filter"], listed["reason"],
                strict=True,
            )
        ]  # fmt: skip
        filtered_doc = {
            "total": int(len(filtered)),
            "by_reason": by_reason,
            "records": records,
            "listed": len(records),
            "source": "filtered_tsv",
        }
    elif normalize_stats and isinstance(normalize_stats.get("removed"), dict):
        removed = {str(k): int(v) for k, v in normalize_stats["removed"].items()}
        filtered_doc = {"total": sum(removed.values()), "by_reason": dict(sorted(removed.items())), "records": [],
                        "listed": 0, "source": "normalize_stats"}  # fmt: skip

    # QC
    depths = picked["t_dp"].to_numpy(dtype=np.int64) if len(picked) else np.zeros(0, dtype=np.int64)
    depths = depths[depths >= 0]
    purity = parse_purity(sheet_row.get("purity"), "sample sheet")
    qc = {
        "variants_total": int(len(picked)),
        "variants_reported": len(reported),
        "median_depth": float(np.median(depths)) if len(depths) else None,
        "min_depth": int(depths.min()) if len(depths) else None,
        "low_depth_threshold": LOW_DEPTH,
        "variants_low_depth": int((depths < LOW_DEPTH).sum()),
        "normalize": _normalize_summary(normalize_stats),
        "coverage": [dict(sorted(c.items()), gene=g) for g, c in sorted(coverage.items())],
    }

    # provenance
    kb = dict(matches.get("kb") or {})
    kb.update({k: v for k, v in (provenance.get("kb") or {}).items() if v not in (None, "")})
    synthetic = bool(provenance.get("synthetic")) or _bool(sheet_row.get("synthetic", ""))
    prov = {
        "pipeline": "ccevariants",
        "pipeline_version": str(provenance.get("pipeline_version") or __version__),
        "git_commit": provenance.get("git_commit") or None,
        "config_hash": provenance.get("config_hash") or None,
        "genome_build": provenance.get("genome_build") or matches.get("genome_build") or None,
        "reference": provenance.get("reference") or None,
        "transcript_set": provenance.get("transcript_set") or None,
        "kb": {
            "name": str(kb.get("name") or ""),
            "version": str(kb.get("version") or ""),
            "date": str(kb.get("date") or ""),
            "content_hash": str(kb.get("content_hash") or ""),
        },
        "oncotree_release": provenance.get("oncotree_release") or matches.get("oncotree_release") or None,
        "caller": (normalize_stats or {}).get("caller") or None,
        "inputs": dict(sorted((provenance.get("inputs") or {}).items())),
        "run_date": run_date,
        "synthetic": synthetic,
    }

    assay = parse_assay(sheet_row.get("assay"), "sample sheet")
    tumor_sample = (
        (sheet_row.get("tumor_sample") or "")
        or (normalize_stats or {}).get("tumor_sample")
        or sheet_row.get("sample", "")
    )
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "synthetic": synthetic,
        "run_date": run_date,
        "patient": {
            "patient_id": str(patient),
            "sample_id": str(sheet_row.get("sample", "")),
            "center": str(sheet_row.get("center", "")),
            "tumor_type": {
                "code": str(tumor.get("code") or sheet_row.get("tumor_type", "")),
                "name": str(tumor.get("name") or ""),
                "lineage": lineage,
            },
            "specimen": (sheet_row.get("specimen") or "").strip() or None,
            "purity": purity,
            "assay": assay,
            "setting": "paired" if paired else "tumour-only",
            "tumor_sample": str(tumor_sample or ""),
            "normal_sample": normal_sample or None,
            "genome_build": prov["genome_build"],
        },
        "key_findings": key,
        "findings": findings,
        "pending": sorted(
            (_pending_record(x) for x in matches.get("pending") or [] if isinstance(x, dict)),
            key=lambda x: (x["gene"], x["alteration"], x["evidence"]["statement_id"], x["finding_id"]),
        ),
        "biomarkers": bm,
        "pertinent_negatives": _pertinent_negatives(lineage, reported, bm, sheet_row, coverage),
        "germline": germline,
        "variants": reported,
        "variants_not_reported": {
            "count": len(other),
            "by_consequence": dict(sorted(other_by_consequence.items())),
        },
        "unmatched": sorted(
            (
                {
                    "variant_id": str(u.get("variant_id") or ""),
                    "category": str(u.get("category") or "variant"),
                    "gene": str(u.get("gene") or ""),
                    "alteration": str(u.get("alteration") or ""),
                    "reason": str(u.get("reason") or ""),
                    "oncogenicity": _oncogenicity(u.get("oncogenicity")),
                    "oncogenicity_reason": str(u["oncogenicity_reason"])
                    if u.get("oncogenicity_reason")
                    else None,
                }
                for u in matches.get("unmatched") or []
                if isinstance(u, dict)
            ),
            key=lambda u: (u["gene"], u["alteration"], u["variant_id"]),
        ),
        "suppressed": sorted(
            (
                {
                    "statement_id": str(x.get("statement_id") or ""),
                    "variant_id": str(x["variant_id"]) if x.get("variant_id") else None,
                    "reason": str(x.get("reason") or ""),
                }
                for x in matches.get("suppressed") or []
                if isinstance(x, dict)
            ),
            key=lambda x: (x["statement_id"], x["variant_id"] or "", x["reason"]),
        ),
        "filtered": filtered_doc,
        "qc": qc,
        "limitations": [],
        "provenance": prov,
        "changes": None,
    }
    doc["limitations"] = _limitations(doc)
    if previous is not None:
        doc["changes"] = diff_reports(previous, doc)
    # Private (not in the JSON): the non-reported variants (10^5 on WGS) go to the TSV as a table, and
    # the VAFs of all variants to the histogram.
    doc["_other"] = other
    vafs = picked["t_af"].to_numpy(dtype=float) if len(picked) else np.zeros(0)
    doc["_vafs"] = vafs[~np.isnan(vafs)]
    return doc


def _normalize_summary(stats: dict | None) -> dict | None:
    if not stats:
        return None
    return {
        "records_in": clean_count(stats.get("records_in")),
        "records_out": clean_count(stats.get("records_out")),
        "removed": {str(k): int(v) for k, v in sorted((stats.get("removed") or {}).items())},
        "multiallelic_split": clean_count(stats.get("multiallelic_split")),
        "realigned": clean_count(stats.get("realigned")),
        "caller": str(stats.get("caller") or ""),
    }


def _limitations(doc: dict) -> list[str]:
    out = [
        "Findings are limited to the alterations present in the submitted variant calls and the genes and "
        "regions covered by the assay; alterations outside them are not reported.",
        "Therapy evidence reflects the knowledge-base snapshot named in the provenance section; approvals "
        "and guidelines change, so check the current label before prescribing.",
        "Regulatory status is shown per agency (EMA, FDA) and per indication; an FDA-only approval is "
        "off-label in the EU.",
    ]
    p = doc["patient"]
    if p["setting"] == "tumour-only":
        out.append(
            "Tumour-only analysis: somatic and germline variants cannot be distinguished; potential germline "
            "findings are flagged by VAF and gene only and need confirmatory germline testing."
        )
    if not doc["pertinent_negatives"]["coverage_known"]:
        out.append(
            "No coverage data were supplied: absence of a variant call does not prove absence of the "
            "alteration, so pertinent negatives are reported as not assessable."
        )
    if p["assay"] == "panel":
        out.append(
            "TMB from a gene panel is an estimate; its agreement with WES-based TMB depends on panel size."
        )
    if p["purity"] is None:
        out.append("Tumour purity not stated: low purity lowers sensitivity and VAF-based interpretation.")
    if doc["biomarkers"]["msi"]["status"] == "not_assessable":
        out.append("MSI was not assessed by this analysis.")
    if doc["synthetic"]:
        out.append(
            "SYNTHETIC DATA: this report was generated from synthetic test data and has no clinical meaning."
        )
    return out


def diff_reports(previous: dict, current: dict) -> dict:
    """What changed since ``previous`` (an earlier report document): new, removed and re-tiered findings
    and the knowledge-base hash old -> new."""
    old = {finding_key(f): f for f in previous.get("findings") or [] if isinstance(f, dict) and "gene" in f}
    new = {finding_key(f): f for f in current["findings"]}
    added = [_brief(new[k]) for k in sorted(set(new) - set(old))]
    removed = [_brief(old[k]) for k in sorted(set(old) - set(new))]
    retiered = []
    for k in sorted(set(old) & set(new)):
        o, n = old[k], new[k]
        if (o.get("escat"), o.get("amp_tier")) != (n["escat"], n["amp_tier"]) or o.get("on_label") != n[
            "on_label"
        ]:
            item = _brief(n)
            item.update(
                {
                    "escat_old": str(o.get("escat") or ""),
                    "amp_tier_old": str(o.get("amp_tier") or ""),
                    "on_label_old": {
                        "EMA": bool((o.get("on_label") or {}).get("EMA")),
                        "FDA": bool((o.get("on_label") or {}).get("FDA")),
                    },
                }
            )
            retiered.append(item)
    prev_prov = previous.get("provenance") or {}
    return {
        "previous_run_date": str(previous.get("run_date") or prev_prov.get("run_date") or ""),
        "kb_hash_old": str((prev_prov.get("kb") or {}).get("content_hash") or ""),
        "kb_hash_new": current["provenance"]["kb"]["content_hash"],
        "kb_version_old": str((prev_prov.get("kb") or {}).get("version") or ""),
        "kb_version_new": current["provenance"]["kb"]["version"],
        "new": added,
        "removed": removed,
        "retiered": retiered,
    }


def _brief(f: dict) -> dict:
    return {
        "gene": str(f.get("gene") or ""),
        "alteration": str(f.get("alteration") or ""),
        "effect": str(f.get("effect") or ""),
        "therapies": [str(t) for t in f.get("therapies") or []],
        "escat": str(f.get("escat") or ""),
        "amp_tier": str(f.get("amp_tier") or ""),
        "on_label": {
            "EMA": bool((f.get("on_label") or {}).get("EMA")),
            "FDA": bool((f.get("on_label") or {}).get("FDA")),
        },
    }
