"""MAF input: GDC, cBioPortal and vcf2maf MAFs → the same normalised VCF as a caller VCF.

:func:`maf_to_vcf` writes a VCF with one tumour (and, when the MAF names one, normal) sample whose
``FORMAT/AD``/``DP`` carry the MAF's ``t_ref_count``/``t_alt_count``/``t_depth`` (and ``n_*``), and
INFO ``MAF_Hugo_Symbol``, ``MAF_HGVSp_Short``, ``MAF_Variant_Classification`` and
``MAF_Transcript_ID`` kept from the MAF. :func:`normalize_maf` then runs the ordinary
:func:`ccevariants.normalize.normalize_vcf` on it (split, left-align, REF check, read support).

Coordinates: MAF ``Start_Position``/``End_Position`` are 1-based inclusive; insertions are written
between ``Start_Position`` and ``Start_Position + 1`` with ``Reference_Allele`` ``-``; deletions
start at the first deleted base with ``Tumor_Seq_Allele`` ``-`` (GDC MAF format,
https://docs.gdc.cancer.gov/Data/File_Formats/MAF_Format/). VCF needs the preceding reference base
(the "anchor") for indels, so MAF indels require the reference FASTA.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ._io import open_text
from .errors import InputError, ReferenceMismatchError

log = logging.getLogger(__name__)

REQUIRED = ("Chromosome", "Start_Position", "Reference_Allele", "Tumor_Seq_Allele2")
#: MAF columns kept as INFO ``MAF_<column>`` (values percent-encoded for ; = , space and tab).
KEPT = ("Hugo_Symbol", "HGVSp_Short", "Variant_Classification", "Transcript_ID")
_BUILDS = {
    "grch37": "GRCh37",
    "37": "GRCh37",
    "hg19": "GRCh37",
    "grch38": "GRCh38",
    "38": "GRCh38",
    "hg38": "GRCh38",
}


def looks_like_maf(path: str | os.PathLike) -> bool:
    """True when the first non-comment line is a MAF header (``Hugo_Symbol`` … ``Chromosome``)."""
    try:
        with open_text(path) as fh:
            for line in fh:
                if line.startswith("#"):
                    continue
                cols = line.rstrip("\r\n").split("\t")
                return "Chromosome" in cols and "Start_Position" in cols
    except (OSError, UnicodeDecodeError, EOFError, zlib.error):
        return False
    return False


def _encode(value: str) -> str:
    out = value.strip()
    for ch, code in (("%", "%25"), (";", "%3B"), ("=", "%3D"), (",", "%2C"), (" ", "%20"), ("\t", "%09")):
        out = out.replace(ch, code)
    return out


def _count(value: str | None) -> str:
    v = (value or "").strip()
    return v if v.isdigit() else "."


@dataclass
class MafConversion:
    """Result of :func:`maf_to_vcf`: counts and the MAF rows that could not become VCF records."""

    rows: int
    written: int
    skipped: list[list]  # [chrom, pos, ref, alt, filter, reason] as in the filtered TSV
    tumor_sample: str
    normal_sample: str | None
    build: str | None


def read_maf(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header columns and ``(line number, row)`` pairs of a MAF (``#`` comment lines skipped)."""
    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing MAF file; found none", path=path)
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.startswith("#") or not line.strip():
                    continue
                fields = line.rstrip("\r\n").split("\t")
                if header is None:
                    header = fields
                    missing = [c for c in REQUIRED if c not in header]
                    if missing:
                        raise InputError(
                            f"expected MAF columns {', '.join(REQUIRED)}; found the header without {', '.join(missing)}",
                            path=path,
                            line=lineno,
                        )
                    continue
                if len(fields) > len(header):
                    raise InputError(
                        f"expected at most {len(header)} tab-separated columns as in the header; found {len(fields)}",
                        path=path,
                        line=lineno,
                    )
                fields += [""] * (len(header) - len(fields))
                rows.append((lineno, dict(zip(header, fields, strict=True))))
    except (EOFError, OSError) as exc:
        raise InputError(f"expected a readable MAF; found {exc}", path=path) from None
    if header is None:
        raise InputError("expected a MAF header line (Hugo_Symbol … Chromosome …); found none", path=path)
    return header, rows


def maf_to_vcf(
    maf: str | os.PathLike,
    vcf_out: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
) -> MafConversion:
    """Convert the rows of one tumour sample of a MAF into an (unsorted) VCF text file.

    The tumour sample is ``tumor_sample`` (rows with another ``Tumor_Sample_Barcode`` are ignored);
    when not given the MAF must hold exactly one. Rows without coordinates (protein-only rows) are
    skipped with reason ``maf_no_coordinates``. Raises InputError / ReferenceMismatchError.
    """
    import pysam

    maf = Path(maf)
    header, rows = read_maf(maf)
    barcodes = sorted({r.get("Tumor_Sample_Barcode", "").strip() for _, r in rows} - {""})
    if tumor_sample is None:
        if len(barcodes) > 1:
            raise InputError(
                f"expected one Tumor_Sample_Barcode; found {len(barcodes)} ({', '.join(barcodes[:5])}"
                f"{', …' if len(barcodes) > 5 else ''}) — set the sample sheet's tumor_sample column",
                path=maf,
            )
        tumor_sample = barcodes[0] if barcodes else "TUMOR"
    elif barcodes and tumor_sample not in barcodes:
        raise InputError(
            f"expected Tumor_Sample_Barcode {tumor_sample!r} in the MAF; found {', '.join(barcodes[:10])}",
            path=maf,
        )
    mine = [
        (n, r) for n, r in rows if not barcodes or r.get("Tumor_Sample_Barcode", "").strip() == tumor_sample
    ]
    normals = sorted({r.get("Matched_Norm_Sample_Barcode", "").strip() for _, r in mine} - {""})
    if normal_sample is None and len(normals) == 1:
        normal_sample = normals[0]
    if normal_sample == tumor_sample:
        normal_sample = None
    has_normal_counts = any(
        _count(r.get("n_depth")) != "." or _count(r.get("n_alt_count")) != "." for _, r in mine
    )
    with_normal = normal_sample is not None and has_normal_counts

    builds = sorted({_BUILDS.get(r.get("NCBI_Build", "").strip().lower(), "") for _, r in mine} - {""})
    build = builds[0] if len(builds) == 1 else None
    fasta = None
    ref_names: list[str] = []
    if reference is not None:
        from .normalize import Reference

        ref = Reference.open(reference)
        if build and ref.build and build != ref.build:
            raise ReferenceMismatchError(
                f"expected MAF NCBI_Build to match the reference ({ref.build}, from {ref.path.name}); found {build}",
                path=maf,
            )
        fasta = pysam.FastaFile(str(ref.path))
        ref_names = ref.names

    from .contigs import harmonise

    skipped: list[list] = []
    records: list[str] = []
    try:
        for lineno, r in mine:
            chrom = r.get("Chromosome", "").strip()
            start = r.get("Start_Position", "").strip()
            ref_allele = r.get("Reference_Allele", "").strip().upper()
            t1 = r.get("Tumor_Seq_Allele1", "").strip().upper()
            t2 = r.get("Tumor_Seq_Allele2", "").strip().upper()
            alt = t2 if t2 and t2 != ref_allele else t1
            if not chrom or not start:
                # protein-only row: kept traceable in the filtered table (gene and protein change in
                # the 'filter' column, which has no meaning for a MAF row)
                ident = ";".join(
                    f"{k}={r[k].strip()}" for k in ("Hugo_Symbol", "HGVSp_Short") if r.get(k, "").strip()
                )
                skipped.append([".", 0, ".", ".", ident or f"line={lineno}", "maf_no_coordinates"])
                continue
            if not start.isdigit():
                raise InputError(
                    f"expected Start_Position as a positive integer; found {start!r}", path=maf, line=lineno
                )
            if not ref_allele or not alt or alt == ref_allele:
                raise InputError(
                    f"expected Reference_Allele and a different Tumor_Seq_Allele; found {ref_allele!r} and {alt!r}",
                    path=maf,
                    line=lineno,
                )
            for allele in (ref_allele, alt):
                if allele != "-" and not re.fullmatch(r"[ACGTN]+", allele):
                    raise InputError(
                        f"expected alleles of A,C,G,T,N or '-'; found {allele!r}", path=maf, line=lineno
                    )
            pos = int(start)
            if ref_allele == "-" or alt == "-":
                if fasta is None:
                    raise InputError(
                        "expected --reference to convert MAF insertions/deletions (VCF needs the preceding base); "
                        "found none",
                        path=maf,
                        line=lineno,
                    )
                contig = harmonise(chrom, ref_names)
                if contig is None:
                    raise ReferenceMismatchError(
                        f"expected contig {chrom!r} in reference {Path(str(reference)).name}; found no such contig",
                        path=maf,
                        line=lineno,
                    )
                if ref_allele == "-":  # insertion after Start_Position
                    anchor = fasta.fetch(contig, pos - 1, pos).upper()
                    vcf_pos, vref, valt = pos, anchor, anchor + alt
                else:  # deletion starting at Start_Position
                    anchor = fasta.fetch(contig, pos - 2, pos - 1).upper()
                    vcf_pos, vref, valt = pos - 1, anchor + ref_allele, anchor
                if not anchor:
                    raise ReferenceMismatchError(
                        f"expected position {pos} inside {contig} of the reference; found it beyond the end",
                        path=maf,
                        line=lineno,
                    )
            else:
                vcf_pos, vref, valt = pos, ref_allele, alt
            info = ";".join(f"MAF_{k}={_encode(r[k])}" for k in KEPT if r.get(k, "").strip() not in ("", "."))
            t = [_count(r.get("t_ref_count")), _count(r.get("t_alt_count")), _count(r.get("t_depth"))]
            sample_cols = [f"0/1:{t[0]},{t[1]}:{t[2]}"]
            if with_normal:
                nn = [_count(r.get("n_ref_count")), _count(r.get("n_alt_count")), _count(r.get("n_depth"))]
                sample_cols.append(f"0/0:{nn[0]},{nn[1]}:{nn[2]}")
            records.append(
                "\t".join(
                    [chrom, str(vcf_pos), ".", vref, valt, ".", ".", info or ".", "GT:AD:DP", *sample_cols]
                )
                + "\n"
            )
    finally:
        if fasta is not None:
            fasta.close()

    samples = [tumor_sample] + ([normal_sample] if with_normal else [])
    head = [
        "##fileformat=VCFv4.2",
        f"##source=ccevariants-maf:{maf.name}",
        f"##tumor_sample={tumor_sample}",
        *([f"##normal_sample={normal_sample}"] if with_normal else []),
        *([f"##reference={build}"] if build else []),
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype (placeholder from MAF)">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths REF,ALT (MAF *_ref_count,*_alt_count)">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth (MAF *_depth)">',
    ]
    for k in KEPT:
        head.append(
            f'##INFO=<ID=MAF_{k},Number=1,Type=String,Description="MAF column {k} (percent-encoded)">'
        )
    head.append(
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples])
    )
    with open(vcf_out, "w", encoding="utf-8") as out:
        out.write("\n".join(head) + "\n")
        out.writelines(records)
    return MafConversion(
        rows=len(mine),
        written=len(records),
        skipped=skipped,
        tumor_sample=tumor_sample,
        normal_sample=normal_sample if with_normal else None,
        build=build,
    )


def normalize_maf(
    maf,
    output,
    reference=None,
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
    min_depth: int = 0,
    min_vaf: float = 0.0,
    pass_only: bool = True,
    filtered=None,
    stats=None,
    bam=None,
) -> dict:
    """MAF → normalised VCF (contract §2 outputs). Stats gain ``input_format: "maf"``,
    ``maf_rows`` and ``maf_skipped``; skipped rows appear in the filtered TSV."""
    from ._io import write_json
    from .normalize import normalize_vcf

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ccev-maf-", dir=output.parent) as tmp:
        vcf = Path(tmp) / "from_maf.vcf"
        conv = maf_to_vcf(maf, vcf, reference, tumor_sample, normal_sample)
        tsv = Path(tmp) / "filtered.tsv"
        doc = normalize_vcf(
            vcf,
            output,
            reference=reference,
            tumor_sample=conv.tumor_sample,
            normal_sample=conv.normal_sample,
            caller="maf",
            min_depth=min_depth,
            min_vaf=min_vaf,
            pass_only=pass_only,
            filtered=tsv,
            stats=None,
            bam=bam,
        )
        doc["input_format"] = "maf"
        doc["maf_rows"] = conv.rows
        doc["maf_skipped"] = len(conv.skipped)
        doc["records_in"] = conv.rows
        if conv.skipped:
            removed = dict(doc["removed"])
            removed["maf_no_coordinates"] = removed.get("maf_no_coordinates", 0) + len(conv.skipped)
            doc["removed"] = dict(sorted(removed.items()))
        if filtered is not None:
            from ._io import atomic_write

            with open(tsv, encoding="utf-8") as fh:
                body = fh.read()
            with atomic_write(filtered) as out:
                out.write(body)
                w = csv.writer(out, delimiter="\t", lineterminator="\n")
                w.writerows(conv.skipped)
    if stats is not None:
        write_json(stats, doc)
    return doc
