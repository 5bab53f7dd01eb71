"""The knowledge-base statement model (one model for every source).

A :class:`Statement` asserts that a *biomarker* in a *disease* has an *effect* on a *therapy*, with
*evidence* levels, per-agency *regulatory* status and *references*. The JSON form (the one stored in
snapshots and bundled YAML) is defined by ``schemas/kb_statement.schema.json`` and documented in
``docs/knowledge-base.md``; :func:`statement_from_dict` validates it (schema, then semantic rules)
and :meth:`Statement.to_dict` writes it back unchanged in meaning.

Genomic keys are ``chrom:pos:ref:alt`` with a **1-based** VCF position on the named build, ``chr``
prefix stripped. Protein changes are one-letter without the ``p.`` prefix (``L858R``); positions
in protein changes and codons are 1-based residue numbers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import KnowledgeBaseError

ESCAT_LEVELS = ("I-A", "I-B", "I-C", "II-A", "II-B", "III-A", "III-B", "IV-A", "IV-B", "V", "X")
ESCAT_RANK = {level: i for i, level in enumerate(ESCAT_LEVELS)}
AMP_LEVELS = ("A", "B", "C", "D")
EFFECTS = ("sensitivity", "resistance", "prognostic", "diagnostic")
AGENCIES = ("EMA", "FDA")
BIOMARKER_TYPES = (
    "variant",
    "codon",
    "exon",
    "functional",
    "amplification",
    "deletion",
    "fusion",
    "characteristic",
    "wildtype",
    "all_of",
)
#: Specificity of a statement's own alteration class, matching the ladder in CLINICAL.md §3.
NATIVE_RANK = {"variant": 1, "codon": 2, "exon": 3, "functional": 4}

AA1 = "ACDEFGHIKLMNPQRSTVWY"
_PROTEIN_RE = re.compile(
    r"^(?P<ref>[ACDEFGHIKLMNPQRSTVWY*])(?P<pos>[0-9]+)"
    r"(?P<rest>[ACDEFGHIKLMNPQRSTVWY*]?fs(\*[0-9]*)?|[ACDEFGHIKLMNPQRSTVWY*]|del|dup|ins[A-Z*]+|delins[A-Z*]+|_[A-Z][0-9]+(del|dup|ins[A-Z*]+|delins[A-Z*]+))$"
)
_CODON_RE = re.compile(r"^(?P<ref>[ACDEFGHIKLMNPQRSTVWY]?)(?P<pos>[0-9]+)$")
_GENOMIC_RE = re.compile(r"^(?:chr)?([0-9XYMT]+):([0-9]+):([ACGTN]+):([ACGTN]+)$")


def parse_protein_change(text: str) -> tuple[str, int, str] | None:
    """``'p.L858R'`` / ``'L858R'`` → ``('L', 858, 'R')`` (1-based residue); None when unparseable."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("p."):
        text = text[2:]
    text = text.strip("()")
    m = _PROTEIN_RE.match(text)
    if not m:
        return None
    return m.group("ref"), int(m.group("pos")), m.group("rest")


def normalise_protein_change(text: str) -> str:
    """Strip ``p.`` and parentheses; map the stop symbol ``X`` to ``*`` in substitutions."""
    text = text.strip()
    if text.startswith("p."):
        text = text[2:]
    text = text.strip("()")
    if re.match(r"^[A-Z][0-9]+X$", text):
        text = text[:-1] + "*"
    return text


def normalise_genomic_key(text: str) -> str:
    m = _GENOMIC_RE.match(text.strip())
    if not m:
        raise ValueError(text)
    return f"{m.group(1)}:{int(m.group(2))}:{m.group(3)}:{m.group(4)}"


@dataclass(frozen=True)
class Biomarker:
    type: str
    gene: str | None = None
    alterations: tuple[str, ...] = ()
    genomic: dict[str, tuple[str, ...]] = field(default_factory=dict)
    exon: int | None = None
    exon_class: str | None = None
    function: str | None = None
    partner: str | None = None
    characteristic: str | None = None
    components: tuple[Biomarker, ...] = ()
    absent: tuple[Biomarker, ...] = ()
    allele_specific: bool = False
    label: str | None = None

    def __hash__(self) -> int:  # genomic is a dict
        return hash(
            (
                self.type,
                self.gene,
                self.alterations,
                self.exon,
                self.function,
                self.partner,
                self.characteristic,
            )
        )

    @property
    def codons(self) -> tuple[tuple[str, int], ...]:
        """For ``codon`` biomarkers: ``(ref residue or '', 1-based position)`` pairs."""
        out = []
        for alt in self.alterations:
            m = _CODON_RE.match(alt)
            if m:
                out.append((m.group("ref"), int(m.group("pos"))))
        return tuple(out)

    def genes(self) -> set[str]:
        out = {self.gene} if self.gene else set()
        for sub in self.components + self.absent:
            out |= sub.genes()
        return out

    def display(self) -> str:
        """Human-readable alteration (used when the statement, not a variant, names the finding)."""
        if self.label:
            return self.label
        if self.type == "variant":
            return "/".join(self.alterations)
        if self.type == "codon":
            return "/".join(f"{a}X" if a[-1].isdigit() else a for a in self.alterations)
        if self.type == "exon":
            return f"exon {self.exon} {self.exon_class}"
        if self.type == "functional":
            return self.function.replace("_", " ") + " mutation"
        if self.type in ("amplification", "deletion"):
            return self.type
        if self.type == "fusion":
            return f"{self.partner}-{self.gene} fusion" if self.partner else "fusion"
        if self.type == "characteristic":
            return self.characteristic
        if self.type == "wildtype":
            return "/".join(sorted(self.genes())) + " wild-type"
        if self.type == "all_of":
            return " + ".join(f"{c.gene or ''} {c.display()}".strip() for c in self.components)
        return self.type

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"type": self.type}
        if self.gene is not None:
            out["gene"] = self.gene
        if self.alterations:
            out["alterations"] = list(self.alterations)
        if self.genomic:
            out["genomic"] = {build: list(keys) for build, keys in sorted(self.genomic.items())}
        for name in ("exon", "exon_class", "function", "partner", "characteristic", "label"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.components:
            out["components"] = [c.to_dict() for c in self.components]
        if self.absent:
            out["absent"] = [c.to_dict() for c in self.absent]
        if self.allele_specific:
            out["allele_specific"] = True
        return out


@dataclass(frozen=True)
class Approval:
    approved: bool | None
    date: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class Statement:
    id: str
    biomarker: Biomarker
    disease_codes: tuple[str, ...]
    disease_exclude: tuple[str, ...]
    effect: str
    drugs: tuple[str, ...]
    combination: bool
    escat: str | None
    amp_level: str | None
    native_level: str | None
    regulatory: dict[str, Approval]
    pmids: tuple[str, ...]
    urls: tuple[str, ...]
    trials: tuple[str, ...]
    source: str
    source_version: str = ""
    disease_context: str | None = None
    disease_name: str | None = None
    notes: str | None = None
    summary: str | None = None
    other_refs: tuple[str, ...] = ()
    source_id: str | None = None

    @property
    def gene(self) -> str | None:
        return self.biomarker.gene

    def therapies(self) -> list[str]:
        """Therapy strings: one ``'a + b'`` for a combination, else one entry per alternative drug."""
        if not self.drugs:
            return []
        if self.combination:
            return [" + ".join(self.drugs)]
        return list(self.drugs)

    def approved(self, agency: str) -> bool:
        approval = self.regulatory.get(agency)
        return bool(approval and approval.approved)

    def references(self) -> list[str]:
        refs = [f"PMID:{p}" for p in self.pmids]
        refs += list(self.trials) + list(self.urls) + list(self.other_refs)
        return refs

    def to_dict(self) -> dict:
        disease: dict[str, Any] = {"codes": list(self.disease_codes)}
        if self.disease_exclude:
            disease["exclude"] = list(self.disease_exclude)
        if self.disease_context:
            disease["context"] = self.disease_context
        if self.disease_name:
            disease["name"] = self.disease_name
        evidence: dict[str, Any] = {
            "escat": self.escat,
            "amp_level": self.amp_level,
            "native_level": self.native_level,
        }
        if self.summary:
            evidence["summary"] = self.summary
        out: dict[str, Any] = {
            "id": self.id,
            "biomarker": self.biomarker.to_dict(),
            "disease": disease,
            "effect": self.effect,
            "evidence": evidence,
            "references": {"pmids": list(self.pmids), "urls": list(self.urls), "trials": list(self.trials)},
            "source": self.source,
            "source_version": self.source_version,
        }
        if self.other_refs:
            out["references"]["other"] = list(self.other_refs)
        if self.drugs:
            out["therapy"] = {"drugs": list(self.drugs), "combination": self.combination}
        if self.regulatory:
            out["regulatory"] = {
                agency: {"approved": a.approved, "date": a.date, "reference": a.reference}
                for agency, a in sorted(self.regulatory.items())
            }
        if self.notes:
            out["notes"] = self.notes
        if self.source_id:
            out["source_id"] = self.source_id
        return out


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def statement_schema() -> dict:
    ref = resources.files("ccevariants") / "schemas" / "kb_statement.schema.json"
    with ref.open("r", encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(statement_schema())


def _schema_errors(document: Any) -> list[str]:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors[:3]:
        where = "/".join(str(p) for p in err.absolute_path) or "(statement)"
        out.append(f"{where}: {err.message}")
    return out


def _biomarker_from_dict(raw: dict, where: str) -> Biomarker:
    kind = raw["type"]
    gene = raw.get("gene")
    if gene is not None:
        gene = gene.strip().upper() if gene.strip().upper() == gene.strip() else gene.strip()
    alterations = tuple(
        normalise_protein_change(a) if kind == "variant" else a.strip() for a in raw.get("alterations", [])
    )
    genomic = {}
    for build, keys in (raw.get("genomic") or {}).items():
        genomic[build] = tuple(normalise_genomic_key(k) for k in keys)

    def need(condition: bool, expected: str, found: str) -> None:
        if not condition:
            raise ValueError(f"{where}: expected {expected}; found {found}")

    if kind not in ("characteristic", "wildtype", "all_of"):
        need(bool(gene), f"a gene for a {kind} biomarker", "none")
    if kind == "variant":
        need(
            bool(alterations) or bool(genomic),
            "alterations (e.g. L858R) or genomic keys for a variant biomarker",
            "none",
        )
        for a in alterations:
            need(
                parse_protein_change(a) is not None,
                "one-letter protein changes such as L858R or E746_A750del",
                repr(a),
            )
    elif kind == "codon":
        need(bool(alterations), "codons such as G12 for a codon biomarker", "none")
        for a in alterations:
            need(_CODON_RE.match(a) is not None, "a codon such as G12", repr(a))
    elif kind == "exon":
        need(
            raw.get("exon") is not None and raw.get("exon_class") is not None,
            "exon and exon_class",
            "them missing",
        )
    elif kind == "functional":
        need(
            raw.get("function") is not None,
            "function (activating, loss_of_function, truncating, oncogenic)",
            "none",
        )
    elif kind == "characteristic":
        need(raw.get("characteristic") is not None, "characteristic (TMB-high, MSI-high, HRD)", "none")
    elif kind == "wildtype":
        need(bool(raw.get("absent")), "an 'absent' list for a wildtype biomarker", "none")
    elif kind == "all_of":
        need(
            len(raw.get("components") or []) >= 2,
            "at least two components for all_of",
            str(len(raw.get("components") or [])),
        )
    components = tuple(_biomarker_from_dict(c, where + "/components") for c in raw.get("components") or [])
    absent = tuple(_biomarker_from_dict(c, where + "/absent") for c in raw.get("absent") or [])
    return Biomarker(
        type=kind,
        gene=gene,
        alterations=alterations,
        genomic=genomic,
        exon=raw.get("exon"),
        exon_class=raw.get("exon_class"),
        function=raw.get("function"),
        partner=raw.get("partner"),
        characteristic=raw.get("characteristic"),
        components=components,
        absent=absent,
        allele_specific=bool(raw.get("allele_specific", False)),
        label=raw.get("label"),
    )


def statement_from_dict(raw: Any, *, path: str | None = None, line: int | None = None) -> Statement:
    """Validate one statement document and build the :class:`Statement`.

    Raises :class:`KnowledgeBaseError` naming ``path``/``line`` with "expected X; found Y".
    """
    if not isinstance(raw, dict):
        raise KnowledgeBaseError(
            f"expected a statement mapping; found {type(raw).__name__}", path=path, line=line
        )
    sid = raw.get("id", "?")
    errors = _schema_errors(raw)
    if errors:
        raise KnowledgeBaseError(
            f"statement {sid}: expected a document valid against kb_statement.schema.json; found {'; '.join(errors)}",
            path=path,
            line=line,
        )
    try:
        biomarker = _biomarker_from_dict(raw["biomarker"], "biomarker")
    except ValueError as exc:
        raise KnowledgeBaseError(f"statement {sid}: {exc}", path=path, line=line) from None
    effect = raw["effect"]
    therapy = raw.get("therapy") or {}
    drugs = tuple(d.strip().lower() for d in therapy.get("drugs", []))
    if effect in ("sensitivity", "resistance") and not drugs:
        raise KnowledgeBaseError(
            f"statement {sid}: expected therapy.drugs for a {effect} statement; found none",
            path=path,
            line=line,
        )
    evidence = raw["evidence"]
    if (
        evidence.get("escat") is None
        and evidence.get("amp_level") is None
        and evidence.get("native_level") is None
    ):
        raise KnowledgeBaseError(
            f"statement {sid}: expected at least one of evidence.escat, amp_level, native_level; found none",
            path=path,
            line=line,
        )
    regulatory = {
        agency: Approval(value.get("approved"), value.get("date"), value.get("reference"))
        for agency, value in (raw.get("regulatory") or {}).items()
    }
    refs = raw["references"]
    disease = raw["disease"]
    return Statement(
        id=raw["id"],
        biomarker=biomarker,
        disease_codes=tuple(disease["codes"]),
        disease_exclude=tuple(disease.get("exclude", [])),
        effect=effect,
        drugs=drugs,
        combination=bool(therapy.get("combination", False)),
        escat=evidence.get("escat"),
        amp_level=evidence.get("amp_level"),
        native_level=evidence.get("native_level"),
        regulatory=regulatory,
        pmids=tuple(str(p) for p in refs.get("pmids", [])),
        urls=tuple(refs.get("urls", [])),
        trials=tuple(refs.get("trials", [])),
        other_refs=tuple(refs.get("other", [])),
        source=raw["source"],
        source_version=raw.get("source_version", ""),
        disease_context=disease.get("context"),
        disease_name=disease.get("name"),
        notes=raw.get("notes"),
        summary=evidence.get("summary"),
        source_id=raw.get("source_id"),
    )
