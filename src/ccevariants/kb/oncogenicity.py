"""Per-alteration oncogenicity for matches.json (``oncogenicity``, ``oncogenicity_reason``).

Rule (first applicable wins; documented in docs/knowledge-base.md "Oncogenicity"):

1. ``oncogenic`` -- the alteration is a knowledge-base biomarker in its own right: an exact protein /
   genomic match, a codon match to a codon statement or an exon-class match (EGFR exon 19 deletion,
   MET exon 14 skipping), or a CNA / fusion matching a statement (whatever the statement's tumour type
   or effect: EGFR T790M and BRAF V600E in colorectal cancer are oncogenic even where not treatable).
2. ``likely_oncogenic`` -- a missense / in-frame change at a recurrent hotspot codon
   (``data/kb/hotspots.yaml``, Chang et al. 2016/2018); a truncating variant (stop gained, frameshift,
   splice donor / acceptor) in a gene with a tumour-suppressor role (``data/kb/gene_roles.yaml``:
   ``tsg`` or ``both``); a deletion of such a gene; an amplification of an oncogene.
3. ``unknown`` -- everything else (variants of unknown significance).
4. ``not_applicable`` -- tumour characteristics (TMB, MSI, HRD) and wild-type findings.

This is a triage rule, not a curation: it never says "benign" (no population data offline) and a
truncating variant near the 3' end of a tumour suppressor may escape nonsense-mediated decay.
Residues are 1-based protein positions.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

ONCOGENIC = "oncogenic"
LIKELY = "likely_oncogenic"
UNKNOWN = "unknown"
NOT_APPLICABLE = "not_applicable"
LEVELS = (ONCOGENIC, LIKELY, UNKNOWN, NOT_APPLICABLE)

TRUNCATING = ("stop_gained", "frameshift_variant", "splice_donor_variant", "splice_acceptor_variant")
MISSENSE_LIKE = ("missense_variant", "inframe_insertion", "inframe_deletion", "protein_altering_variant")
KNOWN_MATCH_TYPES = frozenset({"exact", "codon", "exon", "cna", "fusion"})


@lru_cache(maxsize=1)
def _roles_document() -> dict:
    ref = resources.files("ccevariants") / "data" / "kb" / "gene_roles.yaml"
    with ref.open("r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=1)
def gene_roles() -> dict[str, str]:
    """Gene symbol → ``oncogene`` / ``tsg`` / ``both`` (``data/kb/gene_roles.yaml``)."""
    return {str(g).upper(): str(r) for g, r in _roles_document()["roles"].items()}


_MERGED: dict[int, tuple[dict, dict[str, frozenset[int]]]] = {}


def oncogenicity_hotspots(hotspots: dict[str, frozenset[int]]) -> dict[str, frozenset[int]]:
    """``hotspots`` (hotspots.yaml) plus the oncogenicity-only hotspot codons of gene_roles.yaml
    (cached per ``hotspots`` object)."""
    cached = _MERGED.get(id(hotspots))
    if cached is not None and cached[0] is hotspots:
        return cached[1]
    merged = dict(hotspots)
    for gene, codons in (_roles_document().get("oncogenicity_hotspots") or {}).items():
        key = str(gene).upper()
        merged[key] = merged.get(key, frozenset()) | frozenset(int(c) for c in codons)
    _MERGED.clear()
    _MERGED[id(hotspots)] = (hotspots, merged)
    return merged


def is_suppressor(gene: str) -> bool:
    return gene_roles().get(gene) in ("tsg", "both")


def classify(alt, hotspots: dict[str, frozenset[int]], known_reason: str | None) -> tuple[str, str]:
    """``(level, reason)`` for one :class:`ccevariants.match.Alteration`.

    ``known_reason``: why the alteration is a knowledge-base biomarker (rule 1), or None.
    """
    if alt.kind == "characteristic":
        return NOT_APPLICABLE, "tumour characteristic, not a gene alteration"
    if known_reason:
        return ONCOGENIC, known_reason
    role = gene_roles().get(alt.gene)
    if alt.kind == "cna":
        if alt.label == "deletion" and role in ("tsg", "both"):
            return LIKELY, f"deletion of a tumour suppressor ({alt.gene}: {role})"
        if alt.label == "amplification" and role in ("oncogene", "both"):
            return LIKELY, f"amplification of an oncogene ({alt.gene}: {role})"
        return UNKNOWN, f"{alt.label} of {alt.gene} (role {role or 'not recorded'})"
    if alt.kind == "fusion":
        return UNKNOWN, "fusion not described by a knowledge-base statement"
    hot = oncogenicity_hotspots(hotspots)
    if alt.is_missense_like() and alt.residue > 0 and alt.residue in hot.get(alt.gene, ()):
        return LIKELY, f"{alt.gene} codon {alt.residue} is a recurrent missense hotspot (Chang et al. 2016)"
    if alt.is_truncating():
        if role in ("tsg", "both"):
            return LIKELY, f"truncating variant in a tumour suppressor ({alt.gene}: {role})"
        return (
            UNKNOWN,
            f"truncating variant in a gene without a tumour-suppressor role ({role or 'not recorded'})",
        )
    return UNKNOWN, "no hotspot, truncation or knowledge-base match"


def classify_columns(
    rows: pd.DataFrame, hotspots: dict[str, frozenset[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised rule 2/3 for pick rows of genes without statements: ``(levels, reasons)`` arrays.

    ``rows`` has ``gene``, ``consequence`` and ``protein_position`` (1-based) or, failing that,
    ``hgvsp_short`` (``p.R175H``) columns.
    """
    n = len(rows)
    levels = np.full(n, UNKNOWN, dtype=object)
    reasons = np.full(n, "no hotspot, truncation or knowledge-base match", dtype=object)
    if n == 0:
        return levels, reasons
    genes = rows["gene"].fillna("").astype(str).str.upper()
    consequence = rows["consequence"].fillna("").astype(str)
    if "protein_position" in rows.columns:  # contract §3 column (1-based, -1 = none)
        residue = (
            pd.to_numeric(rows["protein_position"], errors="coerce").fillna(-1).astype(np.int64).to_numpy()
        )
    else:
        residue = (
            rows["hgvsp_short"].fillna("").astype(str).str.extract(r"^(?:p\.)?[A-Z*](\d+)", expand=False)
        )
        residue = pd.to_numeric(residue, errors="coerce").fillna(-1).astype(np.int64).to_numpy()
    missense = consequence.str.contains("|".join(MISSENSE_LIKE), regex=True).to_numpy()
    truncating = consequence.str.contains("|".join(TRUNCATING), regex=True).to_numpy()
    roles = genes.map(gene_roles()).fillna("").to_numpy()
    gene_arr = genes.to_numpy()
    hot = np.zeros(n, dtype=bool)
    for gene, codons in oncogenicity_hotspots(hotspots).items():
        sel = gene_arr == gene
        if sel.any():
            hot[sel] = np.isin(residue[sel], list(codons))
    hot &= missense
    suppressor = np.isin(roles, ["tsg", "both"]) & truncating & ~hot
    levels[hot] = LIKELY
    levels[suppressor] = LIKELY
    for i in np.flatnonzero(hot).tolist():
        reasons[i] = f"{gene_arr[i]} codon {residue[i]} is a recurrent missense hotspot (Chang et al. 2016)"
    for i in np.flatnonzero(suppressor).tolist():
        reasons[i] = f"truncating variant in a tumour suppressor ({gene_arr[i]}: {roles[i]})"
    return levels, reasons
