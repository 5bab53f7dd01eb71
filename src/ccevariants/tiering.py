"""ESCAT / AMP-ASCO-CAP tiering of a knowledge-base match (CLINICAL.md §2 cross-walk).

Inputs are one statement, the match type of the patient's alteration against it and the disease
match (``same``/``ancestor``/``pan_cancer``/``other``). Rules, first applicable wins:

``similar``  -- the match is weaker than the statement's own alteration class (a codon or
                functional match to a variant-specific statement): ESCAT III-B (Mateo et al. 2018:
                functionally similar alteration), never on-label; not reported in another tumour type.
``same``/``ancestor`` -- the statement's ESCAT applies unchanged.
``pan_cancer`` -- tier I evidence from basket / tumour-agnostic trials: I-C; weaker keeps its level.
``other``    -- tier I/II evidence in another tumour type: III-A; weaker evidence keeps its level.

Prognostic and diagnostic statements are not therapeutic: ESCAT X, AMP tier from the statement's
level, and only reported for the patient's tumour type (or pan-cancer).

AMP/ASCO/CAP (Li et al. 2017) follows the final ESCAT: I-A/I-B → I with level A when on-label for
either agency or the statement's AMP level in this tumour type is A, else B; I-C → I-A when approved
tumour-agnostically, else I-B; II-A/II-B → I-B; III-A → II-C; III-B → II-C for a codon match, II-D
otherwise; IV → II-D; V → II-D; X → III-D.

A statement without ESCAT gets one derived from its AMP level (A → I-A, B → II-A, C → III-A,
D → IV-A) and the trace says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from .kb.model import ESCAT_RANK, NATIVE_RANK, Statement

MATCH_RANK = {
    "exact": 1,
    "codon": 2,
    "exon": 3,
    "functional": 4,
    "cna": 5,
    "fusion": 5,
    "characteristic": 6,
    "wildtype": 7,
}
_FROM_AMP = {"A": "I-A", "B": "II-A", "C": "III-A", "D": "IV-A"}


@dataclass(frozen=True)
class TierDecision:
    escat: str
    amp_tier: str
    amp_level: str
    on_label: dict[str, bool]
    rule: str
    similar: bool
    notes: tuple[str, ...] = ()


def is_similar(statement: Statement, match_type: str) -> bool:
    """True when ``match_type`` is weaker than the alteration class the statement itself names."""
    native = NATIVE_RANK.get(statement.biomarker.type)
    return native is not None and MATCH_RANK.get(match_type, 0) > native


def base_escat(statement: Statement) -> tuple[str, str | None]:
    if statement.escat:
        return statement.escat, None
    if statement.amp_level:
        derived = _FROM_AMP[statement.amp_level]
        return derived, f"ESCAT {derived} derived from the source's AMP level {statement.amp_level}"
    return "X", "no ESCAT or AMP level in the statement: ESCAT X"


def _tier_i_or_ii(level: str) -> bool:
    return level.startswith("I-") or level.startswith("II-")


def _worse(a: str, b: str) -> str:
    return a if ESCAT_RANK[a] >= ESCAT_RANK[b] else b


def tier(statement: Statement, match_type: str, disease_match: str) -> TierDecision | None:
    """Tier one match; None when the rules say it is not reported (similar alteration in another tumour type)."""
    similar = is_similar(statement, match_type)
    if statement.effect in ("prognostic", "diagnostic"):
        return _tier_non_therapeutic(statement, disease_match, similar)
    base, note = base_escat(statement)
    notes = (note,) if note else ()
    if similar:
        if disease_match == "other":
            return None
        escat = _worse(base, "III-B")
        rule = (
            f"similar alteration: {match_type} match to a {statement.biomarker.type}-specific statement "
            f"(statement ESCAT {base}) → ESCAT III-B"
        )
    elif disease_match in ("same", "ancestor"):
        escat = base
        rule = f"same tumour type ({disease_match}): the statement's ESCAT {base} applies"
    elif disease_match == "pan_cancer":
        if base.startswith("I-"):
            escat = "I-C"
            rule = f"pan-cancer / tumour-agnostic evidence (statement ESCAT {base}) → ESCAT I-C"
        else:
            escat = base
            rule = f"pan-cancer evidence below tier I (statement ESCAT {base}) keeps its level"
    elif disease_match == "other":
        if _tier_i_or_ii(base):
            escat = "III-A"
            rule = f"evidence of tier {base} strength in another tumour type → ESCAT III-A"
        else:
            escat = base
            rule = f"evidence of tier {base} in another tumour type keeps its level"
    else:
        return None
    on_label = {
        agency: bool(
            statement.effect == "sensitivity"
            and not similar
            and disease_match in ("same", "ancestor", "pan_cancer")
            and statement.approved(agency)
        )
        for agency in ("EMA", "FDA")
    }
    amp_tier, amp_level = amp_from_escat(escat, statement, match_type, disease_match, on_label)
    return TierDecision(escat, amp_tier, amp_level, on_label, rule, similar, notes)


def _tier_non_therapeutic(statement: Statement, disease_match: str, similar: bool) -> TierDecision | None:
    """Prognostic / diagnostic evidence: reported only for the patient's tumour type (or pan-cancer)
    and exact-class matches. ESCAT grades therapeutic actionability, so it is X here; the AMP tier
    follows the statement's level (A/B → tier I, C/D → tier II; Li et al. 2017)."""
    if similar or disease_match not in ("same", "ancestor", "pan_cancer"):
        return None
    level = statement.amp_level or "D"
    tier_ = "I" if level in ("A", "B") and disease_match != "pan_cancer" else "II"
    rule = (
        f"{statement.effect} evidence in the patient's tumour type ({disease_match}): ESCAT not applicable (X); "
        f"AMP tier {tier_} from level {level}"
    )
    return TierDecision("X", tier_, level, {"EMA": False, "FDA": False}, rule, False)


def amp_from_escat(
    escat: str, statement: Statement, match_type: str, disease_match: str, on_label: dict[str, bool]
) -> tuple[str, str]:
    labelled = any(on_label.values())
    if escat in ("I-A", "I-B"):
        if labelled or (disease_match in ("same", "ancestor") and statement.amp_level == "A"):
            return "I", "A"
        return "I", "B"
    if escat == "I-C":
        return ("I", "A") if labelled else ("I", "B")
    if escat in ("II-A", "II-B"):
        return "I", "B"
    if escat == "III-A":
        return "II", "C"
    if escat == "III-B":
        return ("II", "C") if match_type == "codon" else ("II", "D")
    if escat in ("IV-A", "IV-B", "V"):
        return "II", "D"
    return "III", "D"
