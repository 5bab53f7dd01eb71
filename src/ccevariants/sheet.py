"""The sample sheet: loading, semantic validation, and per-patient lookup.

Format (tab-separated, one row per patient, ``#`` lines are comments)::

    patient sample center tumor_type vcf maf tumor_sample normal_sample bam normal_bam sv_vcf cnv purity assay
    callable_bed

``patient``, ``sample``, ``center``, ``tumor_type`` and exactly one of ``vcf``/``maf`` are required.
Relative paths are resolved against the directory that holds the sheet. Every problem is reported as
``<sheet>:<line>: column '<col>': expected …; found …`` (line = physical line in the file) before any
job runs. Structural checks (columns, types, patterns) are also expressed as a JSON schema
(``workflow/schemas/samples.schema.yaml``) that Snakemake validates; this module adds what a schema
cannot say: duplicates, file existence, OncoTree codes and VCF contigs against the reference.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .contigs import harmonise, read_fai
from .errors import ConfigError

log = logging.getLogger(__name__)

COLUMNS = (
    "patient",
    "sample",
    "center",
    "tumor_type",
    "vcf",
    "maf",
    "tumor_sample",
    "normal_sample",
    "bam",
    "normal_bam",
    "sv_vcf",
    "cnv",
    "purity",
    "assay",
    "callable_bed",
)
REQUIRED = ("patient", "sample", "center", "tumor_type")
PATH_COLUMNS = ("vcf", "maf", "bam", "normal_bam", "sv_vcf", "cnv", "callable_bed")
ASSAYS = ("panel", "wes", "wgs")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: How many records of a VCF without ##contig lines are read to learn its contigs at validation time.
CONTIG_SCAN_RECORDS = 20000


@dataclass
class SampleRow:
    """One validated row. Paths are absolute; empty optional fields are None."""

    line: int
    patient: str
    sample: str
    center: str
    tumor_type: str
    vcf: Path | None = None
    maf: Path | None = None
    tumor_sample: str | None = None
    normal_sample: str | None = None
    bam: Path | None = None
    normal_bam: Path | None = None
    sv_vcf: Path | None = None
    cnv: Path | None = None
    purity: float | None = None
    assay: str | None = None
    callable_bed: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def paired(self) -> bool:
        return bool(self.normal_sample)

    def as_dict(self) -> dict:
        out = {}
        for name in COLUMNS:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Path) else value
        return out


def _err(sheet: Path, line: int, column: str | None, message: str) -> ConfigError:
    where = f"column '{column}': " if column else ""
    return ConfigError(where + message, path=sheet, line=line)


def read_rows(sheet: str | Path) -> list[tuple[int, dict[str, str]]]:
    """Raw rows as ``(line_number, {column: value})`` with structural checks only."""
    sheet = Path(sheet)
    if not sheet.is_file():
        raise ConfigError("expected an existing sample sheet (TSV); found no such file", path=sheet)
    with open(sheet, encoding="utf-8", newline="") as handle:
        lines = [(i, line) for i, line in enumerate(handle, 1) if line.strip() and not line.startswith("#")]
    if not lines:
        raise ConfigError(
            "expected a header line and at least one sample row; found an empty sheet", path=sheet
        )
    header_line, header_text = lines[0]
    header = next(csv.reader([header_text.rstrip("\r\n")], delimiter="\t"))
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise _err(sheet, header_line, unknown[0], f"unknown column; expected one of: {', '.join(COLUMNS)}")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise _err(sheet, header_line, dupes[0], "expected each column once; found it repeated")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise _err(sheet, header_line, missing[0], "required column missing from the header")
    if "vcf" not in header and "maf" not in header:
        raise _err(sheet, header_line, "vcf", "expected a 'vcf' or 'maf' column; found neither")
    rows = []
    for lineno, text in lines[1:]:
        values = next(csv.reader([text.rstrip("\r\n")], delimiter="\t"))
        if len(values) != len(header):
            raise _err(
                sheet, lineno, None, f"expected {len(header)} tab-separated fields; found {len(values)}"
            )
        rows.append((lineno, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    if not rows:
        raise ConfigError("expected at least one sample row; found only a header", path=sheet)
    return rows


def load_sheet(
    sheet: str | Path,
    *,
    known_tumor_types: set[str] | None = None,
    reference_fai: str | Path | None = None,
    check_files: bool = True,
) -> list[SampleRow]:
    """Load and validate a sample sheet; raise :class:`ConfigError` on the first problem.

    ``known_tumor_types``: OncoTree codes accepted in ``tumor_type`` (None skips the check).
    ``reference_fai``: when given, each VCF's contigs must exist in the reference (after ``chr``
    harmonisation) and, where the VCF declares lengths, agree with it.
    """
    sheet = Path(sheet).resolve()
    base = sheet.parent
    seen_patient: dict[str, int] = {}
    seen_sample: dict[str, int] = {}
    out: list[SampleRow] = []
    ref_lengths = read_fai(reference_fai) if reference_fai else None
    for lineno, raw in read_rows(sheet):
        for column in REQUIRED:
            if not raw.get(column):
                raise _err(sheet, lineno, column, "expected a value; found an empty field")
        for column in ("patient", "sample"):
            if not ID_PATTERN.match(raw[column]):
                raise _err(
                    sheet,
                    lineno,
                    column,
                    f"expected letters, digits, '.', '_' or '-' (pseudonymous ID usable in file names); found {raw[column]!r}",
                )
        for column, seen in (("patient", seen_patient), ("sample", seen_sample)):
            if raw[column] in seen:
                raise _err(
                    sheet,
                    lineno,
                    column,
                    f"expected unique values; found {raw[column]!r} again (first on line {seen[raw[column]]})",
                )
            seen[raw[column]] = lineno
        has_vcf, has_maf = bool(raw.get("vcf")), bool(raw.get("maf"))
        if has_vcf == has_maf:
            found = "both" if has_vcf else "neither"
            raise _err(sheet, lineno, "vcf", f"expected exactly one of 'vcf' or 'maf'; found {found}")
        paths: dict[str, Path | None] = {}
        for column in PATH_COLUMNS:
            value = raw.get(column, "")
            if not value:
                paths[column] = None
                continue
            path = Path(value)
            path = (base / path).resolve() if not path.is_absolute() else path
            if check_files and not path.is_file():
                raise _err(
                    sheet, lineno, column, f"expected an existing file; found no file at {value!r} ({path})"
                )
            paths[column] = path
        if known_tumor_types is not None and raw["tumor_type"] not in known_tumor_types:
            raise _err(
                sheet,
                lineno,
                "tumor_type",
                f"expected an OncoTree code (e.g. LUAD, COAD, SKCM, IDC); found {raw['tumor_type']!r}",
            )
        purity = None
        if raw.get("purity"):
            try:
                purity = float(raw["purity"])
            except ValueError:
                purity = -1.0
            if not 0.0 < purity <= 1.0:
                raise _err(sheet, lineno, "purity", f"expected a fraction in (0, 1]; found {raw['purity']!r}")
        assay = raw.get("assay") or None
        if assay is not None and assay not in ASSAYS:
            raise _err(sheet, lineno, "assay", f"expected one of {', '.join(ASSAYS)}; found {assay!r}")
        row = SampleRow(
            line=lineno,
            patient=raw["patient"],
            sample=raw["sample"],
            center=raw["center"],
            tumor_type=raw["tumor_type"],
            tumor_sample=raw.get("tumor_sample") or None,
            normal_sample=raw.get("normal_sample") or None,
            purity=purity,
            assay=assay,
            **paths,
        )
        if check_files and ref_lengths is not None and row.vcf is not None:
            check_vcf_contigs(row.vcf, ref_lengths, sheet=sheet, line=lineno)
        out.append(row)
    return out


def _vcf_contigs(vcf: Path) -> tuple[dict[str, int | None], list[str]]:
    """``##contig`` declarations (name → length or None) and CHROM values of the first records."""
    from ._io import open_text

    declared: dict[str, int | None] = {}
    seen: list[str] = []
    contig_re = re.compile(r"##contig=<(.*)>")
    with open_text(vcf) as handle:
        for n, line in enumerate(handle):
            if line.startswith("##"):
                m = contig_re.match(line.strip())
                if m:
                    fields = dict(
                        part.split("=", 1)
                        for part in re.split(r",(?=[A-Za-z_]+=)", m.group(1))
                        if "=" in part
                    )
                    if "ID" in fields:
                        length = fields.get("length")
                        declared[fields["ID"]] = int(length) if length and length.isdigit() else None
                continue
            if line.startswith("#"):
                continue
            chrom = line.split("\t", 1)[0]
            if chrom not in seen:
                seen.append(chrom)
            if n > CONTIG_SCAN_RECORDS:
                break
    return declared, seen


def check_vcf_contigs(vcf: Path, ref_lengths: dict[str, int], *, sheet: Path, line: int) -> None:
    """Fail when a VCF's contigs are absent from the reference or declare different lengths."""
    declared, seen = _vcf_contigs(vcf)
    for chrom in seen:
        if harmonise(chrom, ref_lengths) is None:
            raise _err(
                sheet,
                line,
                "vcf",
                f"{vcf.name}: contig {chrom!r} is not in the reference "
                f"(reference has {', '.join(list(ref_lengths)[:6])}{'…' if len(ref_lengths) > 6 else ''})",
            )
    for chrom, length in declared.items():
        ref_name = harmonise(chrom, ref_lengths)
        if ref_name is None or length is None:
            continue
        if ref_lengths[ref_name] != length:
            raise _err(
                sheet,
                line,
                "vcf",
                f"{vcf.name}: contig {chrom!r} has length {length} in the VCF header but "
                f"{ref_lengths[ref_name]} in the reference: expected the same genome build",
            )


def tumor_type_codes(oncotree: str | Path | None = None) -> set[str]:
    """All OncoTree codes of a release JSON (nested ``TISSUE`` tree), or of the bundled tree when None."""
    from .oncotree import OncoTree

    return set(OncoTree.load(oncotree).nodes)
