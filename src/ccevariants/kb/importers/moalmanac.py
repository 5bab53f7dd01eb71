"""Molecular Oncology Almanac (MOAlmanac) importer: the ``referenced/`` JSON release of moalmanac-db.

MOAlmanac (Van Allen lab; GPL-2.0, research use only -- flagged in the manifest, never bundled)
stores regulatory approvals as GA4GH-VA-like objects: a *statement* reports one agency document
(``documents[].agent_id``: fda, ema, hc, hse, hpra) for a *proposition* (biomarkers, which must all
hold; a condition coded in OncoTree; a therapy or a therapy group). One ccevariants statement is
written per proposition, carrying the regulatory status of every agency that approved it.

Evidence: each proposition is an approval in that tumour type, so AMP level A; the ESCAT level is
left empty (not derivable from an approval alone: the tiering derives I-A from AMP A, or I-C for
tumour-agnostic approvals, and says so in the trace).

Biomarker mapping (MOAlmanac ``biomarker_type`` → ccevariants):
Somatic/Germline Variant with a protein change → ``variant`` (GRCh37 genomic key when given);
exon deletion / insertion / splice site → ``exon``; FLT3-ITD → ``exon`` 14 insertion;
"activating variants" → ``functional`` activating; "oncogenic" / "somatic variants" → oncogenic;
"pathogenic" → loss_of_function; nonsense / frameshift / splice site (no exon) → truncating;
Rearrangement ``A::B`` → ``fusion`` (gene = the named non-``v`` side; 3′ gene with the 5′ partner
when both are named); Copy Number → amplification / deletion; Wild type → ``wildtype`` (no oncogenic
variant in the gene); MSI-H and dMMR → MSI-high; HRD → HRD; TMB-H → TMB-high; ``_present: false``
→ the biomarker must be absent. Protein expression biomarkers are not genomic: they go into the
disease context when a genomic biomarker is present, otherwise the proposition is skipped.
Everything else is skipped and counted with the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ...errors import KnowledgeBaseError
from ..model import normalise_protein_change, parse_protein_change
from . import SourceResult

FILES = (
    "about",
    "statements",
    "propositions",
    "biomarkers",
    "diseases",
    "therapies",
    "therapy_groups",
    "indications",
    "documents",
    "genes",
)
AGENCY = {"fda": "FDA", "ema": "EMA"}
ANY_SOLID = {"ncit:C132146"}


class Unsupported(Exception):
    """A biomarker or condition that the statement model cannot express (counted, not an error)."""


def _load(directory: Path) -> dict[str, object]:
    out = {}
    for name in FILES:
        path = directory / f"{name}.json"
        try:
            with open(path, encoding="utf-8") as handle:
                out[name] = json.load(handle)
        except FileNotFoundError:
            raise KnowledgeBaseError(
                f"expected MOAlmanac file {name}.json in the referenced/ directory; found none",
                path=directory,
            ) from None
        except json.JSONDecodeError as exc:
            raise KnowledgeBaseError(
                f"expected valid JSON; found {exc.msg}", path=path, line=exc.lineno
            ) from None
    return out


def _ext(obj: dict) -> dict:
    return {e["name"]: e.get("value") for e in obj.get("extensions", [])}


def _variant_biomarker(b: dict, gene: str) -> dict:
    e = _ext(b)
    protein = e.get("protein_change")
    annotation = (e.get("variant_annotation") or "").lower()
    exon = e.get("exon")
    exon_number = (
        int(str(exon).split("/")[0]) if exon not in (None, "") and str(exon).split("/")[0].isdigit() else None
    )
    name = b.get("name", "").lower()
    if protein:
        change = normalise_protein_change(protein)
        if parse_protein_change(change) is None:
            raise Unsupported(f"protein change {protein!r} not in one-letter HGVS form")
        out = {"type": "variant", "gene": gene, "alterations": [change]}
        chrom, start, ref, alt = (
            e.get("chromosome"),
            e.get("start_position"),
            e.get("reference_allele"),
            e.get("alternate_allele"),
        )
        if chrom and start and ref and alt and ref != "-" and alt != "-" and set(ref + alt) <= set("ACGT"):
            out["genomic"] = {"GRCh37": [f"{chrom}:{int(start)}:{ref}:{alt}"]}
        return out
    if "internal tandem duplication" in annotation:
        return {"type": "exon", "gene": gene, "exon": 14, "exon_class": "insertion", "label": f"{gene} ITD"}
    if exon_number is not None and annotation in ("deletion", "insertion", "splice site"):
        cls = {"deletion": "deletion", "insertion": "insertion", "splice site": "skipping"}[annotation]
        return {"type": "exon", "gene": gene, "exon": exon_number, "exon_class": cls}
    if annotation in ("nonsense", "frameshift", "splice site"):
        return {"type": "functional", "gene": gene, "function": "truncating", "label": b.get("name")}
    if "activating" in name:
        return {"type": "functional", "gene": gene, "function": "activating", "label": b.get("name")}
    if e.get("requires_pathogenic") or "pathogenic" in name:
        return {"type": "functional", "gene": gene, "function": "loss_of_function", "label": b.get("name")}
    if e.get("requires_oncogenic") is not None or "oncogenic" in name or "somatic variants" in name:
        return {"type": "functional", "gene": gene, "function": "oncogenic", "label": b.get("name")}
    raise Unsupported(f"variant biomarker {b.get('name')!r} without protein change or class")


def _fusion_biomarker(b: dict, gene_names: list[str]) -> dict:
    name = b.get("name", "")
    e = _ext(b)
    if "::" in name and e.get("rearrangement_type") == "Fusion":
        g5, g3 = (part.strip() for part in name.split("::", 1))
        if g5 == "v":
            return {"type": "fusion", "gene": g3}
        if g3 == "v":
            return {"type": "fusion", "gene": g5}
        return {"type": "fusion", "gene": g3, "partner": g5}
    m = re.match(r"^t\(([A-Z0-9-]+);v\)$", name)
    if m and m.group(1) in gene_names:
        return {"type": "fusion", "gene": m.group(1), "label": f"{m.group(1)} rearrangement"}
    if name.endswith("rearrangements") and len(gene_names) == 1:
        return {"type": "fusion", "gene": gene_names[0], "label": name}
    raise Unsupported(f"rearrangement {name!r} (translocation without gene-level fusion)")


def _convert_biomarker(b: dict, genes: dict[int, str]) -> tuple[dict | None, str | None]:
    """(genomic biomarker or None, non-genomic context or None). Raises Unsupported."""
    e = _ext(b)
    kind = e.get("biomarker_type")
    gene_names = [genes[g] for g in b.get("genes", []) if g in genes]
    gene = gene_names[-1] if gene_names else None
    if kind == "Protein expression":
        return None, b.get("name")
    if kind in ("Somatic Variant", "Germline Variant"):
        if not gene:
            raise Unsupported("variant biomarker without gene")
        out = _variant_biomarker(b, gene)
    elif kind == "Rearrangement":
        out = _fusion_biomarker(b, gene_names)
    elif kind == "Copy Number":
        direction = (e.get("direction") or "").lower()
        if direction not in ("amplification", "deletion") or not gene:
            raise Unsupported(f"copy-number biomarker {b.get('name')!r}")
        out = {"type": direction, "gene": gene}
    elif kind == "Wild type":
        if not gene:
            raise Unsupported("wild-type biomarker without gene")
        out = {
            "type": "wildtype",
            "absent": [{"type": "functional", "gene": gene, "function": "oncogenic"}],
            "label": f"{gene} wild-type",
        }
    elif kind == "Microsatellite Stability":
        if "MSI-H" not in b.get("name", ""):
            raise Unsupported(f"microsatellite status {b.get('name')!r} (only MSI-H is supported)")
        out = {"type": "characteristic", "characteristic": "MSI-high"}
    elif kind == "Mismatch Repair":
        if (e.get("status") or "") != "Deficient":
            raise Unsupported(f"mismatch repair status {b.get('name')!r} (only dMMR is supported)")
        out = {
            "type": "characteristic",
            "characteristic": "MSI-high",
            "label": "dMMR (MSI-high as genomic proxy)",
        }
    elif kind == "Homologous Recombination":
        out = {"type": "characteristic", "characteristic": "HRD"}
    elif kind == "Tumor mutational burden":
        out = {"type": "characteristic", "characteristic": "TMB-high"}
    else:
        raise Unsupported(f"biomarker type {kind!r}")
    if e.get("_present") is False:
        out = {"type": "wildtype", "absent": [out], "label": f"absence of {b.get('name')}"}
    return out, None


def import_moalmanac(path: str) -> SourceResult:
    directory = Path(path)
    if not directory.is_dir():
        raise KnowledgeBaseError(
            "expected the MOAlmanac referenced/ directory; found no directory", path=directory
        )
    data = _load(directory)
    about = data["about"]
    result = SourceResult(
        name="moalmanac",
        version=str(about.get("last_updated") or about.get("release") or "unknown"),
        licence=str(about.get("license", "GPL-2.0")),
        research_only=True,
        date=about.get("last_updated"),
        url=about.get("url"),
        path=str(directory),
    )
    genes = {g["id"]: g["name"] for g in data["genes"]}
    biomarkers = {b["id"]: b for b in data["biomarkers"]}
    diseases = {d["id"]: d for d in data["diseases"]}
    therapies = {t["id"]: t["name"] for t in data["therapies"]}
    groups = {g["id"]: g for g in data["therapy_groups"]}
    documents = {d["id"]: d for d in data["documents"]}
    indications = {i["id"]: i for i in data["indications"]}
    by_prop: dict[int, list[dict]] = {}
    for st in data["statements"]:
        by_prop.setdefault(st.get("proposition_id"), []).append(st)
    result.rows_read = len(data["statements"])
    for prop in data["propositions"]:
        statements = by_prop.get(prop["id"], [])
        n = len(statements)
        if n == 0:
            continue

        def skip(reason: str, detail: str, _n: int = n, _id: int = prop["id"]) -> None:
            # every MOAlmanac statement of the proposition is accounted for
            result.skip(reason, f"{directory}/propositions.json: proposition {_id}: {detail}", count=_n)

        if prop.get("predicate") != "predictSensitivityTo":
            skip("unsupported predicate", f"predicate {prop.get('predicate')!r}")
            continue
        try:
            converted, context = [], []
            for bid in prop.get("biomarkers", []):
                genomic, ctx = _convert_biomarker(biomarkers[bid], genes)
                if genomic is not None:
                    converted.append(genomic)
                if ctx:
                    context.append(ctx)
        except Unsupported as exc:
            skip("unsupported biomarker", str(exc))
            continue
        except KeyError as exc:
            skip("dangling reference", f"biomarker id {exc} not found")
            continue
        if not converted:
            skip("no genomic biomarker", "only non-genomic biomarkers (" + ", ".join(context) + ")")
            continue
        biomarker = converted[0] if len(converted) == 1 else {"type": "all_of", "components": converted}
        disease = diseases.get(prop.get("conditionQualifier_id"))
        if disease is None:
            skip("dangling reference", f"condition {prop.get('conditionQualifier_id')} not found")
            continue
        coding = disease.get("primary_coding_id") or ""
        if coding in ANY_SOLID:
            code = "SOLID"
        elif coding.startswith("oncotree:"):
            code = coding.split(":", 1)[1]
        else:
            skip("disease not coded in OncoTree", f"{disease.get('name')} ({coding})")
            continue
        if prop.get("therapy_id") is not None:
            drugs, combination = [therapies[prop["therapy_id"]]], False
        elif prop.get("therapy_group_id") is not None:
            group = groups[prop["therapy_group_id"]]
            drugs = [therapies[t] for t in group["therapies"]]
            combination = group.get("membershipOperator", "AND") == "AND"
        else:
            skip("no therapy", "proposition without therapy")
            continue
        regulatory: dict[str, dict] = {}
        urls, others = [], []
        for st in statements:
            ind = indications.get(st.get("indication_id"), {})
            doc = documents.get(ind.get("document_id") or (st.get("reportedIn") or [None])[0], {})
            agency = AGENCY.get(doc.get("agent_id"))
            ref = doc.get("name") or doc.get("id")
            if agency:
                regulatory[agency] = {
                    "approved": True,
                    "date": ind.get("initial_approval_date"),
                    "reference": ref,
                }
            elif ref:
                others.append(f"{doc.get('agent_id')}: {ref}")
            if ind.get("initial_approval_url"):
                urls.append(ind["initial_approval_url"])
        for agency in ("EMA", "FDA"):
            regulatory.setdefault(
                agency, {"approved": None, "reference": "no approval of this agency recorded in MOAlmanac"}
            )
        first = statements[0]
        document = {
            "id": f"MOA-P{prop['id']}",
            "biomarker": biomarker,
            "disease": {"codes": [code], "name": disease.get("name", "")},
            "therapy": {"drugs": drugs, "combination": combination},
            "effect": "sensitivity",
            "evidence": {
                "escat": None,
                "amp_level": "A",
                "native_level": "MOAlmanac: Approval",
                "summary": (first.get("description") or "")[:500],
            },
            "regulatory": regulatory,
            "references": {
                "pmids": [],
                "urls": sorted(set(urls)),
                "trials": [],
                "other": sorted(set(others)),
            },
            "source": result.name,
            "source_version": result.version,
            "source_id": f"proposition:{prop['id']}",
        }
        if context:
            document["disease"]["context"] = "requires " + ", ".join(context)
        if n > 1:
            result.skipped["merged into one statement per proposition (other agency / document)"] += n - 1
        result.statements.append((document, None, f"{directory}/propositions.json#{prop['id']}"))
    return result
