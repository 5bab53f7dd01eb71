"""Caller detection, tumour/normal column identification and caller-aware read support.

Every somatic caller stores read support differently. This module turns each caller's FORMAT/INFO
fields into one harmonised set per sample role (tumour, normal):

* ``dp``      total depth (Integer, -1 = missing)
* ``ad_ref``  reads supporting the reference allele (Integer, -1 = missing)
* ``ad_alt``  reads supporting the alternate allele (Integer, -1 = missing)
* ``af``      variant allele fraction (Float, NaN = missing)

The rule per caller (formulas in ``docs/normalisation.md``) reads *biallelic* records, i.e. after
``bcftools norm -m -any`` has split multi-allelic sites: allele index 0 is REF, 1 is ALT.

Combination applied to every rule:

1. depth = max(caller depth, ``ad_ref + ad_alt``) (either side may be missing; REF+ALT guards
   against callers whose DP is below their own allele counts).
2. VAF = ``ad_alt / (ad_ref + ad_alt)`` — one read-count definition for every caller (Strelka2's
   documented formula; PCGR's TVAF). For a record split from a multi-allelic site (bcftools
   ``--old-rec-tag CCEV_ORIG`` lists several ALTs) VAF = ``ad_alt / depth`` instead, because
   REF+ALT would leave out the reads of the other ALT alleles. The caller's own fraction (Mutect2
   ``AF``, VarScan ``FREQ``, tag-map ``af``) is used only when the counts give no VAF.

Two implementations of the rules:

* the pipeline's columnar path (:class:`Columns` + :data:`COLUMNAR_RULES`, combined by
  :func:`support_from_columns`): the needed values are read per block of norm's VCF text as
  ``bcftools query`` would print them (:func:`ccevariants.normtext.query_frame`; or by
  :func:`query_tables`, ``bcftools query`` itself) and each rule is NumPy arithmetic over all
  records and samples;
* the per-record twin (:class:`Extractor`, cyvcf2 ``Variant.format()`` arrays per record), used by
  the tests as an independent oracle on every real caller VCF.

Positions in this module are VCF 1-based (cyvcf2 ``Variant.POS``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, InputError

log = logging.getLogger(__name__)

#: Callers with a built-in read-support rule (``--caller`` accepts these names).
KNOWN_CALLERS = (
    "mutect2",
    "mutect",
    "strelka2",
    "varscan2",
    "somaticsniper",
    "muse",
    "radia",
    "pindel",
    "freebayes",
    "vardict",
    "dragen",
    "delly",
    "merged",
    "generic",
    "maf",
)

_ALIASES = {
    "mutect1": "mutect",
    "strelka": "strelka2",
    "varscan": "varscan2",
    "sniper": "somaticsniper",
    "bam-somaticsniper": "somaticsniper",
    "pindel2vcf": "pindel",
    "vardictjava": "vardict",
    "unknown": "generic",
}

# cyvcf2 integer sentinels: bcf_int32_missing and bcf_int32_vector_end
_INT_MISSING = -2147483648
_INT_VECEND = -2147483647


def canonical_caller(name: str) -> str:
    """Map a user-supplied caller name to the canonical one; ConfigError when unknown."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in KNOWN_CALLERS:
        raise ConfigError(
            f"expected a caller name in {', '.join(KNOWN_CALLERS)} (or a --tag-map); found {name!r}"
        )
    return key


# --------------------------------------------------------------------------------------------
# Caller detection from the header
# --------------------------------------------------------------------------------------------

_SOURCE_PATTERNS: tuple[tuple[str, str], ...] = (
    # (regex on a '##' header line, caller); first match wins, so the specific ones go first
    (
        r"(?i)^##source=.*(sniper|varscan|strelka|samtools|mutect|muse).*(sniper|varscan|strelka|samtools|mutect|muse)",
        "merged",
    ),
    (r"^##GATKCommandLine.*Mutect2|^##source=Mutect2|^##GATKCommandLine=<ID=Mutect2", "mutect2"),
    (r"^##DRAGENCommandLine|^##source=DRAGEN", "dragen"),
    (r"^##MuSE_version|^##source=MuSE", "muse"),
    (r"^##source=\"?RADIA|algorithm=<RADIA>", "radia"),
    (r"^##source=strelka|^##content=strelka", "strelka2"),
    (r"^##source=VarScan", "varscan2"),
    (r"InputVCFSource=<?bam-somaticsniper|^##source=.*[Ss]omatic[Ss]niper", "somaticsniper"),
    (r"InputVCFSource=\"?pindel|^##source=[Pp]indel", "pindel"),
    (r"^##source=freeBayes|^##source=freebayes", "freebayes"),
    (r"^##source=VarDict", "vardict"),
    (r"SVMETHOD=EMBL\.DELLY|^##source=[Dd]elly", "delly"),
    (r"^##source=ccevariants-maf", "maf"),
)


def detect_caller(header_lines: Sequence[str]) -> str:
    """Name the caller that wrote a VCF from its ``##`` header lines.

    Looks at ``##source=``, ``##GATKCommandLine``, ``##MuSE_version``, ``##vcfProcessLog``
    (TCGA), then at the FORMAT definitions (e.g. ``AU/CU/GU/TU`` = Strelka, ``RD`` + ``FREQ`` =
    VarScan2, ``DP4`` + ``BCOUNT`` = SomaticSniper, ``RO``/``AO`` = FreeBayes, ``VD`` = VarDict,
    ``FA`` with ``AD`` = MuTect 1). Returns ``"generic"`` when nothing is recognisable.
    """
    lines = [ln.rstrip("\n") for ln in header_lines if ln.startswith("##")]
    for pattern, caller in _SOURCE_PATTERNS:
        rx = re.compile(pattern)
        if any(rx.search(ln) for ln in lines):
            return caller
    fmt = {m.group(1) for ln in lines if (m := re.match(r"^##FORMAT=<ID=([^,>]+)", ln))}
    info = {m.group(1) for ln in lines if (m := re.match(r"^##INFO=<ID=([^,>]+)", ln))}
    if {"AU", "CU", "GU", "TU"} <= fmt or {"TAR", "TIR"} <= fmt:
        return "strelka2"
    if {"RD", "FREQ"} <= fmt:
        return "varscan2"
    if {"DP4", "BCOUNT"} <= fmt:
        return "somaticsniper"
    if {"RO", "AO"} <= fmt:
        return "freebayes"
    if "VD" in fmt:
        return "vardict"
    if "FA" in fmt and "AD" in fmt:
        return "mutect"
    if {"DR", "DV"} <= fmt and "SVTYPE" in info:
        return "delly"
    return "generic"


# --------------------------------------------------------------------------------------------
# Tumour / normal column identification
# --------------------------------------------------------------------------------------------

_TCGA = re.compile(r"TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}-(\d{2})[A-Z]?", re.IGNORECASE)


def classify_sample_name(name: str) -> str | None:
    """``"tumor"``, ``"normal"`` or None from a sample column name alone.

    Rules (first that decides wins):
    * exact/whole-token TUMOR, TUMOUR, NORMAL (case-insensitive; ``DNA_TUMOR`` counts, ``RNA_*``
      does not — RNA columns are never the DNA tumour);
    * TCGA barcodes: sample-type code 01–09 = tumour, 10–19 = normal
      (https://gdc.cancer.gov/resources-tcga-users/tcga-code-tables/sample-type-codes);
      a name holding both a tumour and a normal barcode decides nothing;
    * suffixes ``_T``/``-T``/``.T``/``_tumor`` and ``_N``/``-N``/``.N``/``_normal``.
    """
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", name.upper()) if t]
    if "RNA" in tokens:
        return None
    kinds = set()
    for code in _TCGA.findall(name):
        c = int(code)
        if 1 <= c <= 9:
            kinds.add("tumor")
        elif 10 <= c <= 19:
            kinds.add("normal")
    if len(kinds) == 1:
        return kinds.pop()
    if kinds:
        return None
    tset = set(tokens)
    is_t = bool(tset & {"TUMOR", "TUMOUR"})
    is_n = "NORMAL" in tset or "GERMLINE" in tset
    if is_t != is_n:
        return "tumor" if is_t else "normal"
    if is_t and is_n:
        return None
    m = re.search(r"[_.\-](T|N|TUMOR|TUMOUR|NORMAL)$", name, re.IGNORECASE)
    if m:
        return "normal" if m.group(1).upper() in ("N", "NORMAL") else "tumor"
    return None


def _header_sample(header_lines: Sequence[str], key: str) -> str | None:
    for ln in header_lines:
        if ln.startswith(f"##{key}="):
            return ln.split("=", 1)[1].strip().strip('"')
    return None


@dataclass
class SampleRoles:
    """Which VCF sample column holds the tumour and which the normal (names; normal may be None)."""

    tumor: str | None
    normal: str | None
    method: str


def identify_samples(
    samples: Sequence[str],
    header_lines: Sequence[str],
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
    path: str | None = None,
) -> SampleRoles:
    """Identify tumour and normal columns; never by column position alone.

    Order: explicit arguments; ``##tumor_sample=`` / ``##normal_sample=`` header lines (GATK);
    sample names (:func:`classify_sample_name`); a single-sample VCF is tumour-only unless its
    name says it is a normal. Two or more columns that cannot be told apart raise InputError.
    """
    samples = list(samples)
    hint = "set the sample sheet's tumor_sample (and normal_sample) column, or --tumor-sample"
    if not samples:
        raise InputError(f"expected at least one sample column after FORMAT; found none ({hint})", path=path)
    for given, role in ((tumor_sample, "tumour"), (normal_sample, "normal")):
        if given is not None and given not in samples:
            raise InputError(
                f"expected {role} sample {given!r} among the VCF samples; found {samples}", path=path
            )
    if tumor_sample is not None and normal_sample is not None and tumor_sample == normal_sample:
        raise InputError(
            f"expected different tumour and normal samples; found {tumor_sample!r} for both", path=path
        )

    t = tumor_sample
    n = normal_sample
    method = "argument" if t is not None else ""
    if t is None:
        ht = _header_sample(header_lines, "tumor_sample")
        if ht is not None and ht in samples:
            t = ht
            method = "header"
            if n is None:
                hn = _header_sample(header_lines, "normal_sample")
                if hn is not None and hn in samples and hn != t:
                    n = hn
    if t is None:
        kinds = {s: classify_sample_name(s) for s in samples if s != n}
        tumours = [s for s, k in kinds.items() if k == "tumor"]
        if len(tumours) == 1:
            t = tumours[0]
            method = "name"
        elif len(samples) == 1:
            if kinds.get(samples[0]) == "normal":
                raise InputError(
                    f"expected a tumour sample; found only {samples[0]!r}, which is named like a normal ({hint})",
                    path=path,
                )
            t = samples[0]
            method = "single-sample"
        else:
            found = ", ".join(f"{s} ({kinds.get(s) or 'unrecognised'})" for s in samples)
            raise InputError(
                f"expected one identifiable tumour column among {len(samples)} samples; found {found} ({hint})",
                path=path,
            )
    if n is None and normal_sample is None and len(samples) > 1:
        rest = [s for s in samples if s != t]
        normals = [s for s in rest if classify_sample_name(s) == "normal"]
        if len(normals) == 1:
            n = normals[0]
        elif len(rest) == 1 and classify_sample_name(rest[0]) is None and method in ("header", "argument"):
            # the tumour is pinned by name; the one remaining DNA column is the matched normal
            n = rest[0]
        elif len(normals) > 1:
            raise InputError(
                f"expected at most one normal column; found {normals} ({hint.replace('tumor', 'normal')})",
                path=path,
            )
    return SampleRoles(tumor=t, normal=n, method=method)


# --------------------------------------------------------------------------------------------
# Field getters: each returns a float64 array with one value per sample (NaN = missing)
# --------------------------------------------------------------------------------------------


def _clean_numeric(arr) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind in "iu":
        out = a.astype(np.float64)
        out[(a == _INT_MISSING) | (a == _INT_VECEND)] = np.nan
        return out
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    # strings: "112,32" / "." / "48.7%"
    return _parse_string_matrix(a)


def _parse_number(tok: str) -> float:
    tok = tok.strip()
    if tok in ("", "."):
        return np.nan
    scale = 1.0
    if tok.endswith("%"):
        tok = tok[:-1]
        scale = 0.01
    try:
        return float(tok) * scale
    except ValueError:
        return np.nan


def _parse_string_matrix(a: np.ndarray) -> np.ndarray:
    flat = [str(x) for x in a.reshape(a.shape[0], -1)[:, 0]] if a.ndim else [str(a)]
    rows = [[_parse_number(t) for t in s.split(",")] for s in flat]
    width = max((len(r) for r in rows), default=1)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class Fields:
    """Per-variant access to FORMAT/INFO values as float matrices, honouring the header."""

    def __init__(self, format_tags: Iterable[str], info_tags: Iterable[str], n_samples: int):
        self.format_tags = set(format_tags)
        self.info_tags = set(info_tags)
        self.n = n_samples

    def fmt(self, v, tag: str) -> np.ndarray | None:
        """(n_samples, k) float matrix of FORMAT/tag, or None if absent from header/record."""
        if tag not in self.format_tags:
            return None
        raw = v.format(tag)
        if raw is None:
            return None
        m = _clean_numeric(raw)
        if m.ndim == 1:
            m = m.reshape(-1, 1)
        return m

    def info(self, v, tag: str) -> float:
        if tag not in self.info_tags:
            return np.nan
        val = v.INFO.get(tag)
        if val is None:
            return np.nan
        if isinstance(val, tuple | list):
            val = val[0] if val else None
            if val is None:
                return np.nan
        if isinstance(val, str):
            return _parse_number(val.split(",")[0])
        if isinstance(val, bool):
            return np.nan
        return float(val)


def _col(m: np.ndarray | None, i: int, n: int) -> np.ndarray:
    if m is None or m.shape[1] <= i:
        return np.full(n, np.nan)
    return m[:, i]


# --------------------------------------------------------------------------------------------
# Read-support rules
# --------------------------------------------------------------------------------------------


@dataclass
class Support:
    """Raw per-sample values of one record: float arrays of length n_samples (NaN = missing)."""

    ref: np.ndarray
    alt: np.ndarray
    dp: np.ndarray
    af: np.ndarray


def _missing(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _ad_pair(fx: Fields, v, tag: str = "AD") -> tuple[np.ndarray, np.ndarray] | None:
    """REF and ALT counts from a per-allele (Number=R) tag; None unless it has exactly 2 values."""
    m = fx.fmt(v, tag)
    if m is None or m.shape[1] != 2:
        return None
    return m[:, 0], m[:, 1]


def _rule_ad(af_tag: str | None = None) -> Callable[[Fields, object], Support]:
    def rule(fx: Fields, v) -> Support:
        n = fx.n
        pair = _ad_pair(fx, v)
        ref, alt = pair if pair is not None else (_missing(n), _missing(n))
        dp = _col(fx.fmt(v, "DP"), 0, n)
        af = _col(fx.fmt(v, af_tag), 0, n) if af_tag else _missing(n)
        return Support(ref, alt, dp, af)

    return rule


def _strelka(fx: Fields, v) -> Support:
    n = fx.n
    tar = fx.fmt(v, "TAR")
    tir = fx.fmt(v, "TIR")
    if tar is not None and tir is not None:  # indel: tier-1 = first value
        ref = tar[:, 0]
        alt = tir[:, 0]
        return Support(ref, alt, ref + alt, _missing(n))
    r, a = v.REF.upper(), (v.ALT[0].upper() if v.ALT else "")
    counts = {b: fx.fmt(v, b + "U") for b in "ACGT"}
    if (
        len(r) != 1
        or len(a) != 1
        or r not in counts
        or a not in counts
        or any(c is None for c in counts.values())
    ):
        return Support(_missing(n), _missing(n), _missing(n), _missing(n))
    ref = counts[r][:, 0]
    alt = counts[a][:, 0]
    dp = sum(c[:, 0] for c in counts.values())
    return Support(ref, alt, dp, _missing(n))


def _varscan(fx: Fields, v) -> Support:
    n = fx.n
    ref = _col(fx.fmt(v, "RD"), 0, n)
    alt = _col(fx.fmt(v, "AD"), 0, n)  # VarScan2 AD is the ALT count only (Number=1)
    dp = _col(fx.fmt(v, "DP"), 0, n)
    af = _col(fx.fmt(v, "FREQ"), 0, n)  # "12.5%" parsed as 0.125
    return Support(ref, alt, dp, af)


def _dp4(fx: Fields, v) -> tuple[np.ndarray, np.ndarray] | None:
    m = fx.fmt(v, "DP4")
    if m is None or m.shape[1] != 4:
        return None
    return m[:, 0] + m[:, 1], m[:, 2] + m[:, 3]


def _sniper(fx: Fields, v) -> Support:
    """DP4 sums; for an SNV split from a multi-allelic site, BCOUNT (A,C,G,T) per allele instead
    (DP4's ALT half counts all ALT alleles together)."""
    n = fx.n
    pair = _dp4(fx, v)
    ref, alt = pair if pair is not None else (_missing(n), _missing(n))
    bc = fx.fmt(v, "BCOUNT")
    r, a = v.REF.upper(), (v.ALT[0].upper() if v.ALT else "")
    if (
        _split_from_multi(v.INFO.get(ORIG_TAG))
        and bc is not None
        and bc.shape[1] == 4
        and r in _BASE
        and a in _BASE
    ):
        ref, alt = bc[:, _BASE[r]], bc[:, _BASE[a]]
    return Support(ref, alt, _col(fx.fmt(v, "DP"), 0, n), _missing(n))


_BASE = {"A": 0, "C": 1, "G": 2, "T": 3}


def _freebayes(fx: Fields, v) -> Support:
    n = fx.n
    return Support(
        _col(fx.fmt(v, "RO"), 0, n), _col(fx.fmt(v, "AO"), 0, n), _col(fx.fmt(v, "DP"), 0, n), _missing(n)
    )


def _vardict(fx: Fields, v) -> Support:
    n = fx.n
    pair = _ad_pair(fx, v)
    if pair is not None:
        ref, alt = pair
    else:
        rd = fx.fmt(v, "RD")  # ref forward, ref reverse
        ref = rd.sum(axis=1) if rd is not None else _missing(n)
        alt = _col(fx.fmt(v, "VD"), 0, n)
    return Support(ref, alt, _col(fx.fmt(v, "DP"), 0, n), _col(fx.fmt(v, "AF"), 0, n))


def _delly(fx: Fields, v) -> Support:
    n = fx.n
    precise = bool(v.INFO.get("PRECISE")) if "PRECISE" in fx.info_tags else False
    if precise:  # junction (split) reads for precise calls
        ref, alt = _col(fx.fmt(v, "RR"), 0, n), _col(fx.fmt(v, "RV"), 0, n)
    else:  # discordant read pairs for imprecise calls
        ref, alt = _col(fx.fmt(v, "DR"), 0, n), _col(fx.fmt(v, "DV"), 0, n)
    return Support(ref, alt, _missing(n), _missing(n))


def _generic(fx: Fields, v) -> Support:
    """Per-record fallback for merged or unknown files: the first complete source wins.

    Order: AD with exactly REF,ALT values; Strelka indel TAR/TIR; Strelka SNV tier counts;
    SomaticSniper/samtools DP4; FreeBayes RO/AO; VarScan RD + alt-only AD. Depth is FORMAT/DP
    when present; VAF from FORMAT/AF or FORMAT/FA when present, else computed from the counts.
    """
    n = fx.n
    dp = _col(fx.fmt(v, "DP"), 0, n)
    af = _col(fx.fmt(v, "AF"), 0, n)
    if np.isnan(af).all():
        af = _col(fx.fmt(v, "FA"), 0, n)
    pair = _ad_pair(fx, v)
    if pair is not None and not np.isnan(pair[0]).all():
        return Support(pair[0], pair[1], dp, af)
    s = _strelka(fx, v)
    if not np.isnan(s.ref).all():
        return Support(s.ref, s.alt, s.dp, af)
    pair = _dp4(fx, v)
    if pair is not None and not np.isnan(pair[0]).all():
        return Support(pair[0], pair[1], dp, af)
    ro, ao = fx.fmt(v, "RO"), fx.fmt(v, "AO")
    if ro is not None and ao is not None:
        return Support(ro[:, 0], ao[:, 0], dp, af)
    rd, ad = fx.fmt(v, "RD"), fx.fmt(v, "AD")
    if rd is not None and ad is not None and ad.shape[1] == 1:
        return Support(rd[:, 0], ad[:, 0], dp, af)
    return Support(_missing(n), _missing(n), dp, af)


_RULES: dict[str, Callable[[Fields, object], Support]] = {
    "mutect2": _rule_ad("AF"),
    "mutect": _rule_ad("FA"),
    "strelka2": _strelka,
    "varscan2": _varscan,
    "somaticsniper": _sniper,
    "muse": _rule_ad(None),
    "radia": _rule_ad(None),  # RADIA's FORMAT/AF lists every allele incl. REF: use the counts
    "pindel": _rule_ad(None),
    "freebayes": _freebayes,
    "vardict": _vardict,
    "dragen": _rule_ad("AF"),
    "delly": _delly,
    "merged": _generic,
    "generic": _generic,
    "maf": _rule_ad(None),  # VCF written by ccevariants.maf: AD = t_ref_count,t_alt_count; DP = t_depth
}

#: Callers whose FORMAT/AD is REF,ALT... per allele even when the header says Number=.
AD_PER_ALLELE = frozenset({"mutect2", "mutect", "muse", "radia", "pindel", "dragen"})


# --------------------------------------------------------------------------------------------
# Tag maps (custom / pipeline-specific tags)
# --------------------------------------------------------------------------------------------

_ROLE_KEYS = ("depth", "ad", "ref", "alt", "af")


@dataclass
class TagMap:
    """A user-declared read-support mapping (YAML or dict).

    Example (PCGR-style input; documented in docs/normalisation.md)::

        name: pcgr
        tumor:
          depth: FORMAT/DPT
          ad: FORMAT/ADT        # "ref,alt" (Integer or String)
        normal:
          depth: FORMAT/DPC
          ad: FORMAT/ADC
          same_column: true     # normal values live in the tumour sample's column

    Per role the keys are ``depth``, ``ad`` (REF,ALT list), ``ref``, ``alt`` (single counts) and
    ``af`` (fraction; strings ending in ``%`` are divided by 100); each value is ``FORMAT/TAG`` or
    ``INFO/TAG`` (INFO values are per record and belong to the tumour). Missing depth and VAF fall
    back to REF+ALT and ALT/(REF+ALT).
    """

    name: str = "custom"
    tumor: dict[str, tuple[str, str]] = field(default_factory=dict)
    normal: dict[str, tuple[str, str]] = field(default_factory=dict)
    normal_same_column: bool = False

    @classmethod
    def from_obj(cls, obj, path: str | None = None) -> TagMap:
        if isinstance(obj, TagMap):
            return obj
        if isinstance(obj, str | Path):
            path = str(obj)
            obj = _load_yaml(path)
        if not isinstance(obj, dict):
            raise ConfigError(
                f"expected a mapping with 'tumor' (and optional 'normal'); found {type(obj).__name__}",
                path=path,
            )
        unknown = set(obj) - {"name", "tumor", "normal"}
        if unknown:
            raise ConfigError(f"expected keys name, tumor, normal; found {sorted(unknown)}", path=path)
        if "tumor" not in obj or not isinstance(obj["tumor"], dict):
            raise ConfigError(
                "expected a 'tumor' mapping of depth/ad/ref/alt/af to FORMAT/TAG or INFO/TAG; found none",
                path=path,
            )
        tm = cls(name=str(obj.get("name", "custom")))
        for role in ("tumor", "normal"):
            spec = obj.get(role) or {}
            if not isinstance(spec, dict):
                raise ConfigError(
                    f"expected '{role}' to be a mapping; found {type(spec).__name__}", path=path
                )
            parsed: dict[str, tuple[str, str]] = {}
            for key, value in spec.items():
                if key == "same_column" and role == "normal":
                    tm.normal_same_column = bool(value)
                    continue
                if key not in _ROLE_KEYS:
                    raise ConfigError(
                        f"expected {role} keys in {', '.join(_ROLE_KEYS)}; found {key!r}", path=path
                    )
                m = re.fullmatch(r"(FORMAT|INFO)/([A-Za-z0-9_.]+)", str(value))
                if not m:
                    raise ConfigError(
                        f"expected {role}.{key} as FORMAT/TAG or INFO/TAG; found {value!r}", path=path
                    )
                parsed[key] = (m.group(1), m.group(2))
            if role == "tumor":
                tm.tumor = parsed
            else:
                tm.normal = parsed
        if not tm.tumor:
            raise ConfigError("expected at least one tumor field; found an empty 'tumor' mapping", path=path)
        return tm

    def check_header(self, format_tags: set[str], info_tags: set[str], path: str | None = None) -> None:
        for role, spec in (("tumor", self.tumor), ("normal", self.normal)):
            for key, (kind, tag) in spec.items():
                present = format_tags if kind == "FORMAT" else info_tags
                if tag not in present:
                    raise InputError(
                        f"expected {kind}/{tag} (tag map {role}.{key}) defined in the VCF header; found no such {kind} tag",
                        path=path,
                    )

    def uses_only_info(self) -> bool:
        return all(kind == "INFO" for kind, _ in self.tumor.values())

    def support(self, fx: Fields, v, role: str) -> Support:
        spec = self.tumor if role == "tumor" else self.normal
        n = fx.n

        def get(key: str, index: int = 0) -> np.ndarray:
            if key not in spec:
                return _missing(n)
            kind, tag = spec[key]
            if kind == "INFO":
                return np.full(n, fx.info(v, tag))
            return _col(fx.fmt(v, tag), index, n)

        if "ad" in spec:
            kind, tag = spec["ad"]
            m = fx.fmt(v, tag) if kind == "FORMAT" else None
            ref, alt = (
                (_col(m, 0, n), _col(m, 1, n))
                if m is not None and m.shape[1] >= 2
                else (_missing(n), _missing(n))
            )
        else:
            ref, alt = _missing(n), _missing(n)
        if "ref" in spec:
            ref = get("ref")
        if "alt" in spec:
            alt = get("alt")
        return Support(ref, alt, get("depth"), get("af"))


def _load_yaml(path: str):
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError("expected an existing tag-map YAML file; found none", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"expected valid YAML; found {getattr(exc, 'problem', exc)}",
            path=path,
            line=None if mark is None else mark.line + 1,
        ) from None


# --------------------------------------------------------------------------------------------
# Batched extraction
# --------------------------------------------------------------------------------------------


#: INFO tag bcftools norm --old-rec-tag writes on modified records: CHROM|POS|REF|ALT[,ALT..]|IDX
ORIG_TAG = "CCEV_ORIG"


def _split_from_multi(orig) -> bool:
    """True when a ``CCEV_ORIG`` value shows the record was split from a multi-allelic site."""
    if not orig or not isinstance(orig, str):
        return False
    parts = orig.split("|")
    return len(parts) >= 4 and "," in parts[3]


@dataclass
class RoleArrays:
    """Harmonised read support of one role for a batch (1-D arrays, one entry per variant)."""

    dp: np.ndarray  # int64, -1 missing
    ad_ref: np.ndarray  # int64, -1 missing
    ad_alt: np.ndarray  # int64, -1 missing
    af: np.ndarray  # float64, NaN missing


def finalise(
    ref: np.ndarray, alt: np.ndarray, dp: np.ndarray, af: np.ndarray, multi: np.ndarray | None = None
) -> RoleArrays:
    """Combine vectorised and convert counts to int64 with -1 for missing.

    depth = max(dp, ref+alt) (NaN-aware). VAF = alt/(ref+alt); for records split from a
    multi-allelic site (``multi`` True) alt/depth, because REF+ALT then misses the other ALT
    alleles' reads. The caller's ``af`` only when the counts give no VAF (NaN when neither).
    Negative or non-finite counts are treated as missing.
    """
    ref = np.where(ref >= 0, ref, np.nan)
    alt = np.where(alt >= 0, alt, np.nan)
    dp = np.where(dp >= 0, dp, np.nan)
    # depth: the caller's, but never below REF+ALT (fmax ignores NaN, so a missing side falls back)
    total = ref + alt
    dp = np.fmax(dp, total)
    # VAF denominator: REF+ALT; at a split multi-allelic site the site depth (other ALT reads too)
    denom = total if multi is None else np.where(multi, dp, total)
    with np.errstate(invalid="ignore", divide="ignore"):
        computed = np.where(denom > 0, alt / denom, np.nan)
    # read-count VAF first (one definition across callers); the caller's own fraction only when
    # the counts are unknown (Mutect2 AF is a model estimate, VarScan FREQ is rounded)
    af = np.where(np.isnan(computed), af, computed)

    def to_int(x: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, -1, dtype=np.int64)
        ok = np.isfinite(x)
        out[ok] = np.rint(x[ok]).astype(np.int64)
        return out

    return RoleArrays(to_int(dp), to_int(ref), to_int(alt), af.astype(np.float64))


class Extractor:
    """Caller-aware extraction for one VCF (header known); call :meth:`batch` per list of variants."""

    def __init__(
        self,
        caller: str,
        format_tags: Iterable[str],
        info_tags: Iterable[str],
        samples: Sequence[str],
        tumor: str | None,
        normal: str | None,
        tag_map: TagMap | None = None,
    ):
        self.caller = caller
        self.samples = list(samples)
        self.fields = Fields(format_tags, info_tags, len(self.samples))
        self.t_idx = self.samples.index(tumor) if tumor is not None else None
        self.n_idx = self.samples.index(normal) if normal is not None else None
        self.tag_map = tag_map
        if tag_map is not None and tag_map.normal and tag_map.normal_same_column:
            self.n_idx = self.t_idx
        self.rule = None if tag_map is not None else _RULES[caller]

    @property
    def has_normal(self) -> bool:
        if self.tag_map is not None:
            return bool(self.tag_map.normal) and (self.n_idx is not None)
        return self.n_idx is not None

    def batch(self, variants: Sequence) -> tuple[RoleArrays, RoleArrays | None]:
        """Harmonised tumour (and normal) support for a batch of biallelic cyvcf2 variants."""
        b = len(variants)
        raw = {role: np.full((4, b), np.nan) for role in ("tumor", "normal")}
        n_samples = max(1, len(self.samples))
        for i, v in enumerate(variants):
            if self.tag_map is not None:
                for role, idx in (("tumor", self.t_idx), ("normal", self.n_idx)):
                    if role == "normal" and not self.has_normal:
                        continue
                    s = self.tag_map.support(self.fields, v, role)
                    j = 0 if idx is None else idx
                    raw[role][:, i] = (s.ref[j], s.alt[j], s.dp[j], s.af[j]) if len(s.ref) else np.nan
            else:
                if self.t_idx is None:
                    continue
                s = self.rule(self.fields, v)
                if len(s.ref) != n_samples:
                    continue
                raw["tumor"][:, i] = (
                    s.ref[self.t_idx],
                    s.alt[self.t_idx],
                    s.dp[self.t_idx],
                    s.af[self.t_idx],
                )
                if self.n_idx is not None:
                    raw["normal"][:, i] = (
                        s.ref[self.n_idx],
                        s.alt[self.n_idx],
                        s.dp[self.n_idx],
                        s.af[self.n_idx],
                    )
        multi = np.array([_split_from_multi(v.INFO.get(ORIG_TAG)) for v in variants], dtype=bool)
        tumour = finalise(*raw["tumor"], multi=multi)
        normal = finalise(*raw["normal"], multi=multi) if self.has_normal else None
        return tumour, normal


# --------------------------------------------------------------------------------------------
# Columnar extraction (the pipeline's hot path)
#
# ``bcftools query`` (C, through pysam) prints the few FORMAT/INFO values a rule needs, one row
# per record; pandas parses the table and the rule's formula runs as NumPy array arithmetic over
# all records and samples at once. The per-record :class:`Extractor` above is the plain-Python
# twin of these rules; tests check both agree on every real caller VCF.
# --------------------------------------------------------------------------------------------

#: Columns printed before the per-sample blocks: %CHROM %POS %REF %ALT %FILTER %END
BASE_COLUMNS = ("chrom", "pos", "ref", "alt", "filter", "end")

_STRELKA_SNV = ("AU{0}", "CU{0}", "GU{0}", "TU{0}")
_GENERIC_FMT = (
    "AD",
    "AD{0}",
    "AD{1}",
    "DP",
    "AF{0}",
    "FA{0}",
    "TAR{0}",
    "TIR{0}",
    *_STRELKA_SNV,
    "DP4{0}",
    "DP4{1}",
    "DP4{2}",
    "DP4{3}",
    "RO",
    "AO{0}",
    "RD",
)

#: FORMAT expressions (bcftools query syntax, ``{i}`` = 0-based value index) per caller.
RULE_FORMAT: dict[str, tuple[str, ...]] = {
    "mutect2": ("AD{0}", "AD{1}", "DP", "AF{0}"),
    "mutect": ("AD{0}", "AD{1}", "DP", "FA{0}"),
    "dragen": ("AD{0}", "AD{1}", "DP", "AF{0}"),
    "muse": ("AD{0}", "AD{1}", "DP"),
    "radia": ("AD{0}", "AD{1}", "DP"),
    "pindel": ("AD{0}", "AD{1}", "DP"),
    "strelka2": ("TAR{0}", "TIR{0}", *_STRELKA_SNV),
    "varscan2": ("RD", "AD{0}", "DP", "FREQ"),
    "somaticsniper": (
        "DP4{0}",
        "DP4{1}",
        "DP4{2}",
        "DP4{3}",
        "DP",
        "BCOUNT{0}",
        "BCOUNT{1}",
        "BCOUNT{2}",
        "BCOUNT{3}",
    ),
    "freebayes": ("RO", "AO{0}", "DP"),
    "vardict": ("AD{0}", "AD{1}", "VD", "RD{0}", "RD{1}", "DP", "AF{0}"),
    "delly": ("DR", "DV", "RR", "RV"),
    "merged": _GENERIC_FMT,
    "generic": _GENERIC_FMT,
    "maf": ("AD{0}", "AD{1}", "DP"),
}
RULE_INFO: dict[str, tuple[str, ...]] = {"delly": ("PRECISE",)}

#: Expressions kept as text (parsed by the rule): VarScan's "12.5%" and the raw AD list.
_TEXT_EXPRS = {"FREQ", "AD", "CCEV_ORIG"}


def _tag(expr: str) -> str:
    return expr.split("{", 1)[0]


def _lazy(col) -> bool:
    return getattr(col, "lazy_text", False) is True  # ccevariants.normtext.LazyText


class _Base(dict):
    """Base columns; a lazy text column (:class:`ccevariants.normtext.LazyText`) becomes a full
    array when read with ``[]``; :meth:`raw` returns it as it is (index it for a few rows)."""

    def __getitem__(self, name):
        col = super().__getitem__(name)
        if _lazy(col):
            col = np.asarray(col)
            self[name] = col
        return col

    def raw(self, name):
        return super().__getitem__(name)


class Columns:
    """A ``bcftools query`` table: base columns + INFO values + one block per sample.

    ``table[i]`` is column ``i`` (a NumPy array or a pandas Series): numbers as float/int, text
    as ``str`` objects, ``'.'`` = missing (:func:`ccevariants.normtext.query_frame` builds it
    from VCF text; :func:`query_tables` from ``bcftools query`` output)."""

    def __init__(self, table, info_exprs: Sequence[str], fmt_exprs: Sequence[str], n_samples: int):
        def arr(i):
            c = table[i]
            return c.to_numpy() if hasattr(c, "to_numpy") else np.asarray(c)

        self.s = n_samples
        self.base = _Base(
            {name: table[i] if _lazy(table[i]) else arr(i) for i, name in enumerate(BASE_COLUMNS)}
        )
        self.n = len(self.base["pos"])
        self._info = {}
        col = len(BASE_COLUMNS)
        for expr in info_exprs:
            self._info[expr] = arr(col)
            col += 1
        self._fmt: dict[str, list] = {e: [] for e in fmt_exprs}
        for _ in range(n_samples):
            for expr in fmt_exprs:
                self._fmt[expr].append(arr(col))
                col += 1

    def text(self, expr: str) -> np.ndarray:
        """(n_records, n_samples) object array of raw strings ('.' = missing); '.' when not queried."""
        cols = self._fmt.get(expr)
        if cols is None:
            return np.full((self.n, self.s), ".", dtype=object)
        if not cols:
            return np.empty((self.n, 0), object)
        return np.stack([c.astype(str).astype(object) if c.dtype.kind != "O" else c for c in cols], axis=1)

    def fmt(self, expr: str) -> np.ndarray:
        """(n_records, n_samples) float array, NaN where missing, non-numeric or not queried."""
        cols = self._fmt.get(expr)
        if cols is None or not cols:
            return np.full((self.n, self.s), np.nan)
        if len(cols) == 1:
            return self._numeric(cols[0])[:, None]
        return np.stack([self._numeric(c) for c in cols], axis=1)

    @staticmethod
    def _numeric(c) -> np.ndarray:
        if c.dtype.kind in "fiub":
            return c if c.dtype == np.float64 else c.astype(np.float64)
        import pandas as pd

        return pd.to_numeric(pd.Series(c, dtype=object), errors="coerce").to_numpy(np.float64)

    def percent(self, expr: str) -> np.ndarray:
        """Like :meth:`fmt` for values written as "12.5%" (divided by 100) or plain fractions."""
        cols = self._fmt.get(expr)
        if cols is None or not cols:
            return np.full((self.n, self.s), np.nan)
        out = []
        for c in cols:
            if c.dtype.kind in "fiu":
                out.append(c.astype(np.float64))
                continue
            import pandas as pd

            s = pd.Series(c, dtype=object).astype(str)
            pct = s.str.endswith("%").to_numpy(bool)
            v = pd.to_numeric(s.str.rstrip("%"), errors="coerce").to_numpy(np.float64)
            out.append(np.where(pct, v / 100.0, v))
        return np.stack(out, axis=1)

    def info_text(self, expr: str) -> list[str]:
        """Raw INFO strings of ``expr`` ('.' when missing or not queried)."""
        c = self._info.get(expr)
        return ["."] * self.n if c is None else [str(x) for x in c.tolist()]

    def multi(self) -> np.ndarray:
        """Per record: split from a multi-allelic site (from ``INFO/CCEV_ORIG``)."""
        out = np.zeros(self.n, dtype=bool)
        c = self._info.get(ORIG_TAG)
        if c is None:
            return out
        values = np.asarray(c, dtype=object)
        changed = np.flatnonzero(values != ".")  # only records norm changed
        out[changed] = [
            _split_from_multi(x) if isinstance(x, str) else False for x in values[changed].tolist()
        ]
        return out

    def info(self, expr: str) -> np.ndarray:
        """(n_records,) float array of an INFO value (flags: 1.0 set, NaN unset)."""
        c = self._info.get(expr)
        if c is None:
            return np.full(self.n, np.nan)
        return self._numeric(c)


def _nan_like(c: Columns) -> np.ndarray:
    return np.full((c.n, c.s), np.nan)


def _col_ad(af_expr: str | None):
    def rule(c: Columns):
        af = c.fmt(af_expr) if af_expr else _nan_like(c)
        return c.fmt("AD{0}"), c.fmt("AD{1}"), c.fmt("DP"), af

    return rule


def _col_strelka(c: Columns):
    ref_b = np.asarray(c.base["ref"], dtype=str)
    alt_b = np.asarray(c.base["alt"], dtype=str)
    counts = np.stack([c.fmt(e) for e in _STRELKA_SNV], axis=2)  # (n, s, 4) tier-1 A,C,G,T
    code = {"A": 0, "C": 1, "G": 2, "T": 3}
    ri = np.array([code.get(x.upper(), -1) if len(x) == 1 else -1 for x in ref_b], dtype=np.int64)
    ai = np.array([code.get(x.upper(), -1) if len(x) == 1 else -1 for x in alt_b], dtype=np.int64)
    ok = (ri >= 0) & (ai >= 0)
    rows = np.arange(c.n)
    ref = np.where(ok[:, None], counts[rows, :, np.maximum(ri, 0)], np.nan)
    alt = np.where(ok[:, None], counts[rows, :, np.maximum(ai, 0)], np.nan)
    dp = np.where(ok[:, None], counts.sum(axis=2), np.nan)
    tar, tir = c.fmt("TAR{0}"), c.fmt("TIR{0}")
    indel = ~np.isnan(tar).all(axis=1) & ~np.isnan(tir).all(axis=1)
    ref = np.where(indel[:, None], tar, ref)
    alt = np.where(indel[:, None], tir, alt)
    dp = np.where(indel[:, None], tar + tir, dp)
    return ref, alt, dp, _nan_like(c)


def _col_varscan(c: Columns):
    return c.fmt("RD"), c.fmt("AD{0}"), c.fmt("DP"), c.percent("FREQ")


def _col_sniper(c: Columns):
    d = [c.fmt(f"DP4{{{i}}}") for i in range(4)]
    ref, alt = d[0] + d[1], d[2] + d[3]
    # SNVs split from a multi-allelic site: per-allele counts from BCOUNT (A,C,G,T)
    bc = np.stack([c.fmt(f"BCOUNT{{{i}}}") for i in range(4)], axis=2)  # (n, s, 4)
    ri = np.array([_BASE.get(x.upper(), -1) for x in c.base["ref"].astype(str)], dtype=np.int64)
    ai = np.array([_BASE.get(x.upper(), -1) for x in c.base["alt"].astype(str)], dtype=np.int64)
    use = c.multi() & (ri >= 0) & (ai >= 0) & ~np.isnan(bc).all(axis=(1, 2))
    rows = np.arange(c.n)
    ref = np.where(use[:, None], bc[rows, :, np.maximum(ri, 0)], ref)
    alt = np.where(use[:, None], bc[rows, :, np.maximum(ai, 0)], alt)
    return ref, alt, c.fmt("DP"), _nan_like(c)


def _col_freebayes(c: Columns):
    return c.fmt("RO"), c.fmt("AO{0}"), c.fmt("DP"), _nan_like(c)


def _col_vardict(c: Columns):
    ad_ref, ad_alt = c.fmt("AD{0}"), c.fmt("AD{1}")
    have = ~np.isnan(ad_alt)
    ref = np.where(have, ad_ref, c.fmt("RD{0}") + c.fmt("RD{1}"))
    alt = np.where(have, ad_alt, c.fmt("VD"))
    return ref, alt, c.fmt("DP"), c.fmt("AF{0}")


def _col_delly(c: Columns):
    precise = (c.info("PRECISE") == 1.0)[:, None]
    ref = np.where(precise, c.fmt("RR"), c.fmt("DR"))
    alt = np.where(precise, c.fmt("RV"), c.fmt("DV"))
    return ref, alt, _nan_like(c), _nan_like(c)


def _col_generic(c: Columns):
    """Vectorised twin of :func:`_generic` (same per-record order of sources)."""
    dp = c.fmt("DP")
    af = c.fmt("AF{0}")
    fa = c.fmt("FA{0}")
    af = np.where(np.isnan(af).all(axis=1)[:, None], fa, af)
    raw_ad = c.text("AD")
    ad_two = (
        np.vectorize(lambda s: s.count(",") == 1, otypes=[bool])(raw_ad)
        if raw_ad.size
        else raw_ad.astype(bool)
    )
    ad0, ad1 = c.fmt("AD{0}"), c.fmt("AD{1}")
    # AD usable for a record: some sample has exactly two values and a numeric REF count
    use_ad = (ad_two & ~np.isnan(ad0)).any(axis=1) if c.s else np.zeros(c.n, bool)
    s_ref, s_alt, s_dp, _ = _col_strelka(c)
    use_strelka = ~np.isnan(s_ref).all(axis=1) & ~use_ad
    d = [c.fmt(f"DP4{{{i}}}") for i in range(4)]
    p_ref, p_alt = d[0] + d[1], d[2] + d[3]
    use_dp4 = ~np.isnan(p_ref).all(axis=1) & ~use_ad & ~use_strelka
    ro, ao = c.fmt("RO"), c.fmt("AO{0}")
    use_fb = (~np.isnan(ro).all(axis=1) | ~np.isnan(ao).all(axis=1)) & ~use_ad & ~use_strelka & ~use_dp4
    rd = c.fmt("RD")
    one_ad = (
        np.vectorize(lambda s: s != "." and "," not in s, otypes=[bool])(raw_ad)
        if raw_ad.size
        else raw_ad.astype(bool)
    )
    use_vs = (~np.isnan(rd).all(axis=1) & one_ad.any(axis=1)) & ~use_ad & ~use_strelka & ~use_dp4 & ~use_fb
    ref = np.full((c.n, c.s), np.nan)
    alt = np.full((c.n, c.s), np.nan)
    out_dp = dp.copy()
    for mask, r, a in (
        (use_ad, ad0, np.where(ad_two, ad1, np.nan)),
        (use_strelka, s_ref, s_alt),
        (use_dp4, p_ref, p_alt),
        (use_fb, ro, ao),
        (use_vs, rd, ad0),
    ):
        ref = np.where(mask[:, None], r, ref)
        alt = np.where(mask[:, None], a, alt)
    out_dp = np.where(use_strelka[:, None], s_dp, out_dp)
    return ref, alt, out_dp, af


COLUMNAR_RULES = {
    "mutect2": _col_ad("AF{0}"),
    "mutect": _col_ad("FA{0}"),
    "dragen": _col_ad("AF{0}"),
    "muse": _col_ad(None),
    "radia": _col_ad(None),
    "pindel": _col_ad(None),
    "strelka2": _col_strelka,
    "varscan2": _col_varscan,
    "somaticsniper": _col_sniper,
    "freebayes": _col_freebayes,
    "vardict": _col_vardict,
    "delly": _col_delly,
    "merged": _col_generic,
    "generic": _col_generic,
    "maf": _col_ad(None),
}


def _tagmap_exprs(tm: TagMap) -> tuple[list[str], list[str]]:
    fmt, info = [], []
    for spec in (tm.tumor, tm.normal):
        for key, (kind, tag) in spec.items():
            exprs = [f"{tag}{{0}}", f"{tag}{{1}}"] if key == "ad" else [tag]
            target = fmt if kind == "FORMAT" else info
            for e in exprs:
                if e not in target:
                    target.append(e)
    return fmt, info


def _tagmap_role(tm: TagMap, c: Columns, role: str):
    spec = tm.tumor if role == "tumor" else tm.normal
    nan = _nan_like(c) if c.s else np.full((c.n, 1), np.nan)

    def get(key: str, index: int | None = None):
        if key not in spec:
            return nan
        kind, tag = spec[key]
        expr = tag if index is None else f"{tag}{{{index}}}"
        if kind == "INFO":
            return np.repeat(c.info(expr)[:, None], nan.shape[1], axis=1)
        return c.percent(expr)

    ref, alt = (get("ad", 0), get("ad", 1)) if "ad" in spec else (nan, nan)
    if "ref" in spec:
        ref = get("ref")
    if "alt" in spec:
        alt = get("alt")
    return ref, alt, get("depth"), get("af")


def query_tables(
    vcf_path: str | Path,
    fmt_exprs: Sequence[str],
    info_exprs: Sequence[str],
    n_samples: int,
    chunk: int,
    scratch: str | Path | None = None,
):
    """Yield DataFrames of ``chunk`` rows from ``bcftools query`` (through pysam) on a VCF/BCF.

    The pipeline reads the same values from VCF text (:func:`ccevariants.normtext.query_frame`);
    this is the reference it is tested against, and a way to run the caller rules on a BCF.

    Columns: CHROM POS REF ALT FILTER END, the INFO expressions, then per sample the FORMAT
    expressions; every value is a string ('.' = missing). One row per record, in file order.
    ``scratch``: a file for the query output (read back in chunks, so memory stays bounded);
    without it the output is held in memory.
    """
    import io

    import pandas as pd
    import pysam.bcftools as bcftools

    fmt_q = "".join(f"\t%{e}" for e in fmt_exprs)
    info_q = "".join(f"\t%INFO/{e}" for e in info_exprs)
    query = "%CHROM\t%POS\t%REF\t%ALT\t%FILTER\t%END" + info_q + (f"[{fmt_q}]" if fmt_exprs else "") + "\n"
    if scratch is not None:
        bcftools.query("-f", query, "-o", str(scratch), str(vcf_path), catch_stdout=False)
        if Path(scratch).stat().st_size == 0:
            return
        text = str(scratch)
    else:
        text = bcftools.query("-f", query, str(vcf_path), catch_stdout=True)
        if not text:
            return
        text = io.StringIO(text)
    n_cols = len(BASE_COLUMNS) + len(info_exprs) + len(fmt_exprs) * n_samples
    # numbers are parsed by the C reader ('.' = NaN); text columns stay strings
    exprs = list(BASE_COLUMNS) + list(info_exprs) + list(fmt_exprs) * n_samples
    text_cols = {i for i, e in enumerate(exprs) if i < 6 and e != "pos" or e in _TEXT_EXPRS}
    reader = pd.read_csv(
        text,
        sep="\t",
        header=None,
        names=list(range(n_cols)),
        dtype={i: object for i in text_cols},  # plain Python str: cheaper than Arrow strings here
        na_values={i: ["."] for i in range(n_cols) if i not in text_cols},
        keep_default_na=False,
        quoting=3,  # csv.QUOTE_NONE
        engine="c",
        chunksize=chunk,
    )
    del text
    yield from reader


def support_from_columns(
    cols: Columns, caller: str, t_idx: int | None, n_idx: int | None, tag_map: TagMap | None = None
) -> tuple[RoleArrays, RoleArrays | None]:
    """Vectorised harmonised read support (tumour, normal) for every record of a table."""
    multi = cols.multi()
    if tag_map is not None:
        j = 0 if t_idx is None else t_idx
        tr, ta, td, tf = _tagmap_role(tag_map, cols, "tumor")
        tumour = finalise(tr[:, j], ta[:, j], td[:, j], tf[:, j], multi)
        normal_arr = None
        if tag_map.normal:
            k = t_idx if tag_map.normal_same_column else n_idx
            if k is not None:
                nr, na, nd, nf = _tagmap_role(tag_map, cols, "normal")
                normal_arr = finalise(nr[:, k], na[:, k], nd[:, k], nf[:, k], multi)
        return tumour, normal_arr
    ref, alt, dp, af = COLUMNAR_RULES[caller](cols)
    tumour = finalise(ref[:, t_idx], alt[:, t_idx], dp[:, t_idx], af[:, t_idx], multi)
    normal_arr = None
    if n_idx is not None:
        normal_arr = finalise(ref[:, n_idx], alt[:, n_idx], dp[:, n_idx], af[:, n_idx], multi)
    return tumour, normal_arr


def query_exprs(
    caller: str, format_tags: Iterable[str], info_tags: Iterable[str], n_samples: int, tag_map: TagMap | None
) -> tuple[list[str], list[str]]:
    """FORMAT and INFO expressions the rule (or tag map) needs, restricted to declared tags."""
    format_tags, info_tags = set(format_tags), set(info_tags)
    if tag_map is not None:
        fmt_exprs, info_exprs = _tagmap_exprs(tag_map)
    else:
        fmt_exprs, info_exprs = list(RULE_FORMAT[caller]), list(RULE_INFO.get(caller, ()))
    fmt_exprs = [e for e in fmt_exprs if _tag(e) in format_tags] if n_samples else []
    info_exprs = [e for e in info_exprs if _tag(e) in info_tags]
    if ORIG_TAG in info_tags and ORIG_TAG not in info_exprs:
        info_exprs.append(ORIG_TAG)
    return fmt_exprs, info_exprs


# --------------------------------------------------------------------------------------------
# BAM fallback: count read support where the VCF has none
# --------------------------------------------------------------------------------------------


def count_from_bam(
    bam_path: str | Path,
    chrom: Sequence[str],
    pos: Sequence[int],
    ref: Sequence[str],
    alt: Sequence[str],
    min_mapq: int = 20,
    min_baseq: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """REF, ALT and total read counts at each variant from an indexed BAM/CRAM (NaN = not countable).

    ``pos`` is the VCF 1-based POS. SNVs: bases with quality >= ``min_baseq`` at POS (pysam
    ``count_coverage``). Indels (first base shared, the VCF anchor): reads in the pileup at the anchor
    whose indel right after it has the variant's length (insertions also need the inserted bases);
    REF = reads without an indel there. Reads below ``min_mapq``, secondary, supplementary,
    duplicate or QC-failed are ignored. MNVs and complex alleles are not counted (NaN).
    """
    import pysam

    from .contigs import harmonise

    n = len(pos)
    out_ref = np.full(n, np.nan)
    out_alt = np.full(n, np.nan)
    out_dp = np.full(n, np.nan)

    def usable(read) -> bool:
        return not (
            read.is_unmapped
            or read.is_secondary
            or read.is_supplementary
            or read.is_duplicate
            or read.is_qcfail
            or read.mapping_quality < min_mapq
        )

    try:
        bam = pysam.AlignmentFile(str(bam_path))
    except (OSError, ValueError) as exc:
        raise InputError(f"expected an indexed BAM/CRAM; found {exc}", path=bam_path) from None
    with bam:
        names = set(bam.references)
        for i in range(n):
            c = harmonise(chrom[i], names)
            r, a = ref[i].upper(), alt[i].upper()
            if c is None or not a or a[0] in "<.*[]" or "[" in a or "]" in a:
                continue
            p0 = int(pos[i]) - 1
            if len(r) == 1 and len(a) == 1 and r in _BASE and a in _BASE:
                try:
                    acgt = bam.count_coverage(
                        c, p0, p0 + 1, quality_threshold=min_baseq, read_callback=usable
                    )
                except (ValueError, KeyError):
                    continue
                counts = [int(x[0]) for x in acgt]
                out_ref[i], out_alt[i], out_dp[i] = counts[_BASE[r]], counts[_BASE[a]], sum(counts)
            elif (len(r) == 1 or len(a) == 1) and r[0] == a[0] and len(r) != len(a):
                length = len(a) - len(r)
                inserted = a[1:]
                nr = na = depth = 0
                for col in bam.pileup(
                    c, p0, p0 + 1, truncate=True, stepper="nofilter", min_base_quality=0, ignore_orphans=False
                ):
                    for pr in col.pileups:
                        if pr.is_refskip or not usable(pr.alignment):
                            continue
                        depth += 1
                        if pr.indel == length and (
                            length < 0
                            or pr.query_position is not None
                            and pr.alignment.query_sequence[
                                pr.query_position + 1 : pr.query_position + 1 + length
                            ]
                            == inserted
                        ):
                            na += 1
                        elif pr.indel == 0 and not pr.is_del:
                            nr += 1
                out_ref[i], out_alt[i], out_dp[i] = nr, na, depth
    return out_ref, out_alt, out_dp
