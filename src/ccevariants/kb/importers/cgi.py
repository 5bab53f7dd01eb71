"""Cancer Genome Interpreter (CGI) biomarkers importer (``cgi_biomarkers_per_variant.tsv``).

CGI biomarkers (Tamborero et al., Genome Med 2018; non-commercial licence -- flagged research-only
in the manifest, never bundled) are distributed "per variant": one row per individual mutation of a
biomarker. Rows are grouped back into one statement per (biomarker, drug, association, tumour type,
evidence level, source); the extra rows are counted as merged.

``Alteration`` grammar handled (gene symbols normalised later through the alias table):

* ``GENE:L858R,L861Q`` → ``variant``; ``GENE:V600.`` → ``codon`` V600; ``GENE:550-592`` →
  ``codon`` list of the residue range (1-based, inclusive)
* ``GENE:.`` → ``functional`` oncogenic; ``GENE:amp`` / ``GENE:del`` → amplification / deletion
* ``GENE__PARTNER`` / ``GENE__.`` → ``fusion`` (gene of interest first, ``.`` = any partner)
* ``A;B`` → ``all_of`` the parts
* expression (``over``/``under``/``norm``), consequence-filtered ranges (``::consequence::…``),
  biallelic inactivation and wild-type shorthand are skipped with their reason.

``Association``: Responsive → sensitivity; Resistant / No Responsive → resistance; toxicity rows
are skipped (not modelled). ``Evidence level`` → (ESCAT, AMP): FDA / NCCN / ELN / CAP guidelines
→ (I-A, A); Late trials → (II-A, B); Early / Clinical trials → (II-B, C); Case report and
Pre-clinical → (IV-A, D). "FDA guidelines" also records an FDA approval; the EMA status is unknown.
Tumour types are CGI acronyms mapped to OncoTree by :data:`TUMOUR_MAP`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import KnowledgeBaseError
from . import SourceResult, tsv_rows

COLUMNS = (
    "Alteration",
    "Alteration type",
    "Association",
    "Biomarker",
    "Drug",
    "Evidence level",
    "Gene",
    "Primary Tumor acronym",
    "Source",
)

#: CGI tumour acronym → OncoTree codes (2025-10 release). Acronyms not listed are skipped and counted.
TUMOUR_MAP = {
    "CANCER": ["ALL_TUMORS"],
    "SOLID": ["SOLID"],
    "AML": ["AML"],
    "ALL": ["BLL", "TLL"],
    "APML": ["AML"],
    "BCC": ["BCC"],
    "BLCA": ["BLCA"],
    "BRCA": ["BRCA"],
    "BT": ["BILIARY_TRACT"],
    "CH": ["CHOL"],
    "CESC": ["CESC"],
    "CER": ["CERVIX"],
    "CLL": ["CLLSLL"],
    "CM": ["SKCM"],
    "CML": ["CML"],
    "COREAD": ["COADREAD"],
    "DFS": ["DFSP"],
    "ED": ["UCEC"],
    "G": ["GNOS", "DIFG"],
    "GB": ["GB"],
    "GBM": ["GB"],
    "GEJA": ["EGC"],
    "GIST": ["GIST"],
    "HC": ["HCC"],
    "HCL": ["HCL"],
    "HISEC": ["ECD"],
    "HISLC": ["LCH"],
    "HNC": ["HEAD_NECK"],
    "HNSC": ["HNSC"],
    "IM": ["IMT"],
    "L": ["LUNG"],
    "LAM": ["LAM"],
    "LIP": ["LIPO"],
    "LUAD": ["LUAD"],
    "LUSC": ["LUSC"],
    "LY": ["LYMPH"],
    "MB": ["MBL"],
    "MCL": ["MCL"],
    "MDS": ["MDS"],
    "MEN": ["MNG"],
    "MESO": ["PLMESO"],
    "MPN": ["MPNST"],
    "MRT": ["MRT"],
    "MYMA": ["PCM"],
    "MM": ["PCM"],
    "NB": ["NBL"],
    "NF": ["NFIB"],
    "NSCLC": ["NSCLC"],
    "OS": ["OS"],
    "OV": ["OVT"],
    "PA": ["PANCREAS"],
    "PAAD": ["PAAD"],
    "PRAD": ["PRAD"],
    "R": ["KIDNEY"],
    "RB": ["RBL"],
    "RHBDS": ["RMS"],
    "SCHW": ["SCHW"],
    "SG": ["SACA"],
    "SM": ["SM"],
    "ST": ["STOMACH"],
    "TH": ["THYROID"],
    "THCA": ["THYROID"],
    "THYM": ["THYMUS"],
    "WM": ["WM"],
    "HEMATO": ["MYELOID", "LYMPH"],
    "LK": ["MYELOID", "LYMPH"],
    "PLEN": ["NFIB"],
    "AS": ["ANGS"],
}
EVIDENCE = {
    "fda guidelines": ("I-A", "A"),
    "nccn guidelines": ("I-A", "A"),
    "european leukemianet guidelines": ("I-A", "A"),
    "nccn/cap guidelines": ("I-A", "A"),
    "late trials": ("II-A", "B"),
    "early trials": ("II-B", "C"),
    "clinical trials": ("II-B", "C"),
    "case report": ("IV-A", "D"),
    "pre-clinical": ("IV-A", "D"),
}
_VARIANT = re.compile(r"^[A-Z][0-9]+[A-Z*]$")
_CODON = re.compile(r"^([A-Z])([0-9]+)\.$")
_RANGE = re.compile(r"^([0-9]+)-([0-9]+)$")


class Unsupported(Exception):
    pass


def parse_part(part: str) -> dict:
    """One ``;``-separated CGI alteration part → biomarker dict. Raises :class:`Unsupported`."""
    if "__" in part:
        gene, partner = part.split("__", 1)
        out = {"type": "fusion", "gene": gene.strip()}
        if partner.strip() not in (".", ""):
            out["partner"] = partner.strip()
        return out
    gene, sep, alt = part.partition(":")
    gene = gene.strip()
    if not sep or not gene:
        raise Unsupported(f"alteration {part!r} without GENE:change")
    if alt.startswith(":"):
        raise Unsupported(f"consequence-filtered or wild-type shorthand {part!r}")
    if alt == ".":
        return {"type": "functional", "gene": gene, "function": "oncogenic"}
    if alt in ("amp", "del"):
        return {"type": "amplification" if alt == "amp" else "deletion", "gene": gene}
    if alt in ("over", "under", "norm"):
        raise Unsupported(f"expression biomarker {part!r}")
    items = [a.strip() for a in alt.split(",") if a.strip()]
    if items and all(_VARIANT.match(a) for a in items):
        return {"type": "variant", "gene": gene, "alterations": list(dict.fromkeys(items))}
    codons: list[str] = []
    for a in items:
        m = _CODON.match(a)
        r = _RANGE.match(a)
        if m:
            codons.append(f"{m.group(1)}{m.group(2)}")
        elif r and int(r.group(1)) <= int(r.group(2)) and int(r.group(2)) - int(r.group(1)) <= 500:
            codons.extend(str(p) for p in range(int(r.group(1)), int(r.group(2)) + 1))
        elif _VARIANT.match(a):
            raise Unsupported(f"mixed variant and codon list {part!r}")
        else:
            raise Unsupported(f"alteration syntax {a!r} in {part!r}")
    if not codons:
        raise Unsupported(f"empty alteration {part!r}")
    return {"type": "codon", "gene": gene, "alterations": list(dict.fromkeys(codons))}


def _drugs(text: str) -> list[str]:
    text = text.strip().strip("[]")
    return [d.strip() for d in text.split(",") if d.strip()]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def import_cgi(path: str) -> SourceResult:
    p = Path(path)
    if not p.exists():
        raise KnowledgeBaseError("expected the CGI biomarkers TSV; found no file", path=p)
    result = SourceResult(
        name="cgi",
        version=p.stem,
        licence="CGI biomarkers: non-commercial use",
        research_only=True,
        path=str(p),
        url="https://www.cancergenomeinterpreter.org/biomarkers",
    )
    groups: dict[tuple, dict] = {}
    for line, where, row in tsv_rows(p, COLUMNS, result, f"CGI columns {', '.join(COLUMNS)}"):
        association = (row["Association"] or "").strip()
        if association.startswith("Increased Toxicity"):
            result.skip("toxicity association (not modelled)", f"{where}: {association}")
            continue
        effect = {
            "Responsive": "sensitivity",
            "Resistant": "resistance",
            "No Responsive": "resistance",
        }.get(association)
        if effect is None:
            result.skip(
                "unknown association",
                f"{where}: expected Responsive|Resistant|No Responsive; found {association!r}",
            )
            continue
        if (row.get("Alteration type") or "").strip() == "BIA":
            result.skip("biallelic inactivation (not modelled)", f"{where}: {row['Biomarker']}")
            continue
        level = (row["Evidence level"] or "").strip()
        levels = EVIDENCE.get(level.lower().split(",")[0].strip())
        if levels is None:
            result.skip("unmapped evidence level", f"{where}: evidence level {level!r}")
            continue
        key = (
            row["Alteration"],
            row["Drug"],
            association,
            row["Primary Tumor acronym"],
            level,
            row["Source"],
        )
        if key in groups:
            result.skip("merged (per-variant expansion of one biomarker)")
            continue
        try:
            parts = [parse_part(part) for part in row["Alteration"].split(";") if part.strip()]
        except Unsupported as exc:
            result.skip("unsupported alteration", f"{where}: {exc}")
            continue
        if not parts:
            result.skip("unsupported alteration", f"{where}: empty alteration")
            continue
        codes: list[str] = []
        unmapped = []
        for acronym in row["Primary Tumor acronym"].split(";"):
            mapped = TUMOUR_MAP.get(acronym.strip())
            if mapped is None:
                unmapped.append(acronym.strip())
            else:
                codes.extend(c for c in mapped if c not in codes)
        if unmapped:
            result.skip(
                "unmapped CGI tumour type",
                f"{where}: tumour acronym(s) {', '.join(unmapped)} not mapped to OncoTree",
            )
            continue
        drugs = _drugs(row["Drug"])
        if not drugs:
            drugs = _drugs(row.get("Drug family") or "")
        if not drugs:
            result.skip("no drug", f"{where}: expected a drug or drug family; found none")
            continue
        escat, amp = levels
        pmids = [
            s.split(":", 1)[1].strip()
            for s in row["Source"].split(";")
            if s.strip().startswith("PMID:") and s.split(":", 1)[1].strip().isdigit()
        ]
        others = [
            s.strip() for s in row["Source"].split(";") if s.strip() and not s.strip().startswith("PMID:")
        ]
        regulatory = {}
        if level.lower() == "fda guidelines" and effect == "sensitivity":
            regulatory = {
                "FDA": {"approved": True, "reference": "CGI: FDA guidelines"},
                "EMA": {"approved": None},
            }
        biomarker = parts[0] if len(parts) == 1 else {"type": "all_of", "components": parts}
        sid = (
            "CGI-"
            + _slug(f"{row['Alteration'][:40]}-{row['Drug']}-{row['Primary Tumor acronym']}-{association}")
            + f"-L{line}"
        )
        doc = {
            "id": sid,
            "biomarker": biomarker,
            "disease": {"codes": codes, "name": row.get("Primary Tumor type", "")},
            "therapy": {
                "drugs": drugs,
                "combination": row["Drug"].strip().startswith("[") and len(drugs) > 1,
            },
            "effect": effect,
            "evidence": {"escat": escat, "amp_level": amp, "native_level": f"CGI: {level}"},
            "regulatory": regulatory,
            "references": {"pmids": pmids, "urls": [], "trials": [], "other": others},
            "source": result.name,
            "source_version": result.version,
            "source_id": row["Biomarker"],
        }
        if association == "No Responsive":
            doc["notes"] = "CGI association 'No Responsive' (lack of response) imported as resistance"
        groups[key] = doc
        result.statements.append((doc, line, str(p)))
    return result
