"""Reading and checking the report's inputs (the other stages' outputs, contracts sections 1-6).

Every check raises :class:`~ccevariants.errors.InputError` naming the file (and line/record where
it applies) with an "expected X; found Y" message. Positions are VCF-style 1-based throughout.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from ..errors import InputError

#: Columns of the annotated table (contracts section 3) that the report reads.
VARIANT_COLUMNS = (
    "variant_id", "chrom", "pos", "ref", "alt", "filter", "t_dp", "t_ad_ref", "t_ad_alt", "n_dp",
    "n_ad_ref", "n_ad_alt", "t_af", "n_af", "gene", "gene_id", "transcript", "biotype", "consequence",
    "impact", "exon", "intron", "hgvsc", "hgvsp", "hgvsp_short", "protein_position", "pick", "mane",
    "canonical",
)  # fmt: skip
FINDING_KEYS = ("finding_id", "gene", "alteration", "category", "effect", "escat", "amp_tier", "on_label")
PENDING_KEYS = ("gene", "alteration", "therapies", "reason")
FILTERED_COLUMNS = ("chrom", "pos", "ref", "alt", "filter", "reason")
SHEET_REQUIRED = ("patient", "sample", "center", "tumor_type")
ASSAYS = ("panel", "wes", "wgs")
#: Allowed values of finding fields (contracts section 6).
ENUMS = {
    "category": ("variant", "cna", "fusion", "biomarker"),
    "effect": ("sensitivity", "resistance", "prognostic", "diagnostic"),
    "escat": ("I-A", "I-B", "I-C", "II-A", "II-B", "III-A", "III-B", "IV-A", "IV-B", "V", "X"),
    "amp_tier": ("I", "II", "III", "IV"),
}


def read_sheet_row(path: str | Path, patient: str) -> dict[str, str]:
    """The sample-sheet row (contracts section 1) of ``patient`` as a dict of strings."""
    path = Path(path)
    try:
        handle = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise InputError("expected an existing sample sheet; found none", path=path) from None
    with handle:
        rows = [r for r in csv.reader(handle, delimiter="\t") if r and not r[0].startswith("#")]
    if not rows:
        raise InputError("expected a header line; found an empty sample sheet", path=path)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in SHEET_REQUIRED if c not in header]
    if missing:
        raise InputError(
            f"expected columns {', '.join(SHEET_REQUIRED)}; found no {', '.join(missing)}", path=path, line=1
        )
    found = None
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(
                f"expected {len(header)} tab-separated fields; found {len(row)}", path=path, line=lineno
            )
        record = {h: v.strip() for h, v in zip(header, row, strict=True)}
        if record["patient"] == patient:
            if found is not None:
                raise InputError(
                    f"expected one row for patient {patient!r}; found a second", path=path, line=lineno
                )
            found = record
    if found is None:
        raise InputError(f"expected a row for patient {patient!r}; found none", path=path)
    return found


def read_variants(path: str | Path):
    """The annotated Parquet table (contracts section 3)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing Parquet table; found none", path=path)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(
            f"expected a Parquet table; found unreadable data ({type(exc).__name__})", path=path
        ) from None
    check_variants(frame, path)
    return frame


def check_variants(frame, path: str | Path | None = None) -> None:
    missing = [c for c in VARIANT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"expected annotated-table columns (contracts section 3); found no {', '.join(missing)}",
            path=path or "variants table",
        )
    if len(frame) and frame.groupby("variant_id", sort=False)["pick"].sum().ne(1).any():
        bad = frame.groupby("variant_id", sort=True)["pick"].sum()
        vid = bad[bad != 1].index[0]
        raise InputError(
            f"expected exactly one pick=True row per variant; found {int(bad[vid])} for {vid}",
            path=path or "variants table",
        )


def read_filtered(path: str | Path):
    """The normaliser's TSV of removed records (``chrom pos ref alt filter reason``)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing filtered-records TSV; found none", path=path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except pd.errors.EmptyDataError:
        raise InputError(
            f"expected a header line {' '.join(FILTERED_COLUMNS)}; found an empty file", path=path
        ) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"expected a tab-separated table; found {exc}", path=path) from None
    missing = [c for c in FILTERED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"expected columns {' '.join(FILTERED_COLUMNS)}; found no {', '.join(missing)}", path=path, line=1
        )
    bad = ~frame["pos"].str.fullmatch(r"\d+")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"expected a 1-based integer pos; found {frame['pos'].iloc[i]!r}", path=path, line=i + 2
        )
    frame["pos"] = frame["pos"].astype("int64")
    return frame


def check_matches(matches: Any, path: str | Path | None = None) -> None:
    where = path or "matches"
    if not isinstance(matches, dict) or not isinstance(matches.get("findings"), list):
        raise InputError(
            "expected a matches document with a 'findings' list (contracts section 6); found none", path=where
        )
    tumor = matches.get("tumor_type")
    if not isinstance(tumor, dict) or "code" not in tumor:
        raise InputError("expected 'tumor_type' with a 'code'; found none", path=where)
    for i, finding in enumerate(matches["findings"]):
        if not isinstance(finding, dict):
            raise InputError(
                f"expected findings[{i}] to be an object; found {type(finding).__name__}", path=where
            )
        missing = [k for k in FINDING_KEYS if k not in finding]
        if missing:
            raise InputError(f"expected findings[{i}] to have {', '.join(missing)}; found none", path=where)
        labels = finding["on_label"]
        if not isinstance(labels, dict) or not {"EMA", "FDA"} <= set(labels):
            raise InputError(
                f"expected findings[{i}].on_label with EMA and FDA; found {labels!r}", path=where
            )
        for key, allowed in ENUMS.items():
            if finding[key] not in allowed:
                raise InputError(
                    f"expected findings[{i}].{key} one of {', '.join(allowed)}; found {finding[key]!r}",
                    path=where,
                )
        if not isinstance(finding.get("therapies", []), list):
            raise InputError(
                f"expected findings[{i}].therapies as a list; found {finding['therapies']!r}", path=where
            )
    pending = matches.get("pending", [])
    if pending is None:
        pending = []
    if not isinstance(pending, list):
        raise InputError(
            f"expected 'pending' to be a list of wild-type entries; found {type(pending).__name__}",
            path=where,
        )
    for i, entry in enumerate(pending):
        if not isinstance(entry, dict):
            raise InputError(
                f"expected pending[{i}] to be an object; found {type(entry).__name__}", path=where
            )
        missing = [k for k in PENDING_KEYS if k not in entry]
        if missing:
            raise InputError(f"expected pending[{i}] to have {', '.join(missing)}; found none", path=where)
        if not isinstance(entry["therapies"], list):
            raise InputError(
                f"expected pending[{i}].therapies as a list; found {entry['therapies']!r}", path=where
            )


def check_biomarkers(biomarkers: Any, path: str | Path | None = None) -> None:
    where = path or "biomarkers"
    if not isinstance(biomarkers, dict):
        raise InputError(f"expected a biomarkers object; found {type(biomarkers).__name__}", path=where)
    for key in ("tmb", "msi"):
        if not isinstance(biomarkers.get(key), dict) or "status" not in biomarkers[key]:
            raise InputError(
                f"expected '{key}' with a 'status' (contracts section 4); found none", path=where
            )


def clean_number(value: Any, digits: int | None = None) -> float | int | None:
    """JSON-safe number: NaN/None/negative-missing sentinels become None."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    if digits is not None:
        return round(number, digits)
    return number


def clean_count(value: Any) -> int | None:
    """Read-count column value: -1 (missing, contracts section 3) becomes None."""
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return None if number < 0 else number


def parse_assay(text: str | None, path: str | Path | None = None) -> str | None:
    value = (text or "").strip().lower()
    if value in ("", "na", "."):
        return None
    if value not in ASSAYS:
        raise InputError(f"expected assay one of {', '.join(ASSAYS)}; found {text!r}", path=path)
    return value


def parse_purity(text: str | None, path: str | Path | None = None) -> float | None:
    if text is None or str(text).strip() in ("", "NA", "."):
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"expected purity as a number in [0, 1]; found {text!r}", path=path) from None
    if not 0.0 <= value <= 1.0:
        raise InputError(f"expected purity as a number in [0, 1]; found {text!r}", path=path)
    return value
