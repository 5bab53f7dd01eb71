"""Clinical reference tables used by the report: tier ordering, pertinent negatives per tumour
lineage, and the genes whose tumour-only variants may be germline.

Sources (see ``docs/report.md`` for the full list):

* ESCAT: Mateo et al., Ann Oncol 2018;29:1895-1902.
* Genes whose testing is standard per tumour type: ESMO recommendations for the use of next-generation
  sequencing in advanced cancer, Mosele et al., Ann Oncol 2020;31:1491-1505 and the 2024 update,
  Mosele et al., Ann Oncol 2024;35:588-606 (ESCAT level I alterations per tumour type), plus ESMO
  clinical practice guidelines for melanoma (BRAF V600, NRAS, KIT) and GIST (KIT, PDGFRA).
* Germline follow-up of tumour-only findings: ESMO Precision Medicine Working Group, Kuzbari et al.,
  Ann Oncol 2023;34:215-227; cancer-predisposition genes of ACMG SF v3.2, Miller et al., Genet Med
  2023;25:100866. VAF rule (0.4-0.6 or >= 0.9 in tumour-only testing) as in CLINICAL.md section 4.

Coordinates: none in this module (protein positions are 1-based residue numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ESCAT levels, strongest first (Mateo 2018). Anything else sorts last.
ESCAT_ORDER = ("I-A", "I-B", "I-C", "II-A", "II-B", "III-A", "III-B", "IV-A", "IV-B", "V", "X")
#: ESCAT levels that make a finding "key" (front page): tiers I-III.
KEY_ESCAT = frozenset(ESCAT_ORDER[:7])
AMP_ORDER = ("I", "II", "III", "IV")


def escat_rank(level: str | None) -> int:
    try:
        return ESCAT_ORDER.index(level or "")
    except ValueError:
        return len(ESCAT_ORDER)


def amp_rank(tier: str | None) -> int:
    try:
        return AMP_ORDER.index(tier or "")
    except ValueError:
        return len(AMP_ORDER)


#: SO terms that change the protein or splicing (a variant with one of them and no tiered evidence is
#: a variant of unknown significance, AMP tier III; Li et al. 2017).
PROTEIN_ALTERING = frozenset(
    {
        "transcript_ablation",
        "splice_acceptor_variant",
        "splice_donor_variant",
        "stop_gained",
        "frameshift_variant",
        "stop_lost",
        "start_lost",
        "transcript_amplification",
        "inframe_insertion",
        "inframe_deletion",
        "missense_variant",
        "protein_altering_variant",
        "splice_region_variant",
        "splice_donor_5th_base_variant",
        "splice_donor_region_variant",
        "splice_polypyrimidine_tract_variant",
        "incomplete_terminal_codon_variant",
        "coding_sequence_variant",
    }
)


def is_protein_altering(consequence: str) -> bool:
    return any(term in PROTEIN_ALTERING for term in (consequence or "").split("&"))


# --------------------------------------------------------------------------------------------------
# Potential germline findings (tumour-only testing)

#: Cancer-predisposition genes: the CLINICAL.md list (BRCA1, BRCA2, PALB2, MLH1, MSH2, MSH6, PMS2, RET,
#: TP53, ATM, CHEK2), the cancer genes of ACMG SF v3.2 (Miller 2023), and further established
#: predisposition genes (RAD51C, RAD51D, BRIP1, BAP1, CDH1, EPCAM, POLD1, POLE).
GERMLINE_GENES = frozenset(
    {
        "APC", "ATM", "BAP1", "BMPR1A", "BRCA1", "BRCA2", "BRIP1", "CDH1", "CHEK2", "EPCAM", "MAX", "MEN1",
        "MLH1", "MSH2", "MSH6", "MUTYH", "NF2", "PALB2", "PMS2", "POLD1", "POLE", "PTEN", "RAD51C",
        "RAD51D", "RB1", "RET", "SDHAF2", "SDHB", "SDHC", "SDHD", "SMAD4", "STK11", "TMEM127", "TP53", "TSC1",
        "TSC2", "VHL", "WT1",
    }
)  # fmt: skip
#: Heterozygous window and homozygous / LOH threshold for the tumour VAF.
GERMLINE_VAF_HET = (0.4, 0.6)
GERMLINE_VAF_HOM = 0.9


def germline_suspect(gene: str, vaf: float | None, consequence: str) -> str | None:
    """Reason string when a tumour-only variant may be germline, else None.

    The rule: protein-altering variant in a predisposition gene with tumour VAF in [0.4, 0.6]
    (heterozygous) or >= 0.9 (homozygous or loss of the other allele).
    """
    if gene not in GERMLINE_GENES or vaf is None or not is_protein_altering(consequence):
        return None
    lo, hi = GERMLINE_VAF_HET
    if lo <= vaf <= hi:
        return f"VAF {vaf:.2f} within {lo:.1f}-{hi:.1f} (heterozygous range) in predisposition gene {gene}"
    if vaf >= GERMLINE_VAF_HOM:
        return (
            f"VAF {vaf:.2f} >= {GERMLINE_VAF_HOM:.1f} (homozygous or LOH range) in predisposition gene {gene}"
        )
    return None


# --------------------------------------------------------------------------------------------------
# Pertinent negatives


@dataclass(frozen=True)
class Negative:
    """One biomarker that is standard to test in a tumour type.

    ``kind``: ``variant`` (optionally restricted to protein ``codons`` (1-based residues), an exact
    one-letter ``alteration``, ``exons`` / ``introns`` numbers on the reporting transcript), ``amp``
    (gene amplification), ``fusion`` (gene in either partner), ``msi``, ``tmb``.
    """

    label: str
    kind: str
    gene: str = ""
    codons: tuple[int, ...] = ()
    alteration: str = ""
    exons: tuple[int, ...] = ()
    introns: tuple[int, ...] = ()
    source: str = "ESMO NGS recommendations (Mosele et al., Ann Oncol 2024;35:588)"


def _v(label, gene, **kw):
    return Negative(label=label, kind="variant", gene=gene, **kw)


_NTRK = (
    Negative("NTRK1 fusion", "fusion", "NTRK1"),
    Negative("NTRK2 fusion", "fusion", "NTRK2"),
    Negative("NTRK3 fusion", "fusion", "NTRK3"),
)
_MSI = Negative("MSI-high", "msi")
_TMB = Negative("TMB-high (>= 10 mut/Mb)", "tmb", source="FDA tumour-agnostic approval (pembrolizumab, 2020)")

#: OncoTree code -> standard biomarkers. The deepest code of the patient's lineage found here wins.
PERTINENT_NEGATIVES: dict[str, tuple[Negative, ...]] = {
    "NSCLC": (
        _v("EGFR mutation (exon 18-21)", "EGFR", exons=(18, 19, 20, 21)),
        Negative("ALK fusion", "fusion", "ALK"),
        Negative("ROS1 fusion", "fusion", "ROS1"),
        _v("BRAF V600", "BRAF", codons=(600,)),
        _v("KRAS G12C", "KRAS", alteration="G12C"),
        _v("MET exon 14 skipping", "MET", exons=(14,), introns=(13, 14)),
        Negative("RET fusion", "fusion", "RET"),
        *_NTRK,
        _v("ERBB2 mutation", "ERBB2"),
    ),
    "COADREAD": (
        _v("KRAS mutation (exon 2-4)", "KRAS", codons=(12, 13, 59, 61, 117, 146)),
        _v("NRAS mutation (exon 2-4)", "NRAS", codons=(12, 13, 59, 61, 117, 146)),
        _v("BRAF V600E", "BRAF", alteration="V600E"),
        _MSI,
        Negative("ERBB2 amplification", "amp", "ERBB2"),
        *_NTRK,
    ),
    "BRCA": (
        _v("PIK3CA mutation", "PIK3CA"),
        Negative(
            "ERBB2 amplification",
            "amp",
            "ERBB2",
            source="ESMO breast cancer guideline; HER2 status by IHC/ISH",
        ),
        _v("ESR1 mutation", "ESR1"),
        _v("BRCA1 mutation", "BRCA1"),
        _v("BRCA2 mutation", "BRCA2"),
        _v("AKT1 E17K", "AKT1", alteration="E17K"),
        *_NTRK,
        _MSI,
    ),
    "MEL": (
        _v(
            "BRAF V600",
            "BRAF",
            codons=(600,),
            source="ESMO cutaneous melanoma guideline (Michielin et al., Ann Oncol 2019;30:1884)",
        ),
        _v("NRAS mutation", "NRAS", codons=(12, 13, 61), source="ESMO cutaneous melanoma guideline"),
        _v("KIT mutation", "KIT", source="ESMO cutaneous melanoma guideline"),
    ),
    "GIST": (
        _v("KIT mutation", "KIT", source="ESMO GIST guideline (Casali et al., Ann Oncol 2022;33:20)"),
        _v("PDGFRA mutation", "PDGFRA", source="ESMO GIST guideline"),
        *_NTRK,
    ),
    "PAAD": (
        _v("KRAS mutation", "KRAS"),
        _v("BRCA1 mutation", "BRCA1"),
        _v("BRCA2 mutation", "BRCA2"),
        _MSI,
        *_NTRK,
    ),
    "PRAD": (
        _v("BRCA1 mutation", "BRCA1"),
        _v("BRCA2 mutation", "BRCA2"),
        _v("ATM mutation", "ATM"),
        _MSI,
    ),
    "OVT": (
        _v("BRCA1 mutation", "BRCA1"),
        _v("BRCA2 mutation", "BRCA2"),
    ),
    "CHOL": (
        _v("IDH1 mutation", "IDH1", codons=(132,)),
        Negative("FGFR2 fusion", "fusion", "FGFR2"),
        _v("BRAF V600E", "BRAF", alteration="V600E"),
        Negative("ERBB2 amplification", "amp", "ERBB2"),
        _MSI,
        *_NTRK,
    ),
    "THYROID": (
        _v("BRAF V600E", "BRAF", alteration="V600E"),
        Negative("RET fusion", "fusion", "RET"),
        _v("RET mutation", "RET"),
        *_NTRK,
    ),
    "BLCA": (
        _v("FGFR3 mutation", "FGFR3"),
        Negative("FGFR3 fusion", "fusion", "FGFR3"),
    ),
    "EGC": (
        Negative("ERBB2 amplification", "amp", "ERBB2"),
        _MSI,
        *_NTRK,
    ),
    "UCEC": (
        _MSI,
        _v("POLE exonuclease-domain mutation", "POLE"),
    ),
}

#: Tumour-agnostic biomarkers listed for every solid tumour without a lineage-specific table.
PAN_TUMOUR: tuple[Negative, ...] = (_MSI, _TMB, *_NTRK, Negative("RET fusion", "fusion", "RET"))


def negatives_for(lineage: list[str]) -> tuple[str | None, tuple[Negative, ...]]:
    """Return (matched OncoTree code, biomarkers) for a lineage given root -> leaf."""
    for code in reversed([c for c in lineage if c]):
        if code in PERTINENT_NEGATIVES:
            table = PERTINENT_NEGATIVES[code]
            extra = tuple(n for n in PAN_TUMOUR if n.label not in {t.label for t in table})
            return code, table + extra
    return None, PAN_TUMOUR
