"""CIViC nightly clinical evidence importer (``nightly-ClinicalEvidenceSummaries.tsv``).

CIViC (Griffith et al., Nat Genet 2017; CC0 1.0) evidence items, one row each, in the 25-column
export (``molecular_profile``, ``molecular_profile_id``, ``disease``, ``doid``, ``phenotypes``,
``therapies``, ``therapy_interaction_type``, ``evidence_type``, ``evidence_direction``,
``evidence_level``, ``significance``, ``evidence_statement``, ``citation_id``, ``source_type``,
``asco_abstract_id``, ``citation``, ``nct_ids``, ``rating``, ``evidence_status``, ``evidence_id``,
``variant_origin``, ``last_review_date``, ``evidence_civic_url``, ``molecular_profile_civic_url``,
``is_flagged``).

Imported: accepted, ``Supports`` evidence of type Predictive (Sensitivity/Response → sensitivity;
Resistance / Reduced Sensitivity → resistance), Prognostic and Diagnostic. Everything else is
counted with its reason (other evidence types, "Does Not Support", adverse response, not accepted,
flagged, unsupported molecular profiles, diseases without an OncoTree mapping).

Evidence levels (CIViC A-E; VICC harmonisation, Wagner et al. 2020) → (ESCAT, AMP): A → (I-A, A),
B → (II-A, B), C case study → (IV-A, C), D preclinical → (IV-A, D), E inferential → (IV-B, D). ESCAT
has no case-report level; case studies are graded with preclinical evidence so they never rank as
tier I-III.

Diseases are mapped to OncoTree by name: first an exact (case-insensitive) OncoTree node name, then
:data:`DISEASE_MAP` (CIViC / Disease Ontology names). Molecular profiles: ``GENE V600E`` (variant),
``GENE G12`` (codon), ``GENE Exon 19 Deletion`` / ``Exon 20 Insertion`` / ``Exon 14 Skipping``
(exon), ``GENE Mutation`` (oncogenic), ``GENE Loss-of-function`` / ``Truncating Mutation``,
``GENE Activating Mutation``, ``GENE Amplification`` / ``Deletion`` / ``Loss``, ``A::B Fusion`` /
``GENE Fusion``, ``GENE Wildtype``, joined by ``AND`` (all_of). ``OR`` / ``NOT`` profiles and
expression / methylation markers are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import KnowledgeBaseError
from ..model import parse_protein_change
from . import SourceResult, tsv_rows

COLUMNS = (
    "molecular_profile",
    "molecular_profile_id",
    "disease",
    "doid",
    "phenotypes",
    "therapies",
    "therapy_interaction_type",
    "evidence_type",
    "evidence_direction",
    "evidence_level",
    "significance",
    "evidence_statement",
    "citation_id",
    "source_type",
    "asco_abstract_id",
    "citation",
    "nct_ids",
    "rating",
    "evidence_status",
    "evidence_id",
    "variant_origin",
    "last_review_date",
    "evidence_civic_url",
    "molecular_profile_civic_url",
    "is_flagged",
)
LEVELS = {"A": ("I-A", "A"), "B": ("II-A", "B"), "C": ("IV-A", "C"), "D": ("IV-A", "D"), "E": ("IV-B", "D")}
#: CIViC disease names (Disease Ontology) that are not OncoTree node names → OncoTree codes.
DISEASE_MAP = {
    "cancer": ["ALL_TUMORS"],
    "solid tumor": ["SOLID"],
    "lung non-small cell carcinoma": ["NSCLC"],
    "lung adenocarcinoma": ["LUAD"],
    "lung squamous cell carcinoma": ["LUSC"],
    "melanoma": ["MEL"],
    "skin melanoma": ["SKCM"],
    "cutaneous melanoma": ["SKCM"],
    "colorectal cancer": ["COADREAD"],
    "colorectal adenocarcinoma": ["COADREAD"],
    "colon cancer": ["COAD"],
    "rectum cancer": ["READ"],
    "breast cancer": ["BREAST"],
    "her2-receptor positive breast cancer": ["BRCA"],
    "estrogen-receptor positive breast cancer": ["BRCA"],
    "triple-receptor negative breast cancer": ["BRCA"],
    "acute myeloid leukemia": ["AML"],
    "chronic myeloid leukemia": ["CML"],
    "gastrointestinal stromal tumor": ["GIST"],
    "ovarian cancer": ["OVT"],
    "high grade ovarian serous adenocarcinoma": ["HGSOC"],
    "prostate cancer": ["PRAD"],
    "prostate adenocarcinoma": ["PRAD"],
    "castration-resistant prostate carcinoma": ["PRAD"],
    "pancreatic cancer": ["PANCREAS"],
    "pancreatic adenocarcinoma": ["PAAD"],
    "pancreatic ductal adenocarcinoma": ["PAAD"],
    "thyroid cancer": ["THYROID"],
    "papillary thyroid carcinoma": ["THPA"],
    "thyroid gland papillary carcinoma": ["THPA"],
    "medullary thyroid carcinoma": ["THME"],
    "thyroid gland medullary carcinoma": ["THME"],
    "anaplastic thyroid carcinoma": ["THAP"],
    "thyroid gland anaplastic carcinoma": ["THAP"],
    "glioblastoma": ["GB"],
    "glioma": ["GNOS"],
    "cholangiocarcinoma": ["CHOL"],
    "intrahepatic cholangiocarcinoma": ["IHCH"],
    "biliary tract cancer": ["BILIARY_TRACT"],
    "bladder carcinoma": ["BLCA"],
    "urinary bladder cancer": ["BLADDER"],
    "urothelial carcinoma": ["BLCA", "UTUC"],
    "transitional cell carcinoma": ["BLCA", "UTUC"],
    "endometrial cancer": ["UCEC"],
    "endometrial carcinoma": ["UCEC"],
    "uterine corpus endometrial carcinoma": ["UCEC"],
    "stomach cancer": ["STOMACH"],
    "gastric adenocarcinoma": ["STAD"],
    "stomach carcinoma": ["STAD"],
    "esophagus adenocarcinoma": ["ESCA"],
    "head and neck squamous cell carcinoma": ["HNSC"],
    "hepatocellular carcinoma": ["HCC"],
    "renal cell carcinoma": ["RCC"],
    "clear cell renal cell carcinoma": ["CCRCC"],
    "multiple myeloma": ["PCM"],
    "b-lymphoblastic leukemia/lymphoma": ["BLL"],
    "chronic lymphocytic leukemia": ["CLLSLL"],
    "myelodysplastic syndrome": ["MDS"],
    "neuroblastoma": ["NBL"],
}
_EXON = re.compile(
    r"^exon (\d+) (deletion|insertion|skipping mutation|skipping|mutation|missense mutation)$", re.I
)
_CODON = re.compile(r"^([A-Z])(\d+)$")


class Unsupported(Exception):
    pass


def parse_profile_part(part: str) -> dict:
    """One CIViC variant name (``GENE VARIANT``) → biomarker dict. Raises :class:`Unsupported`."""
    part = part.strip()
    if "::" in part:
        m = re.match(r"^([A-Za-z0-9-]+)::([A-Za-z0-9-]+)(?: Fusion.*)?$", part)
        if not m:
            raise Unsupported(f"fusion profile {part!r}")
        g5, g3 = m.group(1), m.group(2)
        if g5 == "v":
            return {"type": "fusion", "gene": g3}
        if g3 == "v":
            return {"type": "fusion", "gene": g5}
        return {"type": "fusion", "gene": g3, "partner": g5}
    gene, _, variant = part.partition(" ")
    variant = variant.strip()
    if not gene or not variant:
        raise Unsupported(f"molecular profile {part!r} without gene and variant")
    low = variant.lower()
    if parse_protein_change(variant) is not None and " " not in variant:
        return {"type": "variant", "gene": gene, "alterations": [variant]}
    if _CODON.match(variant):
        return {"type": "codon", "gene": gene, "alterations": [variant]}
    m = _EXON.match(variant)
    if m:
        kind = m.group(2).lower()
        cls = {
            "deletion": "deletion",
            "insertion": "insertion",
            "skipping mutation": "skipping",
            "skipping": "skipping",
            "missense mutation": "missense",
            "mutation": "any",
        }[kind]
        return {"type": "exon", "gene": gene, "exon": int(m.group(1)), "exon_class": cls}
    if low in ("amplification", "copy number gain"):
        return {"type": "amplification", "gene": gene}
    if low in ("deletion", "loss", "copy number loss", "homozygous deletion"):
        return {"type": "deletion", "gene": gene}
    if low == "fusion" or low.endswith(" fusion"):
        return {"type": "fusion", "gene": gene}
    if low in ("mutation", "somatic mutation", "oncogenic mutation"):
        return {"type": "functional", "gene": gene, "function": "oncogenic"}
    if low in ("loss-of-function", "loss of function", "inactivating mutation"):
        return {"type": "functional", "gene": gene, "function": "loss_of_function"}
    if low in ("truncating mutation", "frameshift truncation", "nonsense mutation"):
        return {"type": "functional", "gene": gene, "function": "truncating"}
    if low in ("activating mutation", "gain-of-function", "gain of function"):
        return {"type": "functional", "gene": gene, "function": "activating"}
    if low in ("wildtype", "wild type"):
        return {
            "type": "wildtype",
            "absent": [{"type": "functional", "gene": gene, "function": "oncogenic"}],
            "label": f"{gene} wild-type",
        }
    raise Unsupported(f"variant {variant!r} of {gene} (expression, methylation or unsupported notation)")


def parse_profile(profile: str) -> dict:
    if re.search(r"\b(OR|NOT)\b", profile):
        raise Unsupported(f"molecular profile {profile!r} with OR/NOT")
    parts = [p for p in re.split(r"\s+AND\s+", profile.strip()) if p]
    if not parts:
        raise Unsupported("empty molecular profile")
    converted = [parse_profile_part(p) for p in parts]
    return converted[0] if len(converted) == 1 else {"type": "all_of", "components": converted}


def map_disease(name: str, oncotree) -> list[str] | None:
    key = name.strip().lower()
    if oncotree is not None:
        for code, node in oncotree.nodes.items():
            if node.name.lower() == key and code != "TISSUE":
                return [code]
    return DISEASE_MAP.get(key)


def import_civic(path: str, oncotree=None) -> SourceResult:
    p = Path(path)
    if not p.exists():
        raise KnowledgeBaseError("expected a CIViC evidence TSV; found no file", path=p)
    result = SourceResult(
        name="civic",
        version=p.stem,
        licence="CC0-1.0",
        research_only=False,
        path=str(p),
        url="https://civicdb.org",
    )
    name_cache: dict[str, list[str] | None] = {}
    for line, where, row in tsv_rows(p, COLUMNS, result, f"the CIViC evidence columns ({len(COLUMNS)})"):
        eid = (row["evidence_id"] or "").strip()
        if (row["evidence_status"] or "").strip().lower() != "accepted":
            result.skip("not accepted", f"{where}: EID{eid} status {row['evidence_status']!r}")
            continue
        if (row.get("is_flagged") or "").strip().lower() == "true":
            result.skip("flagged", f"{where}: EID{eid} is flagged")
            continue
        etype = (row["evidence_type"] or "").strip()
        if etype not in ("Predictive", "Prognostic", "Diagnostic"):
            result.skip("evidence type not modelled", f"{where}: EID{eid} evidence type {etype!r}")
            continue
        if (row["evidence_direction"] or "").strip() != "Supports":
            result.skip("does not support", f"{where}: EID{eid} direction {row['evidence_direction']!r}")
            continue
        significance = (row["significance"] or "").strip()
        if etype == "Predictive":
            effect = {
                "Sensitivity/Response": "sensitivity",
                "Resistance": "resistance",
                "Reduced Sensitivity": "resistance",
            }.get(significance)
            if effect is None:
                result.skip("significance not modelled", f"{where}: EID{eid} significance {significance!r}")
                continue
        else:
            effect = etype.lower()
        level = (row["evidence_level"] or "").strip().upper()
        if level not in LEVELS:
            result.skip(
                "malformed row",
                f"{where}: EID{eid}: expected evidence_level A-E; found {row['evidence_level']!r}",
            )
            continue
        try:
            biomarker = parse_profile(row["molecular_profile"] or "")
        except Unsupported as exc:
            result.skip("unsupported molecular profile", f"{where}: EID{eid}: {exc}")
            continue
        disease = (row["disease"] or "").strip()
        if disease not in name_cache:
            name_cache[disease] = map_disease(disease, oncotree)
        codes = name_cache[disease]
        if not codes:
            result.skip(
                "disease not mapped to OncoTree",
                f"{where}: EID{eid}: disease {disease!r} (DOID {row['doid']})",
            )
            continue
        therapies = [t.strip() for t in (row["therapies"] or "").split(",") if t.strip()]
        if effect in ("sensitivity", "resistance") and not therapies:
            result.skip(
                "malformed row",
                f"{where}: EID{eid}: expected therapies for predictive evidence; found none",
            )
            continue
        escat, amp = LEVELS[level]
        citation = (row["citation_id"] or "").strip()
        pmids = (
            [citation]
            if (row["source_type"] or "").strip().lower() == "pubmed" and citation.isdigit()
            else []
        )
        doc = {
            "id": f"CIVIC-EID{eid}",
            "biomarker": biomarker,
            "disease": {"codes": codes, "name": disease},
            "effect": effect,
            "evidence": {
                "escat": escat,
                "amp_level": amp,
                "native_level": f"CIViC level {level} (rating {row['rating'] or '-'})",
                "summary": (row["evidence_statement"] or "")[:500],
            },
            "regulatory": {},
            "references": {
                "pmids": pmids,
                "urls": [row["evidence_civic_url"]] if row.get("evidence_civic_url") else [],
                "trials": [t.strip() for t in (row["nct_ids"] or "").split(",") if t.strip()],
                "other": [] if pmids else [f"{row['source_type']}: {citation}"] if citation else [],
            },
            "source": result.name,
            "source_version": result.version,
            "source_id": f"EID{eid}",
        }
        if therapies:
            doc["therapy"] = {
                "drugs": therapies,
                "combination": (row["therapy_interaction_type"] or "").strip() == "Combination",
            }
            if (row["therapy_interaction_type"] or "").strip() == "Sequential":
                doc["notes"] = "CIViC therapy interaction: Sequential"
        result.statements.append((doc, line, str(p)))
    return result
