"""Match a patient's alterations and biomarkers against a KB snapshot, then tier (contract §6).

Inputs: the annotated variant table (contract §3; the ``pick`` row of each variant carries the
reporting-transcript protein change), ``biomarkers.json`` (contract §4: CNAs, fusions, TMB, MSI),
the patient's OncoTree code and a compiled snapshot. Positions are **1-based** (VCF ``pos``,
protein residue numbers).

Match ladder (CLINICAL.md §3), strongest first; each statement keeps the strongest match:

1. ``exact``       genomic key on the given build, or the one-letter protein change on the pick row
2. ``codon``       same residue position (KRAS G12X), for codon statements or as a similar alteration
3. ``exon``        exon-level class: in-frame deletion / insertion, splice-site skipping, any
4. ``functional``  activating (missense or in-frame at a hotspot codon or a KB-listed sensitising
                   variant), truncating (stop_gained, frameshift, splice donor/acceptor),
                   loss_of_function (= truncating), oncogenic (activating or truncating)
5. ``cna`` / ``fusion``  gene-level amplification / deletion; fusion with either partner (in-frame
                   unless the caller says otherwise)
6. ``characteristic``    TMB-high, MSI-high, HRD from biomarkers.json
7. ``wildtype``    none of the listed alterations present among the PASS calls **and** every named
                   gene / codon assessable (coverage data or callable BED, ``kb/wildtype.py``);
                   otherwise the finding goes to ``pending`` (ESCAT withheld, requires confirmation)

Codon / functional extension of a variant- or codon-specific statement ("similar alteration") is
applied only to sensitivity statements not marked ``allele_specific``: resistance is allele-specific
(EGFR T790M resistance says nothing about L858R). Gene-only matches are never tiered: such variants
are listed under ``unmatched`` with the reason.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from .errors import InputError
from .kb import oncogenicity as onc
from .kb import wildtype as wt
from .kb.model import ESCAT_RANK, Biomarker, Statement, parse_protein_change
from .kb.snapshot import Snapshot, load_snapshot
from .oncotree import OncoTree
from .tiering import MATCH_RANK, is_similar, tier

log = logging.getLogger(__name__)

TRUNCATING = frozenset(
    {"stop_gained", "frameshift_variant", "splice_donor_variant", "splice_acceptor_variant"}
)
SPLICE_SITE = frozenset({"splice_donor_variant", "splice_acceptor_variant"})
PROTEIN_ALTERING = frozenset(
    {
        "missense_variant",
        "stop_gained",
        "stop_lost",
        "start_lost",
        "frameshift_variant",
        "inframe_insertion",
        "inframe_deletion",
        "protein_altering_variant",
        "splice_donor_variant",
        "splice_acceptor_variant",
    }
)
REQUIRED_COLUMNS = (
    "variant_id",
    "chrom",
    "pos",
    "ref",
    "alt",
    "filter",
    "gene",
    "consequence",
    "hgvsp_short",
    "exon",
    "intron",
    "pick",
)
PASS_FILTERS = frozenset({"PASS", ".", ""})


@lru_cache(maxsize=1)
def hotspots() -> dict[str, frozenset[int]]:
    """Bundled hotspot codons (1-based residues) per gene (``data/kb/hotspots.yaml``)."""
    ref = resources.files("ccevariants") / "data" / "kb" / "hotspots.yaml"
    with ref.open("r", encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    return {gene: frozenset(int(c) for c in codons) for gene, codons in doc["hotspots"].items()}


# ---------------------------------------------------------------------------------------------
# patient alterations
# ---------------------------------------------------------------------------------------------
@dataclass
class Alteration:
    kind: str  # variant | cna | fusion | characteristic
    gene: str
    label: str  # one-letter protein change, "amplification", "EML4-ALK fusion", "TMB-high"
    variant_id: str | None = None
    genomic_key: str | None = None
    protein: str = ""
    ref_aa: str = ""
    residue: int = -1
    change: str = ""
    consequences: frozenset[str] = frozenset()
    exon: int = -1
    intron: int = -1
    gene5: str = ""
    gene3: str = ""
    in_frame: bool | None = None
    details: dict = field(default_factory=dict)

    @property
    def category(self) -> str:
        return {"variant": "variant", "cna": "cna", "fusion": "fusion"}.get(self.kind, "biomarker")

    def is_missense_like(self) -> bool:
        return bool(
            self.consequences
            & {"missense_variant", "inframe_insertion", "inframe_deletion", "protein_altering_variant"}
        )

    def is_truncating(self) -> bool:
        return bool(self.consequences & TRUNCATING)


def _number(text: str) -> int:
    if not isinstance(text, str) or not text:
        return -1
    m = re.match(r"^(\d+)", text)
    return int(m.group(1)) if m else -1


def _genomic_key(chrom: str, pos: int, ref: str, alt: str) -> str:
    chrom = chrom[3:] if chrom.lower().startswith("chr") else chrom
    return f"{chrom}:{int(pos)}:{ref}:{alt}"


def read_variants(path) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except FileNotFoundError:
        raise InputError("expected an existing annotated Parquet table; found none", path=path) from None
    except Exception as exc:  # pyarrow raises several types for non-Parquet input
        raise InputError(
            f"expected an annotated Parquet table; found unreadable file ({type(exc).__name__})", path=path
        ) from None
    return table


def variant_alterations(
    table: pd.DataFrame, source: str = "variants", genes: set[str] | None = None
) -> tuple[list[Alteration], dict[str, int], pd.DataFrame]:
    """One :class:`Alteration` per variant (its ``pick`` row) that could carry evidence.

    Returns ``(alterations, set_aside, others)``: the alterations of PASS variants in ``genes``
    (all genes when None), the counts of variants set aside (``filtered``, ``intergenic``) and the
    remaining PASS pick rows (genes without knowledge-base statements) -- every variant is accounted
    for. Building objects only for knowledge-base genes keeps whole-exome tables fast.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"expected annotated-table columns {', '.join(REQUIRED_COLUMNS)}; found {', '.join(missing)} missing",
            path=source,
        )
    picks = table[table["pick"].to_numpy(dtype=bool)]
    n_variants = table["variant_id"].nunique()
    if len(picks) != n_variants or picks["variant_id"].duplicated().any():
        raise InputError(
            f"expected exactly one pick row per variant; found {len(picks)} pick rows for {n_variants} variants",
            path=source,
        )
    filters = picks["filter"].astype(str).to_numpy()
    passed = np.isin(filters, list(PASS_FILTERS))
    gene_col = picks["gene"].fillna("").astype(str).str.upper().to_numpy()
    has_gene = gene_col != ""
    counts = {"filtered": int((~passed).sum()), "intergenic": int((passed & ~has_gene).sum())}
    usable = passed & has_gene
    in_kb = usable if genes is None else usable & np.isin(gene_col, list(genes))
    keep = picks[in_kb]
    others = picks[usable & ~in_kb]
    out: list[Alteration] = []
    for row in keep.itertuples(index=False):
        protein = row.hgvsp_short or ""
        protein = protein[2:] if protein.startswith("p.") else protein
        parsed = parse_protein_change(protein)
        consequences = frozenset(str(row.consequence).split("&")) if row.consequence else frozenset()
        label = protein or (getattr(row, "hgvsc", "") or "") or str(row.consequence)
        out.append(
            Alteration(
                kind="variant",
                gene=str(row.gene).upper(),
                label=label,
                variant_id=str(row.variant_id),
                genomic_key=_genomic_key(str(row.chrom), int(row.pos), str(row.ref), str(row.alt)),
                protein=protein,
                ref_aa=parsed[0] if parsed else "",
                residue=parsed[1] if parsed else -1,
                change=parsed[2] if parsed else "",
                consequences=consequences,
                exon=_number(row.exon),
                intron=_number(row.intron),
                details={"hgvsc": getattr(row, "hgvsc", ""), "consequence": row.consequence},
            )
        )
    return out, counts, others


def _unmatched_other_genes(others: pd.DataFrame) -> tuple[list[dict], int]:
    """Unmatched entries for PASS variants in genes without statements (columnar), and the count of
    non-protein-altering ones that are only summarised."""
    if others.empty:
        return [], 0
    pattern = "|".join(sorted(PROTEIN_ALTERING))
    altering = others["consequence"].fillna("").astype(str).str.contains(pattern, regex=True).to_numpy()
    rows = others[altering]
    protein = rows["hgvsp_short"].fillna("").astype(str).str.replace(r"^p\.", "", regex=True)
    hgvsc = (
        rows["hgvsc"].fillna("").astype(str) if "hgvsc" in rows.columns else pd.Series("", index=rows.index)
    )
    label = protein.where(protein != "", hgvsc.where(hgvsc != "", rows["consequence"].astype(str)))
    genes = rows["gene"].astype(str).str.upper()
    levels, why = onc.classify_columns(rows, hotspots())
    out = [
        {
            "variant_id": vid,
            "gene": g,
            "alteration": lab,
            "category": "variant",
            "reason": f"no knowledge-base statement for {g} ("
            + (
                "variant of unknown significance"
                if level == onc.UNKNOWN
                else f"not tiered; {level.replace('_', ' ')}"
            )
            + ")",
            "oncogenicity": level,
            "oncogenicity_reason": reason,
        }
        for vid, g, lab, level, reason in zip(
            rows["variant_id"].astype(str).tolist(),
            genes.tolist(),
            label.astype(str).tolist(),
            levels.tolist(),
            why.tolist(),
            strict=True,
        )
    ]
    return out, int((~altering).sum())


def _filtered_alterations(table: pd.DataFrame, genes: set[str], source: str) -> list[Alteration]:
    """Alterations of the **non-PASS** pick rows in ``genes`` (the genes wild-type statements name):
    a filtered call at a required locus must block a wild-type assertion, not be ignored."""
    if not genes or table.empty or "filter" not in table.columns or "pick" not in table.columns:
        return []
    picks = table[table["pick"].to_numpy(dtype=bool)]
    failed = ~np.isin(picks["filter"].astype(str).to_numpy(), list(PASS_FILTERS))
    in_genes = np.isin(picks["gene"].fillna("").astype(str).str.upper().to_numpy(), list(genes))
    rows = picks[failed & in_genes]
    if rows.empty:
        return []
    filters = rows["filter"].astype(str).tolist()
    relabelled = rows.assign(filter="PASS")
    alts, _counts, _others = variant_alterations(relabelled, source, genes=genes)
    for alt, flt in zip(alts, filters, strict=True):
        alt.details["filter"] = flt
    return alts


def _pending_entry(finding: dict, assessment) -> dict:
    """A wild-type finding that cannot be asserted: ESCAT / AMP / on-label withheld (kept as
    ``*_if_confirmed``), ``requires_confirmation: true`` and the reasons."""
    entry = {
        k: finding[k]
        for k in (
            "finding_id",
            "gene",
            "alteration",
            "category",
            "variant_id",
            "match_type",
            "effect",
            "therapies",
            "disease_match",
            "evidence",
            "indication",
            "regulatory",
            "notes",
        )
    }
    entry.update(
        {
            "status": "not_assessable",
            "requires_confirmation": True,
            "escat_if_confirmed": finding["escat"],
            "amp_tier_if_confirmed": finding["amp_tier"],
            "amp_level_if_confirmed": finding["amp_level"],
            "on_label_if_confirmed": finding["on_label"],
            "reason": "wild-type status not assessable: " + "; ".join(assessment.problems),
            "wildtype_assessment": assessment.as_dict(),
            "trace": finding["trace"]
            + [f"not assessable, ESCAT withheld: {p}" for p in assessment.problems]
            + [f"assessable: {line}" for line in assessment.lines],
        }
    )
    return entry


def biomarker_alterations(biomarkers: dict, source: str = "biomarkers") -> list[Alteration]:
    """CNAs, fusions and tumour characteristics (TMB-high, MSI-high, HRD) from biomarkers.json."""
    if not isinstance(biomarkers, dict):
        raise InputError(f"expected a biomarkers JSON object; found {type(biomarkers).__name__}", path=source)
    out: list[Alteration] = []
    for i, cna in enumerate(biomarkers.get("cna") or []):
        alteration = cna.get("alteration") if isinstance(cna, dict) else None
        if alteration not in ("amplification", "deletion") or not cna.get("gene"):
            raise InputError(
                f"expected cna[{i}] with gene and alteration amplification|deletion; found {cna!r:.80}",
                path=source,
            )
        out.append(
            Alteration(
                "cna", str(cna["gene"]).upper(), alteration, details={"copy_number": cna.get("copy_number")}
            )
        )
    for i, fusion in enumerate(biomarkers.get("fusions") or []):
        if not isinstance(fusion, dict) or not fusion.get("gene5") or not fusion.get("gene3"):
            raise InputError(f"expected fusions[{i}] with gene5 and gene3; found {fusion!r:.80}", path=source)
        g5, g3 = str(fusion["gene5"]).upper(), str(fusion["gene3"]).upper()
        out.append(
            Alteration(
                "fusion",
                g3,
                f"{g5}-{g3} fusion",
                gene5=g5,
                gene3=g3,
                in_frame=fusion.get("in_frame"),
                details={"supporting_reads": fusion.get("supporting_reads")},
            )
        )
    tmb = biomarkers.get("tmb") or {}
    if tmb.get("status") == "high":
        out.append(Alteration("characteristic", "", "TMB-high", details={"value": tmb.get("value")}))
    msi = biomarkers.get("msi") or {}
    if msi.get("status") == "msi_high":
        out.append(Alteration("characteristic", "", "MSI-high", details={"score": msi.get("score")}))
    hrd = biomarkers.get("hrd") or {}
    if isinstance(hrd, dict) and hrd.get("status") in ("positive", "high", "hrd"):
        out.append(Alteration("characteristic", "", "HRD", details={"score": hrd.get("score")}))
    return out


# ---------------------------------------------------------------------------------------------
# biomarker matching
# ---------------------------------------------------------------------------------------------
class Matcher:
    def __init__(self, statements: list[Statement], genome_build: str | None):
        self.build = genome_build
        self.hotspots = hotspots()
        listed: dict[str, set[str]] = {}
        for st in statements:
            # allele-specific statements (e.g. T790M → osimertinib) list resistance alleles, not activating ones
            if (
                st.effect == "sensitivity"
                and st.biomarker.type == "variant"
                and not st.biomarker.allele_specific
            ):
                listed.setdefault(st.biomarker.gene, set()).update(st.biomarker.alterations)
        self.kb_listed = listed
        self._position_cache: dict[int, frozenset[int]] = {}

    def _positions(self, b: Biomarker) -> frozenset[int]:
        """1-based residues of a variant biomarker's protein changes (cached per biomarker)."""
        key = id(b)
        cached = self._position_cache.get(key)
        if cached is None:
            parsed = (parse_protein_change(a) for a in b.alterations)
            cached = self._position_cache[key] = frozenset(p[1] for p in parsed if p)
        return cached

    def is_activating(self, alt: Alteration) -> bool:
        if alt.kind != "variant" or not alt.is_missense_like() or alt.residue < 0:
            return False
        return alt.residue in self.hotspots.get(alt.gene, ()) or alt.protein in self.kb_listed.get(
            alt.gene, ()
        )

    def match(self, b: Biomarker, alt: Alteration, extend: bool) -> tuple[str, str] | None:
        """Match type and a one-line reason, or None. ``extend`` allows similar-alteration matches."""
        kind = b.type
        if kind in ("amplification", "deletion"):
            if alt.kind == "cna" and alt.gene == b.gene and alt.label == kind:
                return "cna", f"{b.gene} {kind}"
            return None
        if kind == "fusion":
            if alt.kind != "fusion" or b.gene not in (alt.gene5, alt.gene3):
                return None
            other = alt.gene3 if alt.gene5 == b.gene else alt.gene5
            if b.partner and b.partner != other:
                return None
            if alt.in_frame is False:
                return None
            return "fusion", f"{alt.label} ({'partner ' + b.partner if b.partner else 'any partner'})"
        if kind == "characteristic":
            if alt.kind == "characteristic" and alt.label == b.characteristic:
                return "characteristic", alt.label
            return None
        if alt.kind != "variant" or alt.gene != b.gene:
            return None
        if kind == "variant":
            if self.build and alt.genomic_key in b.genomic.get(self.build, ()):
                return "exact", f"genomic key {alt.genomic_key} ({self.build})"
            if alt.protein and alt.protein in b.alterations:
                return "exact", f"protein change {alt.protein} on the reporting transcript"
            if extend:
                positions = self._positions(b)
                if alt.residue in positions and alt.is_missense_like():
                    return "codon", f"{alt.protein}: same residue as {'/'.join(b.alterations)}"
                if self.is_activating(alt):
                    return (
                        "functional",
                        f"{alt.protein}: activating (hotspot or KB-listed) like {'/'.join(b.alterations)}",
                    )
            return None
        if kind == "codon":
            for ref, pos in b.codons:
                if (
                    alt.residue == pos
                    and (not ref or ref == alt.ref_aa)
                    and alt.is_missense_like()
                    and alt.change != alt.ref_aa
                ):
                    return "codon", f"{alt.protein}: codon {ref}{pos}"
            if extend and self.is_activating(alt):
                return "functional", f"{alt.protein}: activating (hotspot or KB-listed), other codon"
            return None
        if kind == "exon":
            return self._match_exon(b, alt)
        if kind == "functional":
            activating = self.is_activating(alt)
            truncating = alt.is_truncating()
            ok = {
                "activating": activating,
                "truncating": truncating,
                "loss_of_function": truncating,
                "oncogenic": activating or truncating,
            }[b.function]
            if ok:
                why = (
                    "truncating (" + "/".join(sorted(alt.consequences & TRUNCATING)) + ")"
                    if truncating
                    else "activating hotspot"
                )
                return "functional", f"{alt.label}: {why}"
            return None
        return None

    def _match_exon(self, b: Biomarker, alt: Alteration) -> tuple[str, str] | None:
        cls, exon = b.exon_class, b.exon
        c = alt.consequences
        if cls == "skipping":
            # splice donor/acceptor of the exon: acceptor lies in intron exon-1, donor in intron exon
            if c & SPLICE_SITE and (alt.intron in (exon - 1, exon) or alt.exon == exon):
                return (
                    "exon",
                    f"splice-site variant at exon {exon} ({'/'.join(sorted(c & SPLICE_SITE))}): exon {exon} skipping",
                )
            return None
        if alt.exon != exon:
            return None
        change = alt.change
        if cls == "deletion":
            ok = (
                "inframe_deletion" in c
                or (change.endswith("del") or "delins" in change)
                and "frameshift_variant" not in c
            )
        elif cls == "insertion":
            ok = (
                "inframe_insertion" in c
                or (change.startswith("ins") or change.endswith("dup") or "ins" in change)
                and "frameshift_variant" not in c
                and "inframe_deletion" not in c
            )
        elif cls == "missense":
            ok = "missense_variant" in c
        else:
            ok = bool(c & PROTEIN_ALTERING)
        return ("exon", f"{alt.label}: exon {exon} {cls}") if ok else None


# ---------------------------------------------------------------------------------------------
# the patient-level match
# ---------------------------------------------------------------------------------------------
def _coerce_snapshot(snapshot) -> Snapshot:
    if isinstance(snapshot, Snapshot):
        return snapshot
    return load_snapshot(snapshot)


def match_patient(
    variants_table: pd.DataFrame,
    biomarkers: dict,
    tumor_type: str,
    snapshot: Snapshot | str,
    patient: str = "",
    *,
    oncotree: OncoTree | None = None,
    genome_build: str | None = None,
    variants_source: str = "variants",
    biomarkers_source: str = "biomarkers",
    callable_regions=None,
    annotation=None,
) -> dict:
    """Match and tier one patient; returns the ``matches.json`` document (contract §6).

    ``callable_regions`` (interval set of the sample's callable BED, 0-based half-open) and
    ``annotation`` (a :class:`~ccevariants.transcripts.TranscriptIndex`) let wild-type requirements
    be confirmed from the callable region when biomarkers.json has no coverage data
    (:mod:`ccevariants.kb.wildtype`).
    """
    snap = _coerce_snapshot(snapshot)
    tree = oncotree or OncoTree.load()
    if tumor_type not in tree:
        raise InputError(
            f"expected an OncoTree code of release {tree.release}; found {tumor_type!r}", path=None
        )
    lineage = tree.lineage(tumor_type)
    by_gene = snap.by_gene()
    kb_genes = {g for g in by_gene if g}
    variants, set_aside, other_rows = variant_alterations(variants_table, variants_source, genes=kb_genes)
    wildtype_genes = {
        g for st in snap.statements if st.biomarker.type == "wildtype" for g in st.biomarker.genes()
    }
    filtered_index = _index_alterations(
        _filtered_alterations(variants_table, wildtype_genes, variants_source)
    )
    others = biomarker_alterations(biomarkers, biomarkers_source)
    alterations = variants + others
    matcher = Matcher(snap.statements, genome_build)
    index = _index_alterations(alterations)

    candidates: dict[str, Statement] = {}
    for alt in alterations:
        genes = {alt.gene, alt.gene5, alt.gene3} - {""}
        for g in genes:
            for st in by_gene.get(g, ()):
                candidates[st.id] = st
    for st in by_gene.get(None, ()):  # characteristics, gene-less statements
        candidates[st.id] = st
    for st in snap.statements:
        if st.biomarker.type in ("wildtype", "all_of"):
            candidates[st.id] = st

    findings: list[dict] = []
    ledger = _Ledger(tree, tumor_type, lineage)
    for st in sorted(candidates.values(), key=lambda s: s.id):
        extend = st.effect == "sensitivity" and not st.biomarker.allele_specific
        for match_type, alt, reason in _best_matches(matcher, st.biomarker, index, extend):
            _consider(st, match_type, alt, reason, ledger)
    suppressed, excluded_keys = ledger.suppressed, ledger.excluded_keys
    matched_alts, known, pending = ledger.matched_alts, ledger.known, ledger.pending

    def oncogenicity_of(alt):
        if alt is None:
            return onc.NOT_APPLICABLE, "wild-type requirement, not an alteration"
        return onc.classify(alt, matcher.hotspots, known.get(id(alt)))

    awaiting: list[dict] = []
    for st, alt, match_type, reason, (decision, disease) in pending:
        if st.biomarker.type == "wildtype":
            hits = [
                f"{a.gene} {a.label} (FILTER {a.details.get('filter')})"
                for absent in st.biomarker.absent
                for _t, a, _r in _best_matches(matcher, absent, filtered_index, extend=False)
            ]
            assessment = wt.assess(
                st.biomarker, biomarkers, callable_regions, annotation, filtered_hits=sorted(set(hits))
            )
            finding = _finding(
                st, alt, match_type, reason, decision, disease, tumor_type, lineage, oncogenicity_of(alt)
            )
            finding["wildtype_assessment"] = assessment.as_dict()
            if assessment.assessable:
                finding["trace"].append("wild-type confirmed assessable: " + "; ".join(assessment.lines))
                findings.append(finding)
            else:
                awaiting.append(_pending_entry(finding, assessment))
            continue
        if disease == "other" and (st.gene, tuple(st.therapies())) in excluded_keys:
            suppressed.append(
                {
                    "statement_id": st.id,
                    "variant_id": alt.variant_id if alt else None,
                    "reason": "another statement for this therapy and biomarker explicitly excludes the patient's tumour type",
                }
            )
            if alt is not None:
                matched_alts.add(id(alt))
            continue
        findings.append(
            _finding(
                st, alt, match_type, reason, decision, disease, tumor_type, lineage, oncogenicity_of(alt)
            )
        )
        if alt is not None:
            matched_alts.add(id(alt))

    findings = _resistance_overrides(findings, suppressed)
    findings = _dedupe(findings, suppressed)
    _co_occurring_resistance(findings)
    findings.sort(
        key=lambda f: (
            ESCAT_RANK[f["escat"]],
            f["gene"],
            f["alteration"],
            f["effect"],
            f["therapies"],
            f["evidence"]["statement_id"],
        )
    )

    unmatched, summary = _unmatched(alterations, matched_alts, kb_genes, oncogenicity_of)
    other_unmatched, not_altering = _unmatched_other_genes(other_rows)
    if not_altering:
        summary[NOT_ALTERING] = summary.get(NOT_ALTERING, 0) + not_altering
    unmatched = sorted(
        unmatched + other_unmatched, key=lambda u: (u["gene"], u["alteration"], u["variant_id"] or "")
    )
    for reason, n in set_aside.items():
        if n:
            summary[reason] = summary.get(reason, 0) + n

    return {
        "patient": patient,
        "tumor_type": {"code": tumor_type, "name": tree.name(tumor_type), "lineage": lineage},
        "oncotree_release": tree.release,
        "genome_build": genome_build,
        "kb": {
            "name": snap.name,
            "version": snap.version,
            "date": snap.manifest.get("date"),
            "content_hash": snap.content_hash,
        },
        "findings": findings,
        "pending": sorted(awaiting, key=lambda p: (p["gene"], p["evidence"]["statement_id"])),
        "unmatched": unmatched,
        "unmatched_summary": dict(sorted(summary.items())),
        "suppressed": sorted(suppressed, key=lambda s: (s["statement_id"], s["variant_id"] or "")),
    }


@dataclass
class _Ledger:
    """What matching one patient accumulates across (statement, alteration) matches."""

    tree: object
    tumor_type: str
    lineage: list[str]
    suppressed: list[dict] = field(default_factory=list)
    excluded_keys: set[tuple] = field(default_factory=set)
    matched_alts: set[int] = field(default_factory=set)
    known: dict[int, str] = field(default_factory=dict)
    pending: list[tuple] = field(default_factory=list)  # (statement, alteration, match type, reason, tier)


def _consider(st, match_type, alt, reason, ledger: _Ledger) -> None:
    """Disease match and tier of one (statement, alteration) match; queue it or record why not.

    ``ledger.known`` collects, per alteration, why it is a knowledge-base biomarker in its own right (any
    tumour type or effect) -- the first oncogenicity rule."""
    if alt is not None:
        ledger.matched_alts.add(id(alt))
        if (
            alt.kind != "characteristic"
            and match_type in onc.KNOWN_MATCH_TYPES
            and not is_similar(st, match_type)
            and id(alt) not in ledger.known
        ):
            ledger.known[id(alt)] = (
                f"knowledge-base biomarker: {match_type} match to {st.id} ({st.biomarker.display()})"
            )
    disease = ledger.tree.disease_match(st.disease_codes, ledger.tumor_type, st.disease_exclude)
    vid = alt.variant_id if alt else None
    if disease == "excluded":
        ledger.excluded_keys.add((st.gene, tuple(st.therapies())))
        ledger.suppressed.append(
            {
                "statement_id": st.id,
                "variant_id": vid,
                "reason": f"indication excludes the patient's tumour type ({', '.join(st.disease_exclude)} in lineage {'>'.join(ledger.lineage)})",
            }
        )
        return
    if st.biomarker.type == "wildtype" and disease not in ("same", "ancestor"):
        return
    decision = tier(st, match_type, disease)
    if decision is None:
        ledger.suppressed.append(
            {
                "statement_id": st.id,
                "variant_id": vid,
                "reason": (
                    f"{st.effect} evidence is reported only for the patient's tumour type (statement: {disease})"
                    if st.effect in ("prognostic", "diagnostic")
                    else "similar alteration (codon/functional match) with evidence only in another tumour type"
                ),
            }
        )
        return
    ledger.pending.append((st, alt, match_type, reason, (decision, disease)))


def _best_matches(
    matcher: Matcher, b: Biomarker, index: dict[str, list[Alteration]], extend: bool
) -> list[tuple]:
    """Every alteration matching ``b`` at its strongest match type (one entry for wildtype / all_of):
    two variants that both match a statement exactly both become findings."""
    if b.type in ("wildtype", "all_of"):
        found = _best_match(matcher, b, index, extend)
        return [found] if found else []
    pool = index.get(CHARACTERISTICS_KEY if b.type == "characteristic" else (b.gene or ""), ())
    hits = []
    for alt in pool:
        found = matcher.match(b, alt, extend)
        if found:
            hits.append((found[0], alt, found[1]))
    if not hits:
        return []
    best = min(MATCH_RANK[h[0]] for h in hits)
    return [h for h in hits if MATCH_RANK[h[0]] == best]


CHARACTERISTICS_KEY = "#characteristic"


def _index_alterations(alterations: list[Alteration]) -> dict[str, list[Alteration]]:
    """Alterations by gene (both partners for fusions; characteristics under one key)."""
    index: dict[str, list[Alteration]] = {}
    for alt in alterations:
        if alt.kind == "characteristic":
            keys = {CHARACTERISTICS_KEY}
        else:
            keys = {alt.gene, alt.gene5, alt.gene3} - {""}
        for key in keys:
            index.setdefault(key, []).append(alt)
    return index


def _best_match(matcher: Matcher, b: Biomarker, index: dict[str, list[Alteration]], extend: bool):
    """Strongest ``(match_type, alteration, reason)`` for one biomarker over the indexed alterations."""
    if b.type == "wildtype":
        for absent in b.absent:
            if _best_match(matcher, absent, index, extend=False) is not None:
                return None
        listed = "; ".join(f"{a.gene} {a.display()}" for a in b.absent)
        return (
            "wildtype",
            None,
            f"none of [{listed}] among the PASS calls (assessability of these loci checked below)",
        )
    if b.type == "all_of":
        parts = []
        for comp in b.components:
            found = _best_match(matcher, comp, index, extend)
            if found is None:
                return None
            parts.append(found)
        weakest = max(parts, key=lambda p: MATCH_RANK[p[0]])
        first_alt = next((p[1] for p in parts if p[1] is not None), None)
        return weakest[0], first_alt, " AND ".join(p[2] for p in parts)
    pool = index.get(CHARACTERISTICS_KEY if b.type == "characteristic" else (b.gene or ""), ())
    best = None
    for alt in pool:
        found = matcher.match(b, alt, extend)
        if found and (best is None or MATCH_RANK[found[0]] < MATCH_RANK[best[0]]):
            best = (found[0], alt, found[1])
    return best


def _finding(
    st: Statement,
    alt: Alteration | None,
    match_type,
    reason,
    decision,
    disease,
    tumor_type,
    lineage,
    oncogenicity,
) -> dict:
    if alt is None:
        gene = "/".join(sorted(st.biomarker.genes())) or ""
        alteration = st.biomarker.display()
        category, variant_id = "biomarker", None
    else:
        gene = alt.gene if alt.kind != "characteristic" else (st.gene or "")
        alteration, category, variant_id = alt.label, alt.category, alt.variant_id
    therapies = st.therapies()
    finding_id = f"{gene or 'biomarker'}:{alteration}:{st.id}".replace(" ", "_")
    trace = [
        f"statement {st.id} (source {st.source} {st.source_version})".strip(),
        f"match {match_type}: {reason}",
        f"disease {disease}: statement {','.join(st.disease_codes)}"
        + (f" excluding {','.join(st.disease_exclude)}" if st.disease_exclude else "")
        + f"; patient {tumor_type} (lineage {'>'.join(lineage)})",
        f"tier rule: {decision.rule}",
        "on-label: "
        + ", ".join(
            f"{agency} {'yes' if decision.on_label[agency] else 'no'}"
            + (
                ""
                if decision.on_label[agency]
                else f" ({_label_reason(st, agency, disease, decision.similar)})"
            )
            for agency in ("EMA", "FDA")
        ),
    ]
    trace.extend(decision.notes)
    regulatory = {
        agency: {"approved": a.approved, "date": a.date, "reference": a.reference}
        for agency, a in sorted(st.regulatory.items())
    }
    return {
        "finding_id": finding_id,
        "gene": gene,
        "alteration": alteration,
        "category": category,
        "variant_id": variant_id,
        "match_type": match_type,
        "effect": st.effect,
        "therapies": therapies,
        "escat": decision.escat,
        "amp_tier": decision.amp_tier,
        "amp_level": decision.amp_level,
        "on_label": decision.on_label,
        "disease_match": disease,
        "similar_alteration": decision.similar,
        "oncogenicity": oncogenicity[0],
        "oncogenicity_reason": oncogenicity[1],
        "evidence": {
            "source": st.source,
            "source_version": st.source_version,
            "statement_id": st.id,
            "native_level": st.native_level,
            "statement_escat": st.escat,
            "references": st.references(),
        },
        "indication": {
            "codes": list(st.disease_codes),
            "exclude": list(st.disease_exclude),
            "context": st.disease_context,
            "biomarker": st.biomarker.display(),
        },
        "regulatory": regulatory,
        "notes": st.notes,
        "trace": trace,
    }


def _label_reason(st: Statement, agency: str, disease: str, similar: bool) -> str:
    if st.effect != "sensitivity":
        return f"{st.effect} statement"
    if similar:
        return "similar alteration, not the labelled one"
    if not st.approved(agency):
        approval = st.regulatory.get(agency)
        return (
            "not approved by this agency for this indication"
            if approval and approval.approved is False
            else "no approval recorded"
        )
    return "approved for another tumour type"


def _resistance_overrides(findings: list[dict], suppressed: list[dict]) -> list[dict]:
    """Drop weak sensitivity findings contradicted by resistance evidence for the same alteration.

    A sensitivity finding that is only a similar-alteration match (III-B) or evidence from another
    tumour type (III-A) is not reported when the same alteration has a resistance finding in the
    patient's tumour type (same / ancestor / pan-cancer) for one of its drugs -- e.g. EGFR T790M is
    resistant to afatinib, so the functional similarity of T790M to afatinib-sensitive uncommon EGFR
    mutations must not suggest afatinib. Direct contradictions of equal standing are kept (both are
    reported; the snapshot manifest lists them as conflicts).
    """
    resistant: dict[str, dict[str, str]] = {}
    for f in findings:
        if f["effect"] == "resistance" and f["disease_match"] in ("same", "ancestor", "pan_cancer"):
            key = f["variant_id"] or f["gene"]
            for therapy in f["therapies"]:
                for drug in therapy.split(" + "):
                    resistant.setdefault(key, {})[drug] = f["evidence"]["statement_id"]
    sensitive: dict[str, set[str]] = {}
    for f in findings:
        if (
            f["effect"] == "sensitivity"
            and f["disease_match"] in ("same", "ancestor")
            and not f["similar_alteration"]
        ):
            key = f["variant_id"] or f["gene"]
            for therapy in f["therapies"]:
                sensitive.setdefault(key, set()).update(therapy.split(" + "))
    out = []
    for f in findings:
        key = f["variant_id"] or f["gene"]
        if f["effect"] == "resistance" and f["disease_match"] == "other":
            # resistance seen in another tumour type (often tissue-specific, e.g. EGFR feedback in colorectal
            # cancer) does not override sensitivity evidence in the patient's own tumour type
            overlap = sorted({d for t in f["therapies"] for d in t.split(" + ")} & sensitive.get(key, set()))
            if overlap:
                suppressed.append(
                    {
                        "statement_id": f["evidence"]["statement_id"],
                        "variant_id": f["variant_id"],
                        "reason": f"resistance reported in another tumour type; sensitivity to {', '.join(overlap)} is established in the patient's tumour type",
                    }
                )
                continue
        weak = f["similar_alteration"] or f["disease_match"] == "other"
        drugs = {d for therapy in f["therapies"] for d in therapy.split(" + ")}
        hits = resistant.get(key, {})
        # any resisted drug undermines a weak (similar-alteration or other-tumour) inference for a regimen
        if f["effect"] == "sensitivity" and weak and drugs & hits.keys():
            suppressed.append(
                {
                    "statement_id": f["evidence"]["statement_id"],
                    "variant_id": f["variant_id"],
                    "reason": f"resistance evidence for this alteration in the patient's tumour type ({hits[sorted(drugs & hits.keys())[0]]}) "
                    f"outweighs {'similar-alteration' if f['similar_alteration'] else 'other-tumour'} sensitivity",
                }
            )
            continue
        out.append(f)
    return out


def _co_occurring_resistance(findings: list[dict]) -> None:
    """Flag (in place) sensitivity findings whose drugs another alteration of the sample resists.

    EGFR L858R with EGFR T790M: L858R keeps its I-A gefitinib / erlotinib / afatinib findings (it is
    a sensitising mutation) but each gets ``resistance_conflicts`` naming the co-occurring T790M
    resistance finding(s) in the patient's tumour type and a trace line, so the report can show that
    the regimen is not expected to work in this tumour. Resistance from another tumour type is not
    used (tissue-specific). Nothing is dropped.
    """
    resisting = [
        f
        for f in findings
        if f["effect"] == "resistance" and f["disease_match"] in ("same", "ancestor", "pan_cancer")
    ]
    if not resisting:
        return
    for f in findings:
        if f["effect"] != "sensitivity":
            continue
        key = (f["variant_id"] or f["gene"], f["alteration"])
        drugs = {d for therapy in f["therapies"] for d in therapy.split(" + ")}
        conflicts = []
        for r in resisting:
            if (r["variant_id"] or r["gene"], r["alteration"]) == key:
                continue
            shared = sorted(drugs & {d for therapy in r["therapies"] for d in therapy.split(" + ")})
            if shared:
                conflicts.append(
                    {
                        "statement_id": r["evidence"]["statement_id"],
                        "gene": r["gene"],
                        "alteration": r["alteration"],
                        "variant_id": r["variant_id"],
                        "drugs": shared,
                        "escat": r["escat"],
                    }
                )
        if conflicts:
            f["resistance_conflicts"] = conflicts
            f["trace"] = list(f["trace"]) + [
                f"co-occurring {c['gene']} {c['alteration']} confers resistance to {', '.join(c['drugs'])} "
                f"({c['statement_id']}, ESCAT {c['escat']}): the regimen is not expected to work in this tumour"
                for c in conflicts
            ]


def _dedupe(findings: list[dict], suppressed: list[dict]) -> list[dict]:
    """One finding per alteration, therapy and effect.

    Within such a group the findings with the best ESCAT (and, among those, the best disease match)
    are **merged** into one finding -- e.g. metastatic and adjuvant osimertinib for EGFR L858R, or two
    sources for the same pair: the strongest statement stays the finding's ``evidence``, the others
    are listed in ``merged_statements`` (id, indication context, references) and their references are
    added to ``evidence.references``; ``on_label`` is true for an agency when any merged statement is
    on-label. Weaker findings of the group are recorded in ``suppressed`` with the reason.
    """
    from .oncotree import DISEASE_MATCH_RANK

    groups: dict[tuple, list[dict]] = {}
    for f in findings:
        key = (f["variant_id"] or f["gene"], f["alteration"], tuple(f["therapies"]), f["effect"])
        groups.setdefault(key, []).append(f)
    out = []
    for group in groups.values():
        best = min((ESCAT_RANK[f["escat"]], DISEASE_MATCH_RANK[f["disease_match"]]) for f in group)
        winner = min(
            (f for f in group if (ESCAT_RANK[f["escat"]], DISEASE_MATCH_RANK[f["disease_match"]]) == best),
            key=lambda f: (
                MATCH_RANK[f["match_type"]],
                not any(f["on_label"].values()),
                # the advanced / metastatic indication represents the pair before an adjuvant one
                "adjuvant" in str((f.get("indication") or {}).get("context") or "").lower(),
                f["evidence"]["statement_id"],
            ),
        )
        merged = []
        for f in group:
            if f is winner:
                continue
            rank = (ESCAT_RANK[f["escat"]], DISEASE_MATCH_RANK[f["disease_match"]])
            if rank == best:
                merged.append(f)
            else:
                suppressed.append(
                    {
                        "statement_id": f["evidence"]["statement_id"],
                        "variant_id": f["variant_id"],
                        "reason": f"same therapy and effect already reported at ESCAT {winner['escat']} from {winner['evidence']['statement_id']}",
                    }
                )
        if merged:
            winner = _merge_into(winner, sorted(merged, key=lambda f: f["evidence"]["statement_id"]))
        out.append(winner)
    return out


def _merge_into(winner: dict, others: list[dict]) -> dict:
    """``winner`` with the equally strong findings ``others`` folded in (references kept)."""
    merged = dict(winner)
    references = list(winner["evidence"]["references"])
    entries = []
    on_label = dict(winner["on_label"])
    for f in others:
        for ref in f["evidence"]["references"]:
            if ref not in references:
                references.append(ref)
        for agency, flag in f["on_label"].items():
            on_label[agency] = bool(on_label.get(agency) or flag)
        entries.append(
            {
                "statement_id": f["evidence"]["statement_id"],
                "source": f["evidence"]["source"],
                "context": (f.get("indication") or {}).get("context"),
                "on_label": f["on_label"],
                "references": f["evidence"]["references"],
            }
        )
    merged["evidence"] = {**winner["evidence"], "references": references}
    merged["on_label"] = on_label
    merged["merged_statements"] = entries
    merged["trace"] = list(winner["trace"]) + [
        f"merged: {e['statement_id']} ({e['context'] or 'no indication context'}) -- same alteration, therapy, "
        f"effect and tier"
        for e in entries
    ]
    return merged


NOT_ALTERING = "not protein-altering, no knowledge-base match"


def _unmatched(alterations, matched_alts, kb_genes, oncogenicity_of) -> tuple[list[dict], dict[str, int]]:
    """Unmatched entries for alterations in knowledge-base genes (and CNAs / fusions)."""
    out = []
    summary: dict[str, int] = {}
    for alt in alterations:
        if id(alt) in matched_alts or alt.kind == "characteristic":
            continue
        if alt.kind == "variant" and not alt.consequences & PROTEIN_ALTERING:
            summary[NOT_ALTERING] = summary.get(NOT_ALTERING, 0) + 1
            continue
        if alt.gene in kb_genes or alt.gene5 in kb_genes:
            reason = (
                f"{alt.gene} has knowledge-base statements but none matches this alteration "
                "(gene-only match, not tiered; variant of unknown significance)"
            )
        else:
            reason = f"no knowledge-base statement for {alt.gene} (variant of unknown significance)"
        level, why = oncogenicity_of(alt)
        if level != onc.UNKNOWN:
            reason = reason.replace(
                "variant of unknown significance", f"not tiered; {level.replace('_', ' ')}"
            )
        out.append(
            {
                "variant_id": alt.variant_id,
                "gene": alt.gene,
                "alteration": alt.label,
                "category": alt.category,
                "reason": reason,
                "oncogenicity": level,
                "oncogenicity_reason": why,
            }
        )
    return out, summary


def compare_matches(old: dict, new: dict) -> dict:
    """Changes between a previous and the current ``matches.json`` of one patient (re-matching)."""
    a = {f["finding_id"]: f for f in old.get("findings", [])}
    b = {f["finding_id"]: f for f in new.get("findings", [])}
    retiered = []
    for fid in sorted(a.keys() & b.keys()):
        fa, fb = a[fid], b[fid]
        changed = {
            k: {"old": fa.get(k), "new": fb.get(k)}
            for k in ("escat", "amp_tier", "amp_level", "on_label", "match_type", "disease_match")
            if fa.get(k) != fb.get(k)
        }
        if changed:
            retiered.append({"finding_id": fid, "changes": changed})
    return {
        "previous_kb": old.get("kb"),
        "new": sorted(b.keys() - a.keys()),
        "removed": sorted(a.keys() - b.keys()),
        "retiered": retiered,
    }


@lru_cache(maxsize=1)
def _matches_validator():
    import json

    import jsonschema

    ref = resources.files("ccevariants") / "schemas" / "matches.schema.json"
    with ref.open("r", encoding="utf-8") as handle:
        return jsonschema.Draft202012Validator(json.load(handle))


def validate_matches(document: dict) -> None:
    """Raise :class:`SchemaError` when ``document`` does not follow ``matches.schema.json``."""
    from .errors import SchemaError

    errors = sorted(_matches_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(document)"
        raise SchemaError(
            f"expected a document valid against matches.schema.json; found at {where}: {err.message}"
        )
