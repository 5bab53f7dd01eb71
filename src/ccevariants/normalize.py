"""Ingest + normalise one tumour(/normal) VCF (contract §2).

Pipeline (all positions VCF 1-based):

1. **Pre-pass** (streaming, pure text): read plain, gzip or bgzip input (plain gzip is accepted
   because this pass decompresses everything; the output is always BGZF); validate the header and
   every record's column count, POS and REF; harmonise contig names onto the reference
   (``chr1``↔``1``, ``chrM``↔``MT``); check contigs exist, ``##contig`` lengths agree and a sample
   of REF alleles matches the FASTA (build mismatch = :class:`ReferenceMismatchError`); replace the
   ``##contig`` lines with the reference's; add definitions for FORMAT/INFO tags used but
   undeclared; keep a pre-existing VEP ``CSQ`` / snpEff ``ANN`` as ``SRC_CSQ`` / ``SRC_ANN``.
   :func:`_prepass_fast` does this columnar over byte blocks; anything unusual sends the input
   through the line-by-line :func:`_prepass`, whose errors name file and line.
2. **bcftools norm through pysam.bcftools** to VCF text: ``-m -any`` (split; Number=R/A
   fields such as AD are split per allele), ``--old-rec-tag CCEV_ORIG`` (the original record of
   every changed one), ``-f FASTA`` (left-align and trim indels) and ``-c wx`` (REF check: warn and
   exclude the rare record whose REF disagrees with the FASTA; each is listed with reason
   ``ref_mismatch``). Unsorted input is sorted first (``bcftools sort``).
3. **Read support + filters** (:func:`_consume`), per 2 MB block of norm's text: the caller's
   fields as ``bcftools query`` would print them (:mod:`ccevariants.normtext`), harmonised
   ``T_DP/T_AD/T_AF`` (``N_*``) (:mod:`ccevariants.callers`; optional BAM fallback); exact
   duplicates (:func:`exact_duplicates`, the rule of ``bcftools norm -d exact``) are removed here so
   that each can be reported; then ``--keep-nonpass``, ``--min-depth``, ``--min-vaf``; the kept
   lines with their INFO additions are written by one compiled loop.
4. BGZF (threaded, :mod:`ccevariants.bgzf`) with its tabix index built on the way
   (:mod:`ccevariants.tbi`). Every output is written in a temporary directory beside the output and
   renamed into place only when everything succeeded.

With a reference, steps 1–3 run as three concurrent processes (:func:`_stream_all`): the pre-pass
writes the prepared VCF into a pipe that norm reads — the header from the input header alone, each
block before checking it — and the writer follows norm's output file as it grows; anything the
stream got wrong (unsorted input, an undeclared tag, a contig rename the header did not announce,
an input that needs the line-by-line pass, norm moving a record past its sorting window) reruns
the steps one after another with the same result.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from ._io import write_json
from .callers import (
    AD_PER_ALLELE,
    Columns,
    TagMap,
    canonical_caller,
    count_from_bam,
    detect_caller,
    finalise,
    identify_samples,
    query_exprs,
    support_from_columns,
)
from .errors import InputError, ReferenceMismatchError
from .vcfutil import (
    ContigMapper,
    Header,
    build_from_text,
    build_of,
    compression,
    guess_build,
    iter_text_lines,
    natural_contig_key,
    read_header,
)

log = logging.getLogger(__name__)

# INFO keys of one record: "KEY=" for key=value items, "KEY" alone for flags
_INFO_KEY = re.compile(r"(?:^|;)([^=;]+=?)")
#: REF alleles checked against the FASTA in the pre-pass: the first 500 records, then every 997th.
REF_SAMPLE_HEAD = 500
REF_SAMPLE_EVERY = 997
#: More than this fraction of sampled REF alleles disagreeing with the FASTA = wrong reference.
REF_MISMATCH_FRACTION = 0.10

#: Annotations already in the input (VEP CSQ, snpEff ANN) are kept under another INFO name so the
#: pipeline's own CSQ (annotation stage) does not collide with them.
SOURCE_ANNOTATIONS = {"CSQ": "SRC_CSQ", "ANN": "SRC_ANN"}

#: Definitions added when a caller uses a FORMAT tag without declaring it (htslib would guess String).
KNOWN_FORMAT = {
    "TAR": ("2", "Integer", "Reads strongly supporting reference allele for tiers 1,2"),
    "TIR": ("2", "Integer", "Reads strongly supporting indel allele for tiers 1,2"),
    "TOR": (
        "2",
        "Integer",
        "Other reads (weak support or insufficient indel breakpoint overlap) for tiers 1,2",
    ),
    "DP2": ("1", "Integer", "Read depth for tier2"),
    "DP50": ("1", "Float", "Average tier1 read depth within 50 bases"),
    "FDP50": (
        "1",
        "Float",
        "Average tier1 number of basecalls filtered from original read depth within 50 bases",
    ),
    "SUBDP50": (
        "1",
        "Float",
        "Average number of reads below tier1 mapping quality threshold within 50 bases",
    ),
    "AD": (".", "Integer", "Allelic depths"),
    "DP": ("1", "Integer", "Read depth"),
    "AF": ("A", "Float", "Allele fraction"),
}

INFO_LINES = {
    "T_DP": '##INFO=<ID=T_DP,Number=1,Type=Integer,Description="Tumour read depth (ccevariants, caller-aware)">',
    "T_AD": '##INFO=<ID=T_AD,Number=2,Type=Integer,Description="Tumour reads supporting REF,ALT (ccevariants)">',
    "T_AF": '##INFO=<ID=T_AF,Number=1,Type=Float,Description="Tumour variant allele fraction (ccevariants)">',
    "N_DP": '##INFO=<ID=N_DP,Number=1,Type=Integer,Description="Normal read depth (ccevariants, caller-aware)">',
    "N_AD": '##INFO=<ID=N_AD,Number=2,Type=Integer,Description="Normal reads supporting REF,ALT (ccevariants)">',
    "N_AF": '##INFO=<ID=N_AF,Number=1,Type=Float,Description="Normal variant allele fraction (ccevariants)">',
}


@dataclass
class Reference:
    """FASTA with its index: names and lengths in index order; fetch() for REF checks."""

    path: Path
    names: list[str]
    lengths: dict[str, int]
    build: str | None

    @classmethod
    def open(cls, path: str | os.PathLike) -> Reference:
        import pysam

        path = Path(path)
        if not path.exists():
            raise InputError("expected an existing reference FASTA; found none", path=path)
        try:
            fa = pysam.FastaFile(str(path))
        except (OSError, ValueError) as exc:
            raise InputError(
                f"expected a FASTA file (plain or bgzip) with or indexable by samtools faidx; found an error: {exc}",
                path=path,
            ) from None
        names = list(fa.references)
        lengths = dict(zip(names, fa.lengths, strict=True))
        fa.close()
        return cls(path=path, names=names, lengths=lengths, build=guess_build(lengths))


class _StageClock:
    """Debug log of CPU and wall seconds per pipeline stage (``-v`` / logging DEBUG)."""

    def __init__(self, src) -> None:
        import time

        self._time = time
        self.src = src
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    def stage(self, name: str) -> None:
        import resource

        cpu, wall = self._time.process_time(), self._time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        log.debug(
            "%s: %s: %.2f s CPU, %.2f s wall (peak RSS so far %.0f MB)",
            self.src,
            name,
            cpu - self.cpu,
            wall - self.wall,
            peak,
        )
        self.cpu, self.wall = cpu, wall


@dataclass
class _Prepass:
    records: int = 0
    multiallelic: int = 0
    sorted: bool = True
    renamed: dict[str, str] = field(default_factory=dict)
    seen_contigs: list[str] = field(default_factory=list)
    ref_sample: list[tuple[str, int, str, int]] = field(default_factory=list)
    format_tags: set[str] = field(default_factory=set)
    info_tags: set[str] = field(default_factory=set)  # "KEY=" for key=value items, "KEY" for flags
    filter_tags: set[str] = field(default_factory=set)
    renamed_info: dict[str, str] = field(default_factory=dict)
    restart: str = ""  # streaming into norm stopped: why (see _prepass_fast)
    skipped_norm: int = 0  # records that took the path around norm (normbypass)
    contig_order: list[str] = field(default_factory=list)  # header order when there is no reference


def normalize_vcf(
    input,
    output,
    reference=None,
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
    caller: str | None = None,
    tag_map=None,
    min_depth: int = 0,
    min_vaf: float = 0.0,
    pass_only: bool = True,
    filtered=None,
    stats=None,
    bam=None,
    stream: bool = True,
    threads: int = 2,
) -> dict:
    """Normalise ``input`` into a sorted, bgzipped, tabix-indexed ``output`` (contract §2).

    ``bam``: optional indexed tumour BAM/CRAM; records whose tumour read support is missing from
    the VCF get it counted from the BAM (:func:`ccevariants.callers.count_from_bam`).
    ``stream``: with a reference, run the pre-pass, bcftools norm and the writer as concurrent
    processes (:func:`_stream_all`); False runs the pre-pass first (same output). ``threads``:
    BGZF compression threads.

    Returns the stats document (also written to ``stats`` when given). ``filtered`` receives a TSV
    ``chrom pos ref alt filter reason`` (1-based ``pos``) of every record removed. Raises
    InputError / ReferenceMismatchError / ConfigError; on any error no output file is left behind.
    """

    src = Path(input)
    output = Path(output)
    if caller != "maf" and src.exists():
        from .maf import looks_like_maf, normalize_maf

        if looks_like_maf(src):
            log.info("%s: MAF input; converting to VCF", src)
            return normalize_maf(
                src,
                output,
                reference,
                tumor_sample,
                normal_sample,
                min_depth,
                min_vaf,
                pass_only,
                filtered,
                stats,
                bam=bam,
            )
    if not str(output).endswith(".vcf.gz"):
        raise InputError(f"expected an output name ending in .vcf.gz; found {output.name!r}", path=output)
    if min_depth < 0:
        raise InputError(f"expected --min-depth >= 0; found {min_depth}")
    if not 0.0 <= min_vaf <= 1.0:
        raise InputError(f"expected --min-vaf between 0 and 1; found {min_vaf}")
    tmap = TagMap.from_obj(tag_map) if tag_map is not None else None
    if bam is not None and not Path(bam).exists():
        raise InputError("expected an existing tumour BAM/CRAM; found none", path=bam)
    ref = Reference.open(reference) if reference is not None else None

    warnings: list[str] = []
    lines = iter_text_lines(src)
    header = read_header(lines, src)
    fmt_defs = header.defined("FORMAT")
    info_defs = header.defined("INFO")
    if tmap is not None:
        tmap.check_header(set(fmt_defs), set(info_defs), path=str(src))
        caller_name = tmap.name
    elif caller:
        caller_name = canonical_caller(caller)
    else:
        caller_name = detect_caller(header.meta)
    roles = identify_samples(header.samples, header.meta, tumor_sample, normal_sample, path=str(src))
    log.info(
        "%s: caller=%s tumour=%s normal=%s (%s)",
        src,
        caller_name,
        roles.tumor,
        roles.normal or "-",
        roles.method,
    )
    if ref is None:
        msg = "no reference FASTA given: multi-allelics split only; no left-alignment, REF or build check"
        log.warning("%s: %s", src, msg)
        warnings.append(msg)
    else:
        _check_contig_header(header, ref, src)

    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".ccev-normalize-", dir=output.parent) as tmpdir:
        tmp = Path(tmpdir)
        clock = _StageClock(src)
        caller_tag = caller_name if tmap is None else "tagmap"
        extractor_args = dict(
            caller=caller_name if tmap is None else "generic",
            samples=header.samples,
            tumor=roles.tumor,
            normal=roles.normal,
            tag_map=tmap,
            bam=bam,
        )
        extra = [f"##ccev_caller={caller_name}", f"##ccev_tumor_sample={roles.tumor}"]
        normal_name = roles.normal
        if normal_name is None and tmap is not None and tmap.normal and tmap.normal_same_column:
            normal_name = roles.tumor  # normal values are read from the tumour column's own tags
        if normal_name is not None:
            extra.append(f"##ccev_normal_sample={normal_name}")
        extra.append(
            f"##ccev_normalize=<version={__version__},reference={ref.path.name if ref else 'none'},"
            f"min_depth={min_depth},min_vaf={min_vaf},pass_only={str(pass_only).lower()},"
            f"bam={Path(bam).name if bam else 'none'}>"
        )
        extra += [f'##ccev_warning="{w}"' for w in warnings]
        out_vcf = tmp / "out.vcf.gz"
        filters = (min_depth, min_vaf, pass_only)
        streamed = None
        if ref is not None and header.n_columns >= 9 and stream:
            streamed = _stream_all(
                header,
                ref,
                src,
                tmp,
                caller_tag,
                _consumer(out_vcf, extra, extractor_args, filters, src, None, threads),
            )
        if streamed is not None:
            pre, summary, bcf_removed, (kept, removed_rows, bam_counted) = streamed
            clock.stage("pre-pass + bcftools norm + read support + write (concurrent)")
        else:
            pre, prepared = _prepare(lines, header, ref, src, tmp, caller_tag)
            clock.stage("pre-pass")
            summary, bcf_removed, kept, removed_rows, bam_counted = _norm_and_write(
                prepared,
                tmp,
                out_vcf,
                ref.path if ref else None,
                _consumer(out_vcf, extra, extractor_args, filters, src, pre.records, threads),
                src,
            )
            prepared.unlink()
            clock.stage("bcftools norm + read support + write")

        all_removed = bcf_removed + removed_rows
        counts = Counter(r[5] for r in all_removed)
        doc = {
            "records_in": pre.records,
            "records_out": kept,
            "removed": dict(sorted(counts.items())),
            "caller": caller_name,
            "tumor_sample": roles.tumor,
            "normal_sample": normal_name,
            "multiallelic_split": summary.get("split", pre.multiallelic),
            "realigned": summary.get("realigned", 0),
            # additions beyond contract §2 (fields only added, never renamed)
            "records_after_split": summary.get("total_after_split"),
            "sample_method": roles.method,
            "input_compression": compression(src),
            "reference": str(ref.path) if ref else None,
            "reference_build": ref.build if ref else None,
            "contigs_renamed": dict(sorted(pre.renamed.items())),
            "info_renamed": dict(sorted(pre.renamed_info.items())),
            "bam_counted": bam_counted,
            "warnings": warnings,
        }
        tsv_tmp = tmp / "filtered.tsv"
        if filtered is not None:
            with open(tsv_tmp, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, delimiter="\t", lineterminator="\n")
                w.writerow(["chrom", "pos", "ref", "alt", "filter", "reason"])
                w.writerows(all_removed)
        # everything is computed: move into place (index after the VCF so a reader never sees
        # a new index beside an old VCF; stale index removed first)
        tbi = Path(str(output) + ".tbi")
        tbi.unlink(missing_ok=True)
        os.replace(out_vcf, output)
        os.replace(str(out_vcf) + ".tbi", tbi)
        if filtered is not None:
            Path(filtered).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(tsv_tmp), str(filtered))
    if stats is not None:
        write_json(stats, doc)
    log.info("%s: %d records in, %d out, removed %s", src, pre.records, kept, doc["removed"])
    return doc


# ------------------------------------------------------------------------------------------------
# pre-pass
# ------------------------------------------------------------------------------------------------


def _check_contig_header(header: Header, ref: Reference, src: Path) -> None:
    """``##contig`` lengths must agree with the FASTA index (after name harmonisation)."""
    mapper = ContigMapper(ref.names)
    for name, length in header.contigs().items():
        target = mapper.map(name)
        if target is None or length is None:
            continue  # contigs without records are checked when a record uses them
        if ref.lengths[target] != length:
            vcf_build = build_of(name, length) or build_from_text(header.meta)
            ref_build = build_of(target, ref.lengths[target]) or ref.build
            builds = ""
            if vcf_build or ref_build:
                builds = f" (VCF looks like {vcf_build or 'an unknown build'}, reference like {ref_build or 'an unknown build'})"
            raise ReferenceMismatchError(
                f"expected contig {name} length {ref.lengths[target]} as in reference {ref.path.name}; "
                f"found ##contig length {length}{builds}",
                path=src,
            )


def _prepass(lines, header: Header, ref: Reference | None, src: Path, body: Path) -> _Prepass:
    """Validate every record, rename contigs, collect sorting/REF-sample facts; write the body.

    Hot loop (one iteration per input record): kept to a few C-level string operations.
    """
    pre = _Prepass()
    mapper = ContigMapper(ref.names if ref else None)
    order = {n: i for i, n in enumerate(ref.names)} if ref else {}
    lengths = ref.lengths if ref else {}
    ntabs = header.n_columns - 1
    n_split = min(header.n_columns - 1, 8)  # fields CHROM..INFO (+ FORMAT) as separate items
    has_format = header.n_columns > 8
    lineno = header.header_line_no
    cur_contig = None
    cur_index = -1
    last_pos = 0
    finished: set[str] = set()
    fmt_seen: set[str] = set()
    filter_seen: set[str] = set()
    info_seen = pre.info_tags
    info_sig: set[str] = set()  # INFO strings' key patterns already scanned
    rename = {k: v for k, v in SOURCE_ANNOTATIONS.items() if k in header.defined("INFO")}
    pre.renamed_info = dict(rename)
    rename_rx = re.compile(r"(^|;)(" + "|".join(rename) + r")=") if rename else None
    find_keys = _INFO_KEY.findall
    names: dict[str, str] = {}  # input contig -> reference contig (validated)
    sample = ref is not None
    buf: list[str] = []
    records = 0
    multi = 0
    with open(body, "w", encoding="utf-8", newline="") as out:
        for line in lines:
            lineno += 1
            if line[-1:] != "\n":
                line += "\n"
            if line[-2:] == "\r\n":
                line = line[:-2] + "\n"
            f = line.split("\t", n_split)
            if len(f) != n_split + 1 or f[-1].count("\t") != ntabs - n_split:
                if not line.strip():
                    continue
                raise InputError(
                    f"expected {header.n_columns} tab-separated columns as in the #CHROM line; "
                    f"found {line.count(chr(9)) + 1}",
                    path=src,
                    line=lineno,
                )
            chrom, pos, refa, alt = f[0], f[1], f[3], f[4]
            if not pos.isdigit() or pos[0] == "0":
                raise InputError(f"expected POS as a positive integer; found {pos!r}", path=src, line=lineno)
            if not refa.isalpha():
                raise InputError(f"expected REF as bases (A,C,G,T,N); found {refa!r}", path=src, line=lineno)
            if not alt:
                raise InputError("expected ALT alleles or '.'; found an empty field", path=src, line=lineno)
            target = names.get(chrom)
            if target is None:
                target = mapper.map(chrom)
                if target is None:
                    raise ReferenceMismatchError(
                        f"expected contig {chrom!r} (or its chr/no-chr spelling) in reference {ref.path.name}; "
                        f"found no such contig (reference has {_few(ref.names)})",
                        path=src,
                        line=lineno,
                    )
                names[chrom] = target
                if target != chrom:
                    pre.renamed[chrom] = target
            ipos = int(pos)
            if target != chrom:
                f[0] = target
                line = "\t".join(f)
            if target != cur_contig:
                if target in finished:
                    pre.sorted = False
                if cur_contig is not None:
                    finished.add(cur_contig)
                idx = order.get(target)
                if idx is None:
                    idx = len(order)
                    order[target] = idx
                if idx < cur_index:
                    pre.sorted = False
                cur_contig, cur_index, last_pos = target, idx, 0
                if target not in pre.seen_contigs:
                    pre.seen_contigs.append(target)
                clen = lengths.get(target, 1 << 62)
            if ipos < last_pos:
                pre.sorted = False
            last_pos = ipos
            if ipos > clen:
                raise ReferenceMismatchError(
                    f"expected POS <= {clen} (length of {target} in {ref.path.name}); found {ipos}",
                    path=src,
                    line=lineno,
                )
            records += 1
            if "," in alt:
                multi += 1
            if sample and (records <= REF_SAMPLE_HEAD or records % REF_SAMPLE_EVERY == 0):
                pre.ref_sample.append((target, ipos, refa, lineno))
            info = f[7].rstrip("\n") if n_split == 7 else f[7]
            if rename_rx is not None and "=" in info:
                new_info = rename_rx.sub(lambda m: f"{m.group(1)}{rename[m.group(2)]}=", info)
                if new_info != info:
                    f[7] = new_info + ("\n" if n_split == 7 else "")
                    line = "\t".join(f)
                    info = new_info
            if info != ".":
                keys = find_keys(info)
                sig = "".join(keys)
                if sig not in info_sig:
                    info_sig.add(sig)
                    info_seen.update(keys)
            if f[6] not in filter_seen:
                filter_seen.add(f[6])
                pre.filter_tags.update(f[6].split(";"))
            if has_format:
                fmt = f[8].split("\t", 1)[0]
                if fmt not in fmt_seen:
                    fmt_seen.add(fmt)
                    pre.format_tags.update(fmt.split(":"))
            buf.append(line)
            if len(buf) >= 8192:
                out.writelines(buf)
                buf.clear()
        out.writelines(buf)
    pre.records = records
    pre.multiallelic = multi
    return pre


def _prepass_fast(header: Header, ref: Reference | None, src: Path, body, split=None) -> _Prepass | None:
    """Columnar twin of :func:`_prepass` over 8 MB blocks of raw bytes (a compiled Numba scan per
    block, :func:`~ccevariants.vcfutil.scan_records`, then NumPy; no per-line Python).

    Collects the same facts and writes the same body to ``body`` (a path, or a binary file object).
    Returns None whenever anything is unusual — a record :func:`_prepass` would reject (column
    count, POS, REF, ALT, unknown contig, POS past the contig end), blank lines, carriage returns,
    non-ASCII bytes, a corrupt compressed stream, an INFO field to rename — and the caller then
    runs :func:`_prepass`, whose line-by-line diagnostics name the file and line. Positions are
    VCF 1-based.

    ``split`` (streaming into norm; a :class:`ccevariants.normbypass.Splitter`): the header for
    norm (``split.head(facts)``, from the input header alone) goes first, then each block, once
    checked, with only the records that need norm in ``body`` and the others in the splitter's
    side file (contig renames applied per record). The pass stops with ``restart`` set when
    what was written turns out wrong — a tag used without a definition, unsorted input — and
    returns None for anything unusual as above; the caller then discards norm's output.
    """
    from .progress import Progress
    from .vcfutil import DECOMPRESS_ERRORS, body_blocks

    if header.n_columns < 9 or any(k in header.defined("INFO") for k in SOURCE_ANNOTATIONS):
        return None
    pre = _Prepass()
    mapper = ContigMapper(ref.names if ref else None)
    scan = _BlockScan(header, ref, pre, mapper)
    bar = Progress("normalize: checking records")
    try:
        with bar, open(body, "wb") if isinstance(body, (str, Path)) else nullcontext(body) as out:
            # with ``split``, ``body`` is unused (None): the splitter writes norm's pipe
            if split is not None:
                split.send(split.head(pre))
            for block in body_blocks(src, header.header_line_no):
                rename = scan.block(block)
                if rename is None:
                    return None
                bar.update(scan.last_n)
                if split is None:
                    out.write(_renamed(block, rename))
                    continue
                if not pre.sorted:
                    pre.restart = "input not sorted"
                elif _added_definitions(header, pre):
                    pre.restart = "a tag used without a header definition"
                if pre.restart:
                    break
                split.write(block, *scan.last, rename)
    except (OSError, ValueError, UnicodeDecodeError, *DECOMPRESS_ERRORS):
        return None
    pre.records = scan.records
    pre.multiallelic = scan.multi
    return pre


def _renamed(block: bytes, rename: dict[str, str]) -> bytes:
    """``block`` with the CHROM of every line renamed by ``rename``."""
    if not rename:
        return block
    data = b"\n" + block
    for old, new in rename.items():
        data = data.replace(f"\n{old}\t".encode(), f"\n{new}\t".encode())
    return data[1:]


class _BlockScan:
    """The per-block work of :func:`_prepass_fast`: checks and facts, in file order."""

    def __init__(self, header: Header, ref: Reference | None, pre: _Prepass, mapper: ContigMapper) -> None:
        self.header, self.pre, self.mapper = header, pre, mapper
        self.order = {n: i for i, n in enumerate(ref.names)} if ref else {}
        self.lengths = ref.lengths if ref else {}
        self.sample = ref is not None
        self.st = {"cur": None, "index": -1, "last_pos": 0, "clen": 1 << 62}
        self.finished: set[str] = set()
        self.names: dict[str, str] = {}
        self.info_sig: set[bytes] = set()
        self.seen = {5: set(), 7: set()}  # FILTER, FORMAT strings already split
        self.records = 0
        self.multi = 0
        self.last_n = 0

    def block(self, block: bytes) -> dict[str, str] | None:
        """Check one block and collect its facts; returns the renames its contigs need, or None
        when the block holds anything the line-by-line pass must look at."""
        from .normtext import run_heads
        from .vcfutil import gather_segments, scan_records, strip_info_values

        pre, st = self.pre, self.st
        if b"\r" in block or not block.isascii():
            return None
        arr = np.frombuffer(block, dtype=np.uint8)
        scan = scan_records(block, self.header.n_columns)
        if scan is None:
            return None  # a record the line-by-line pass rejects (or a blank line)
        starts, t, pos, has_comma, new_chrom = scan
        n = len(pos)
        self.multi += int(np.count_nonzero(has_comma))
        rs, rl = t[:, 2] + 1, t[:, 3] - t[:, 2] - 1
        # contig runs: lines whose CHROM differs from the previous line's
        change = np.flatnonzero(new_chrom[1:]) + 1
        run_starts = np.r_[0, change].astype(np.int64)
        run_ends = np.r_[change, n].astype(np.int64)
        targets: list[str] = []
        rename: dict[str, str] = {}
        for r0, r1 in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
            chrom = block[int(starts[r0]) : int(t[r0, 0])].decode()
            target = self.names.get(chrom)
            if target is None:
                target = self.mapper.map(chrom)
                if target is None:
                    return None
                self.names[chrom] = target
                if target != chrom:
                    pre.renamed[chrom] = target
            if target != chrom:
                rename[chrom] = target
            targets.append(target)
            if target != st["cur"]:
                if target in self.finished:
                    pre.sorted = False
                if st["cur"] is not None:
                    self.finished.add(st["cur"])
                idx = self.order.get(target)
                if idx is None:
                    idx = len(self.order)
                    self.order[target] = idx
                if idx < st["index"]:
                    pre.sorted = False
                st.update(cur=target, index=idx, last_pos=0, clen=self.lengths.get(target, 1 << 62))
                if target not in pre.seen_contigs:
                    pre.seen_contigs.append(target)
            p = pos[r0:r1]
            if p[0] < st["last_pos"] or (len(p) > 1 and np.any(p[1:] < p[:-1])):
                pre.sorted = False
            st["last_pos"] = int(p[-1])
            if int(p.max()) > st["clen"]:
                return None
        if self.sample:
            g = self.records + np.arange(1, n + 1)
            sel = np.flatnonzero((g <= REF_SAMPLE_HEAD) | (g % REF_SAMPLE_EVERY == 0))
            run_of = np.searchsorted(run_starts, sel, side="right") - 1
            line0 = self.header.header_line_no + self.records
            for i, ri in zip(sel.tolist(), run_of.tolist(), strict=True):
                refa = block[int(rs[i]) : int(rs[i] + rl[i])].decode()
                pre.ref_sample.append((targets[ri], int(pos[i]), refa, line0 + i + 1))
        self.records += n
        self.last_n = n
        self.last = (scan, targets, run_starts, run_ends)  # for normbypass.Splitter
        # INFO keys ("KEY=" / flag "KEY"), FILTER and FORMAT strings: only lines that differ
        # from the previous line are looked at (runs of equal patterns)
        h = run_heads(arr, t[:, 6] + 1, t[:, 7], keys_only=True)
        info = gather_segments(arr, t[h, 6] + 1, t[h, 7] - t[h, 6] - 1, sep=10)
        for sig in set(strip_info_values(info).split(b"\n")) - self.info_sig:
            self.info_sig.add(sig)
            if sig and sig != b".":
                pre.info_tags.update(_INFO_KEY.findall(sig.decode()))
        # FILTER, and FORMAT between the 8th and 9th tab (read_header guarantees a sample)
        for col, tags, sep in ((5, pre.filter_tags, ";"), (7, pre.format_tags, ":")):
            h = run_heads(arr, t[:, col] + 1, t[:, col + 1])
            text = gather_segments(arr, t[h, col] + 1, t[h, col + 1] - t[h, col] - 1, sep=10).tobytes()
            for f in set(text.split(b"\n")) - self.seen[col]:
                self.seen[col].add(f)
                if f:
                    tags.update(f.decode().split(sep))
        return rename


def _few(names, k: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:k]) + (f", … ({len(names)} contigs)" if len(names) > k else "")


def _check_ref_sample(pre: _Prepass, ref: Reference, header: Header, src: Path) -> None:
    """REF alleles of the sampled records against the FASTA; too many mismatches = wrong build."""
    import pysam

    if not pre.ref_sample:
        return
    fa = pysam.FastaFile(str(ref.path))
    mismatches = []
    try:
        for chrom, pos, refa, lineno in pre.ref_sample:
            seq = fa.fetch(chrom, pos - 1, pos - 1 + len(refa)).upper()
            a = refa.upper()
            if len(seq) != len(a) or any(
                x != y and x != "N" and y != "N" for x, y in zip(seq, a, strict=True)
            ):
                mismatches.append((chrom, pos, refa, seq, lineno))
    finally:
        fa.close()
    frac = len(mismatches) / len(pre.ref_sample)
    if mismatches and frac > REF_MISMATCH_FRACTION:
        chrom, pos, refa, seq, lineno = mismatches[0]
        vcf_build = guess_build(header.contigs()) or build_from_text(header.meta)
        builds = ""
        if vcf_build or ref.build:
            builds = f"; VCF looks like {vcf_build or 'an unknown build'}, reference like {ref.build or 'an unknown build'}"
        raise ReferenceMismatchError(
            f"expected REF alleles to match reference {ref.path.name}; found {len(mismatches)} of "
            f"{len(pre.ref_sample)} sampled records differ, first {chrom}:{pos} REF {refa} vs reference "
            f"{seq or '(nothing)'}{builds} — wrong genome build or reference?",
            path=src,
            line=lineno,
        )
    if mismatches:
        log.warning(
            "%s: %d of %d sampled REF alleles differ from %s; such records are excluded (reason ref_mismatch)",
            src,
            len(mismatches),
            len(pre.ref_sample),
            ref.path.name,
        )


def _added_definitions(header: Header, pre: _Prepass) -> list[str]:
    """Header lines for FILTER/FORMAT/INFO IDs the records use without a definition (htslib
    cannot write a record whose FILTER is undefined)."""
    fmt_defined = set(header.defined("FORMAT"))
    lines = [
        f'##FILTER=<ID={tag},Description="Undeclared in the input header (added by ccevariants)">'
        for tag in sorted(pre.filter_tags - set(header.defined("FILTER")) - {"", ".", "PASS"})
    ]
    for tag in sorted(pre.format_tags - fmt_defined - {"", "."}):
        number, typ, desc = KNOWN_FORMAT.get(tag, (".", "String", "Undeclared in the input header"))
        lines.append(
            f'##FORMAT=<ID={tag},Number={number},Type={typ},Description="{desc} (added by ccevariants)">'
        )
    info_defined = set(header.defined("INFO"))
    for item in sorted(pre.info_tags):
        tag = item.rstrip("=")
        if tag in info_defined or tag == ".":
            continue
        info_defined.add(tag)
        if item.endswith("="):
            lines.append(
                f'##INFO=<ID={tag},Number=.,Type=String,Description="Undeclared in the input header (added by ccevariants)">'
            )
        else:
            lines.append(
                f'##INFO=<ID={tag},Number=0,Type=Flag,Description="Undeclared in the input header (added by ccevariants)">'
            )
    return lines


def _prepared_header(header: Header, ref: Reference | None, pre: _Prepass, caller: str) -> str:
    """Header for norm: contigs from the reference, missing FORMAT/INFO definitions, AD Number fix."""
    meta: list[str] = []
    for ln in header.meta:
        if ln.startswith("##contig=") or ln.startswith("##ccev_"):
            continue
        m = re.match(r"^##INFO=<ID=(CSQ|ANN),", ln)
        if m and m.group(1) in pre.renamed_info:
            ln = ln.replace(f"ID={m.group(1)},", f"ID={pre.renamed_info[m.group(1)]},", 1)
        if caller in AD_PER_ALLELE and re.match(r"^##FORMAT=<ID=AD,Number=\.,", ln):
            ln = ln.replace("Number=.", "Number=R", 1)  # per-allele AD: split it per allele
        meta.append(ln)
    if ref is not None:
        contigs = [f"##contig=<ID={n},length={ref.lengths[n]}>" for n in ref.names]
    else:
        declared = header.contigs()
        names = pre.contig_order or list(declared) + [c for c in pre.seen_contigs if c not in declared]
        contigs = [
            f"##contig=<ID={n},length={declared[n]}>" if declared.get(n) else f"##contig=<ID={n}>"
            for n in names
        ]
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if header.n_columns > 8:
        cols += ["FORMAT", *header.samples]
    return (
        "\n".join(meta[:1] + contigs + meta[1:] + _added_definitions(header, pre))
        + "\n"
        + "\t".join(cols)
        + "\n"
    )


def _assemble(
    prepared: Path, body: Path, header: Header, ref: Reference | None, pre: _Prepass, caller: str
) -> None:
    """:func:`_prepared_header` + body."""
    with open(prepared, "w", encoding="utf-8", newline="") as out:
        out.write(_prepared_header(header, ref, pre, caller))
        with open(body, encoding="utf-8", newline="") as fh:
            shutil.copyfileobj(fh, out, 1 << 20)


# ------------------------------------------------------------------------------------------------
# bcftools
# ------------------------------------------------------------------------------------------------


def _bcftools(command: str, *args: str, src: Path) -> list[str]:
    import pysam.bcftools as bcftools
    from pysam.utils import SamtoolsError

    tool = getattr(bcftools, command)
    try:
        tool(*args, catch_stdout=False)
    except SamtoolsError as exc:
        text = str(exc)
        m = re.search(r"stderr=(.*)", text, re.S)
        detail = (m.group(1) if m else text).strip().splitlines()
        detail = [d for d in detail if d.strip() and not d.startswith("[W::")] or detail or ["(no message)"]
        raise InputError(
            f"expected input bcftools {command} accepts; found: {detail[-1].strip()[:300]}", path=src
        ) from None
    messages = tool.get_messages() or []
    if isinstance(messages, str):
        messages = messages.splitlines()
    return list(messages)


#: The bcftools norm options of the pipeline: split every multi-allelic (-m -any; Number=R/A fields
#: such as AD are split per allele) and record each modified record's original form in INFO/CCEV_ORIG
#: (CHROM|POS|REF|ALT|ALT-index); with a reference also left-align/trim (-f) and check REF, warning
#: about and excluding mismatching records (-c wx).
NORM_SPLIT = ("-m", "-any", "--old-rec-tag", "CCEV_ORIG")
NORM_CHECK_REF = ("-c", "wx")


def run_norm(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    options: tuple[str, ...] | None = None,
    output_type: str = "u",
    src_label: str | os.PathLike | None = None,
) -> tuple[dict[str, int], list[list]]:
    """Run ``bcftools norm`` through pysam with the pipeline's options (or ``options``).

    Returns the parsed ``Lines total/split/…`` summary and the records bcftools excluded
    (``[chrom, pos, ref, alt, filter, reason]``, 1-based pos). Failures raise InputError.
    """
    if options is None:
        options = NORM_SPLIT + (NORM_CHECK_REF if reference is not None else ())
    args = ["--no-version", *options, "-O", output_type, "-o", str(dst)]
    if reference is not None:
        args += ["-f", str(reference)]
    messages = _bcftools("norm", *args, str(src), src=Path(src_label or src))
    return _parse_norm_messages(messages)


class DuplicateTracker:
    """Exact-duplicate rule of ``bcftools norm -d exact`` on a sorted stream.

    A record is a duplicate when an earlier record at the same CHROM and POS (1-based) has the
    same REF and the same set of ALT alleles (order ignored, as bcftools does) and, for symbolic
    alleles (``<DEL>``), the same reference length (END/SVLEN); the first one is kept. Records must arrive sorted by contig
    and position; :meth:`seen` returns True for duplicates.
    """

    def __init__(self) -> None:
        self.chrom: str | None = None
        self.pos = -1
        self.keys: set[tuple[str, str]] = set()

    def seen(self, chrom: str, pos: int, ref: str, alt: str, rlen: int | None = None) -> bool:
        """True when this record duplicates an earlier one; ``rlen`` = reference span (symbolic)."""
        if chrom != self.chrom or pos != self.pos:
            self.chrom, self.pos, self.keys = chrom, pos, set()
        key = (ref, alt if "," not in alt else ",".join(sorted(alt.split(","))), rlen if "<" in alt else None)
        if key in self.keys:
            return True
        self.keys.add(key)
        return False


def _parse_norm_messages(messages: list[str]) -> tuple[dict[str, int], list[list]]:
    """bcftools norm stderr: the ``Lines total/split/...`` summary and excluded records."""
    summary: dict[str, int] = {}
    removed: list[list] = []
    for msg in messages:
        parts = msg.rstrip("\n").split("\t")
        if parts[0] == "REF_MISMATCH" and len(parts) >= 5:
            removed.append([parts[1], int(parts[2]), parts[3], parts[4], "", "ref_mismatch"])
        elif parts[0] == "NON_ACGTN_ALT" and len(parts) >= 4:
            removed.append([parts[1], int(parts[2]), "", parts[3], "", "non_acgtn_alt"])
        elif msg.startswith("Lines") and len(parts) == 2:
            keys = parts[0].split()[-1].rstrip(":").split("/")
            vals = parts[1].split("/")
            for k, val in zip(keys, vals, strict=False):
                if val.strip().isdigit():
                    summary[k] = int(val)
    if "total" in summary:
        summary["total_after_split"] = summary["total"] + summary.get("split", 0)
    return summary, removed


# ------------------------------------------------------------------------------------------------
# read support, filters, output
# ------------------------------------------------------------------------------------------------


def _bam_fallback(bam, cols: Columns, tumour, pos: np.ndarray) -> int:
    """Fill tumour read support from the BAM where the VCF gave no ALT count; returns how many."""
    miss = np.flatnonzero(tumour.ad_alt < 0)
    if not len(miss):
        return 0
    chrom = np.asarray(cols.base["chrom"], dtype=object)[miss].tolist()
    ref = np.asarray(cols.base.raw("ref")[miss], dtype=object).tolist()
    alt = np.asarray(cols.base.raw("alt")[miss], dtype=object).tolist()
    r, a, d = count_from_bam(bam, chrom, pos[miss].tolist(), ref, alt)
    got = ~np.isnan(a)
    if not got.any():
        return 0
    new = finalise(r, a, d, np.full(len(miss), np.nan), cols.multi()[miss])
    idx = miss[got]
    tumour.dp[idx] = new.dp[got]
    tumour.ad_ref[idx] = new.ad_ref[got]
    tumour.ad_alt[idx] = new.ad_alt[got]
    tumour.af[idx] = new.af[got]
    return int(got.sum())


@dataclass
class _Chunk:
    """One chunk of normalised records: base columns + harmonised read support (1-based pos)."""

    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    filter: np.ndarray
    end: np.ndarray
    tumor: object
    normal: object | None


def exact_duplicates(
    chrom: np.ndarray,
    pos: np.ndarray,
    ref: np.ndarray,
    alt: np.ndarray,
    end: np.ndarray,
    carry: list | None = None,
) -> np.ndarray:
    """Vectorised ``bcftools norm -d exact`` rule on sorted records (1-based ``pos``, ``end``).

    True for a record when an earlier one has the same CHROM, POS, REF, the same set of ALT
    alleles (order ignored) and, for symbolic ALTs, the same END; the first is kept. Only records
    sharing CHROM:POS with a neighbour are compared. ``carry`` (updated in place) holds the keys of
    the previous chunk's last position so duplicates across a chunk boundary are found.
    :class:`DuplicateTracker` is the per-record twin.
    """
    carry = [] if carry is None else carry
    n = len(pos)
    dup = np.zeros(n, dtype=bool)
    if not n:
        return dup
    same_prev = np.zeros(n, dtype=bool)
    same_prev[1:] = (pos[1:] == pos[:-1]) & (chrom[1:] == chrom[:-1])
    if carry:
        same_prev[0] = carry[0][0] == chrom[0] and carry[0][1] == pos[0]
    cand = same_prev.copy()
    cand[:-1] |= same_prev[1:]
    last_c, last_p = chrom[-1], int(pos[-1])
    tail_start = n - 1
    while tail_start > 0 and pos[tail_start - 1] == last_p and chrom[tail_start - 1] == last_c:
        tail_start -= 1
    idx = np.union1d(np.flatnonzero(cand), np.arange(tail_start, n))
    alt_key = [a if "," not in a else ",".join(sorted(a.split(","))) for a in alt[idx].tolist()]
    rlen = [
        int(e - p + 1) if "<" in a else -1
        for a, e, p in zip(alt_key, end[idx].tolist(), pos[idx].tolist(), strict=True)
    ]
    keys = list(zip(chrom[idx].tolist(), pos[idx].tolist(), ref[idx].tolist(), alt_key, rlen, strict=True))
    seen = {tuple(k) for k in carry}
    for j, k in enumerate(keys):
        if k in seen:
            dup[idx[j]] = True
        else:
            seen.add(k)
    tail = [k for k in keys if k[0] == last_c and k[1] == last_p]
    if carry and carry[0][0] == last_c and carry[0][1] == last_p:
        tail = carry + tail
    carry[:] = tail
    return dup


def _reasons(res: _Chunk, carry: list, min_depth: int, min_vaf: float, pass_only: bool) -> np.ndarray:
    """Removal reason per record ('' = kept), vectorised; first matching rule wins.

    Order: duplicate (same CHROM, POS, REF, ALT set and, for symbolic ALTs, END — the
    ``bcftools norm -d exact`` rule; first kept), no_alt, star_allele, filter:<FILTER>
    (when ``pass_only``; '.' counts as PASS), min_depth, min_vaf. Missing depth/VAF fail an
    active threshold. ``carry`` holds the keys of the previous chunk's last position so that
    duplicates spanning a chunk boundary are found; it is updated in place.
    """
    n = len(res.pos)
    dup = exact_duplicates(res.chrom, res.pos, res.ref, res.alt, res.end, carry)
    filt = res.filter
    conds = [
        dup,
        res.alt == ".",
        res.alt == "*",
        ((filt != "PASS") & (filt != ".")) if pass_only else None,
        (res.tumor.dp < min_depth) if min_depth > 0 else None,
        ~(res.tumor.af >= min_vaf) if min_vaf > 0 else None,
    ]
    # reason code per record, 0 = kept; applied last rule first so the first matching rule wins
    code = np.zeros(n, dtype=np.int8)
    for j in range(len(conds), 0, -1):
        if conds[j - 1] is not None:
            code[conds[j - 1]] = j
    names = np.array(["", "duplicate", "no_alt", "star_allele", "", "min_depth", "min_vaf"], dtype=object)
    reasons = names[code]
    nonpass = np.flatnonzero(code == 4)
    if len(nonpass):
        reasons[nonpass] = ["filter:" + f for f in filt[nonpass].tolist()]
    return reasons


def _role_strings(prefix: str, dp: np.ndarray, ar: np.ndarray, aa: np.ndarray, af: np.ndarray) -> list[str]:
    """``P_DP=..;P_AD=r,a;P_AF=..`` per record; one f-string for complete records, parts otherwise."""
    complete = (dp >= 0) & (ar >= 0) & (aa >= 0) & ~np.isnan(af)
    out = []
    fmt_full = f"{prefix}_DP={{}};{prefix}_AD={{}},{{}};{prefix}_AF={{:.6g}}"
    for ok, d, r, a, f in zip(
        complete.tolist(), dp.tolist(), ar.tolist(), aa.tolist(), af.tolist(), strict=True
    ):
        if ok:
            out.append(fmt_full.format(d, r, a, f))
            continue
        parts = []
        if d >= 0:
            parts.append(f"{prefix}_DP={d}")
        if r >= 0 and a >= 0:
            parts.append(f"{prefix}_AD={r},{a}")
        if f == f:
            parts.append(f"{prefix}_AF={f:.6g}")
        out.append(";".join(parts))
    return out


def _formatted(values: np.ndarray, fmt: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fmt % v`` for every value, formatting each distinct value once (bit-exact for floats).

    Returns ``(text, start, length)``: the distinct texts as one uint8 array and per value the
    offset and length of its text in it.
    """
    keys = values.view(np.int64) if values.dtype == np.float64 else values
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    texts = [fmt % v for v in values[first].tolist()]
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    offs = np.zeros(len(texts), np.int64)
    np.cumsum(lens[:-1], out=offs[1:])
    return np.frombuffer(b"".join(texts), dtype=np.uint8), offs[inverse], lens[inverse]


def _emit(blk, res: _Chunk, keep: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The kept records of ``blk`` with their INFO additions ``;T_DP=..;T_AD=r,a;T_AF=..`` (+
    ``N_*``), written by one compiled loop (:func:`ccevariants.normtext.emit_records`).

    Records with every value known take the columnar path: integers are written by the loop and
    each distinct VAF is formatted once (``%.6g``, bit-exact); records with a missing value get
    their text from :func:`_role_strings` (missing keys omitted). Also returns, per kept
    record, the offset just past its line in the bytes.
    """
    from .normtext import emit_records

    roles = [("T", res.tumor)] + ([("N", res.normal)] if res.normal is not None else [])
    n = len(keep)
    comp = keep.copy()
    for _, r in roles:
        comp &= (r.dp >= 0) & (r.ad_ref >= 0) & (r.ad_alt >= 0) & ~np.isnan(r.af)
    full = np.flatnonzero(comp)
    ints = np.zeros((n, 3 * len(roles)), np.int64)
    af_s = np.zeros((n, len(roles)), np.int64)
    af_l = np.zeros((n, len(roles)), np.int64)
    bufs = []
    base = 0
    literals = []
    for j, (prefix, r) in enumerate(roles):
        literals += [f";{prefix}_DP=".encode(), f";{prefix}_AD=".encode(), b",", f";{prefix}_AF=".encode()]
        ints[full, 3 * j] = r.dp[full]
        ints[full, 3 * j + 1] = r.ad_ref[full]
        ints[full, 3 * j + 2] = r.ad_alt[full]
        if len(full):
            text, start, length = _formatted(r.af[full], b"%.6g")
            af_s[full, j] = start + base
            af_l[full, j] = length
            bufs.append(text)
            base += len(text)
    af_buf = np.concatenate(bufs) if bufs else np.zeros(0, np.uint8)
    extra_s = np.zeros(n, np.int64)
    extra_l = np.zeros(n, np.int64)
    extra = np.zeros(0, np.uint8)
    rest = np.flatnonzero(keep & ~comp)
    if len(rest):
        parts = [_role_strings(p, r.dp[rest], r.ad_ref[rest], r.ad_alt[rest], r.af[rest]) for p, r in roles]
        texts = []
        for j in range(len(rest)):
            text = ";".join(x[j] for x in parts if x[j])
            texts.append((";" + text).encode() if text else b"")
        extra_l[rest] = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        extra_s[rest] = np.cumsum(extra_l[rest]) - extra_l[rest]
        extra = np.frombuffer(b"".join(texts), np.uint8)
    return emit_records(blk, keep, comp, ints, af_s, af_l, af_buf, literals, extra, extra_s, extra_l)


_OWN_INFO = re.compile(r"(^|;)(T|N)_(DP|AD|AF)(=[^;]*)?(?=;|$)")


def _query_plan(extract_args: dict, fmt_tags, info_tags):
    """``(caller, tag_map, n_samples, tumour index, normal index, FORMAT exprs, INFO exprs)`` for one file."""
    samples = extract_args["samples"]
    tmap = extract_args["tag_map"]
    caller = extract_args["caller"]
    t_idx = samples.index(extract_args["tumor"]) if extract_args["tumor"] is not None else None
    n_idx = samples.index(extract_args["normal"]) if extract_args["normal"] is not None else None
    fmt_exprs, info_exprs = query_exprs(caller, fmt_tags, info_tags, len(samples), tmap)
    return caller, tmap, len(samples), t_idx, n_idx, fmt_exprs, info_exprs


def _sort_keys(chrom: np.ndarray, pos: np.ndarray, order: dict[str, int]) -> np.ndarray:
    """Sort keys (contig rank in header order, position); one dict lookup per run of equal contigs."""
    change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
    run_starts = np.r_[0, change]
    run_codes = [order.get(c, len(order)) for c in chrom[run_starts].tolist()]
    codes = np.repeat(np.array(run_codes, dtype=np.int64), np.diff(np.r_[run_starts, len(chrom)]))
    return codes * (1 << 33) + pos


def _evaluate(cols, chrom, pos, tumour, normal, carry, min_depth, min_vaf, pass_only, removed):
    """One chunk's :class:`_Chunk` and keep mask; removed records (with reasons) go to ``removed``."""
    res = _Chunk(
        chrom=chrom,
        pos=pos,
        ref=cols.base.raw("ref"),
        alt=cols.base.raw("alt"),
        filter=cols.base.raw("filter"),
        end=np.asarray(cols.base["end"], dtype=np.int64),
        tumor=tumour,
        normal=normal,
    )
    reasons = _reasons(res, carry, min_depth, min_vaf, pass_only)
    keep = reasons == ""
    gone = np.flatnonzero(~keep)
    if len(gone):
        removed.extend(
            [
                list(row)
                for row in zip(
                    res.chrom[gone].tolist(),
                    res.pos[gone].tolist(),
                    res.ref[gone].tolist(),
                    res.alt[gone].tolist(),
                    res.filter[gone].tolist(),
                    reasons[gone].tolist(),
                    strict=True,
                )
            ]
        )
    return res, keep


# ------------------------------------------------------------------------------------------------
# after norm: read support, filters, INFO additions, BGZF — streamed from norm's text output
# ------------------------------------------------------------------------------------------------


def _support_keys(extract_args: dict) -> list[str]:
    """The INFO keys this file gets: ``T_*`` always, ``N_*`` when there is a normal."""
    tmap = extract_args["tag_map"]
    n_idx = extract_args["normal"]
    has_normal = (
        (n_idx is not None)
        if tmap is None
        else bool(tmap.normal) and (tmap.normal_same_column or n_idx is not None)
    )
    return ["T_DP", "T_AD", "T_AF"] + (["N_DP", "N_AD", "N_AF"] if has_normal else [])


def _read_stream_header(fh, src) -> tuple[list[str], str]:
    """``##`` lines and the ``#CHROM`` line at the start of a VCF text stream."""
    meta: list[str] = []
    while True:
        raw = fh.readline()
        if not raw:
            raise InputError("expected a VCF header from bcftools norm; found the stream ended", path=src)
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith("##"):
            meta.append(line)
        elif line.startswith("#CHROM"):
            return meta, line
        else:  # pragma: no cover - htslib always writes a #CHROM line
            raise InputError(f"expected the #CHROM line; found {line[:60]!r}", path=src)


#: Bytes of norm's output handled per block by the consumer (bounded memory; tests shrink it).
CHUNK_BYTES = 2 << 20


def _stream_blocks(fh, size: int | None = None):
    """Blocks of about ``size`` bytes (default :data:`CHUNK_BYTES`) of complete lines."""
    from .vcfutil import line_blocks

    return line_blocks(fh, size or CHUNK_BYTES)


def _without_own_keys(blk, rows: np.ndarray):
    """``blk`` with ``T_*``/``N_*`` items removed from the INFO of ``rows`` (input that already
    carries this pipeline's keys, e.g. a re-normalised output: the new values replace them)."""
    from .normtext import Block

    lines = blk.data.decode("utf-8").split("\n")[:-1]
    for i in rows.tolist():
        f = lines[i].split("\t", 8)
        if "T_" in f[7] or "N_" in f[7]:
            f[7] = _OWN_INFO.sub("", f[7]).lstrip(";") or "."
            lines[i] = "\t".join(f)
    return Block(("\n".join(lines) + "\n").encode(), blk.n_columns)


def _consume(
    fh,
    out_vcf: Path,
    extra_header,
    extract_args,
    min_depth,
    min_vaf,
    pass_only,
    src,
    progress,
    threads: int = 2,
):
    """Read support, filters and INFO additions for norm's VCF text on ``fh``; BGZF to ``out_vcf``.

    Per block of lines (:class:`ccevariants.normtext.Block`): the caller's fields as
    ``bcftools query`` would print them (:func:`ccevariants.normtext.query_frame`), harmonised
    ``T_*``/``N_*`` (:func:`~ccevariants.callers.support_from_columns`, BAM fallback), removal
    reasons, then the kept lines spliced with their additions and compressed on worker threads.
    Returns ``(kept, removed, bam_counted)``, or None when the records are not sorted (norm moved
    one past its sorting window; the caller sorts and calls again).
    """
    from .bgzf import BgzfWriter
    from .normtext import Block, query_frame
    from .tbi import TabixBuilder

    meta, chrom_line = _read_stream_header(fh, src)
    h = Header(meta=meta, samples=[], n_columns=8, header_line_no=len(meta) + 1)
    fmt_tags, info_tags, contigs = set(h.defined("FORMAT")), set(h.defined("INFO")), list(h.defined("contig"))
    caller, tmap, n_samples, t_idx, n_idx, fmt_exprs, info_exprs = _query_plan(
        extract_args, fmt_tags, info_tags
    )
    own = any(k in info_tags for k in INFO_LINES)
    keys = _support_keys(extract_args)
    header_lines = (
        meta + [INFO_LINES[k] for k in keys if k not in info_tags] + list(extra_header) + [chrom_line]
    )
    n_columns = chrom_line.count("\t") + 1
    order = {c: i for i, c in enumerate(contigs)}
    last = -1
    carry: list = []
    removed: list[list] = []
    kept = bam_counted = 0
    bam = extract_args.get("bam")
    index = TabixBuilder()
    with BgzfWriter(out_vcf, threads=threads) as out:
        out.write(("\n".join(header_lines) + "\n").encode())
        for data in _stream_blocks(fh):
            blk = Block(data, n_columns)
            cols = Columns(
                query_frame(blk, fmt_exprs, info_exprs, n_samples), info_exprs, fmt_exprs, n_samples
            )
            tumour, normal = support_from_columns(cols, caller, t_idx, n_idx, tmap)
            pos = np.asarray(cols.base["pos"], dtype=np.int64)
            chrom = np.asarray(cols.base["chrom"], dtype=object)
            key = _sort_keys(chrom, pos, order)
            if key[0] < last or np.any(key[1:] < key[:-1]):
                return None
            last = int(key[-1])
            if bam is not None:
                bam_counted += _bam_fallback(bam, cols, tumour, pos)
            res, keep = _evaluate(
                cols, chrom, pos, tumour, normal, carry, min_depth, min_vaf, pass_only, removed
            )
            if own:
                blk = _without_own_keys(blk, np.flatnonzero(keep))
            text, line_end = _emit(blk, res, keep)
            rows = np.flatnonzero(keep)
            uend = out.written + line_end[rows]
            ustart = np.r_[out.written, uend[:-1]] if len(rows) else uend
            index.add(chrom[rows], pos[rows] - 1, res.end[rows], ustart, uend)
            out.write(text)
            kept += int(keep.sum())
            progress.update(blk.n)
    index.write(str(out_vcf) + ".tbi", out.member_sizes)
    return kept, removed, bam_counted


def _in_child(work, result: Path) -> None:  # pragma: no cover - runs in a forked process
    """Run ``work()`` in a forked process and pickle its outcome to ``result``: ``("ok", value)``,
    ``("restart", why)`` when ``work`` returns a :class:`_Restart`, ``("error", …)`` for an
    InputError (re-raised by the parent), ``("crash", repr)`` otherwise. Never returns
    (``os._exit``), so nothing of the parent's state is unwound twice."""
    import pickle

    code = 1
    try:
        try:
            value = work()
            outcome = ("restart", value.why) if isinstance(value, _Restart) else ("ok", value)
            code = 0
        except InputError as exc:
            outcome = ("error", (type(exc).__name__, exc.detail, exc.path, exc.line))
        except BaseException as exc:  # noqa: BLE001 - reported by the parent
            outcome = ("crash", repr(exc))
        partial = result.with_name(result.name + ".part")
        with open(partial, "wb") as fh:
            pickle.dump(outcome, fh)
        os.replace(partial, result)  # a process killed while writing leaves no outcome
    finally:
        os._exit(code)


@dataclass
class _Restart:
    """A streamed run that must be repeated step by step, and why."""

    why: str


class _Follow:
    """Read a file that another process is still writing (``tail -f``): ``read(n)`` returns ``n``
    bytes, or fewer only at the end once ``finished()`` is True. The writer never waits for the
    reader (unlike a pipe, whose 64 KiB buffer would stall norm while a block is processed)."""

    def __init__(self, path: Path, finished) -> None:
        import time

        self._sleep = time.sleep
        self.finished = finished
        while not path.exists():
            if finished():
                break
            self._sleep(0.005)
        self.fh = open(path, "rb") if path.exists() else None  # noqa: SIM115 - closed by close()

    def read(self, n: int) -> bytes:
        if self.fh is None:
            return b""
        parts = []
        need = n
        while need > 0:
            got = self.fh.read(need)
            if got:
                parts.append(got)
                need -= len(got)
                continue
            if self.finished():
                got = self.fh.read(need)  # written between the last read and the exit
                if got:
                    parts.append(got)
                    need -= len(got)
                    continue
                break
            self._sleep(0.002)
        return b"".join(parts)

    def read_some(self, n: int) -> bytes:
        """Up to ``n`` bytes, as soon as at least one is there; ``b""`` only at the end."""
        if self.fh is None:
            return b""
        while True:
            got = self.fh.read(n)
            if got:
                return got
            if self.finished():
                return self.fh.read(n)
            self._sleep(0.002)

    def readline(self) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            c = self.read(1)
            if not c:
                break
            line += c
        return line

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def _norm_streamed(prepared, tmp: Path, ref_path, src, consume, close_after_fork: tuple[int, ...] = ()):
    """``bcftools norm`` in a forked process writing VCF text to a file that ``consume(fh)``
    reads while norm still writes it (the two use both cores). Returns ``(norm summary, norm
    removed, consume's result)``, or None when consume found the records unsorted.
    ``close_after_fork``: file descriptors the norm process reads and this one must not hold."""
    import signal

    result = tmp / "norm.outcome"
    normed = tmp / "normed.vcf"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        _in_child(lambda: run_norm(prepared, normed, ref_path, output_type="v", src_label=src), result)
    for fd in close_after_fork:
        os.close(fd)
    state = {"done": False}

    def finished() -> bool:
        if not state["done"]:
            state["done"] = _reap(pid, "bcftools norm", src, block=False)
        return state["done"]

    got = None
    failure: BaseException | None = None
    reader = _Follow(normed, finished)
    try:
        got = consume(reader)
    except BaseException as exc:  # norm's own error explains a truncated stream better
        failure = exc
    finally:
        reader.close()
    killed = False
    if not state["done"]:
        if failure is not None or got is None:
            os.kill(pid, signal.SIGKILL)
            killed = True
        _reap(pid, "bcftools norm", src)
    normed.unlink(missing_ok=True)
    outcome = None if killed else _outcome(result)
    _raise_outcome(outcome)
    if failure is not None:
        raise failure
    if got is None:
        return None
    if outcome is None or outcome[0] != "ok":  # pragma: no cover - htslib crashed
        raise RuntimeError(f"bcftools norm failed: {outcome[1] if outcome else 'no outcome'}")
    summary, removed = outcome[1]
    return summary, removed, got


class _Child:
    """A forked process: ``poll()`` (True once it has exited; never blocks) and ``wait()``."""

    def __init__(self, pid: int, what: str, src) -> None:
        self.pid, self.what, self.src = pid, what, src
        self.done = False

    def poll(self) -> bool:
        if not self.done:
            self.done = _reap(self.pid, self.what, self.src, block=False)
        return self.done

    def wait(self) -> None:
        if not self.done:
            self.done = _reap(self.pid, self.what, self.src)


def _merging(consume, side: Path, side_finished):
    """``consume`` for norm's output merged with the records that skipped norm (written to
    ``side`` by the pre-pass, finished when ``side_finished()``)."""
    from .normbypass import Merged

    def wrapped(fh):
        reader = _Follow(side, side_finished)
        try:
            return consume(Merged(fh, reader))
        finally:
            reader.close()

    return wrapped


def _reap(pid: int, what: str, src, block: bool = True) -> bool:
    """Wait for a child process (or only check, ``block=False``); logs its CPU seconds. True once
    it has exited."""
    got, _, usage = os.wait4(pid, 0 if block else os.WNOHANG)
    if got == 0:
        return False
    log.debug("%s: %s process: %.2f s CPU", src, what, usage.ru_utime + usage.ru_stime)
    return True


def _outcome(path: Path):
    import pickle

    if not path.exists():
        return None
    with open(path, "rb") as fh:
        got = pickle.load(fh)
    path.unlink()
    return got


def _raise_outcome(outcome) -> None:
    if outcome is not None and outcome[0] == "error":
        name, detail, path, line = outcome[1]
        cls = ReferenceMismatchError if name == "ReferenceMismatchError" else InputError
        raise cls(detail, path=path, line=line) from None


def _prepass_into(header, ref, src, w: int, caller_tag: str, side: Path):  # pragma: no cover - forked
    """Work of the forked pre-pass process (see :func:`_stream_all`): the records that need norm
    into pipe ``w`` (after norm's header), the others into the file ``side``; returns the facts,
    or a :class:`_Restart`."""
    from .normbypass import Splitter

    try:
        with os.fdopen(w, "wb", buffering=1 << 20) as sink, open(side, "wb") as side_fh:
            split = Splitter(
                header,
                ref.path,
                side_fh,
                sink,
                head=lambda p: _prepared_header(header, ref, p, caller_tag).encode(),
            )
            try:
                pre = _prepass_fast(header, ref, src, None, split=split)
                split.finish()
            finally:
                split.close()
            if pre is not None:
                pre.skipped_norm = split.skipped
    except OSError:  # norm stopped reading: its own outcome explains why
        return _Restart("bcftools norm stopped reading")
    if pre is None:
        return _Restart("input needs the line-by-line pre-pass")
    if pre.restart:
        return _Restart(pre.restart)
    _check_ref_sample(pre, ref, header, src)
    return pre


def _stream_all(header: Header, ref: Reference, src: Path, tmp: Path, caller_tag: str, consume):
    """Pre-pass, bcftools norm and ``consume`` as three concurrent processes: the pre-pass writes
    the records that need norm into a pipe that norm reads, and the records norm would leave
    unchanged into a side file (:mod:`ccevariants.normbypass`); norm writes a file; ``consume``
    follows both files, merged into norm's order.

    Returns ``(pre, norm summary, norm removed, consume's result)``, or None when the input needs
    the step-by-step path (the pre-pass found it unsorted or unusual, or a late undeclared tag;
    or norm's output needs sorting). Errors: the pre-pass's first (they name file and line), then
    norm's, then the consumer's.
    """

    pre_out = tmp / "prepass.outcome"
    r, w = os.pipe()
    try:  # a 1 MiB pipe (Linux): fewer wake-ups of norm than with the default 64 KiB
        import fcntl

        fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):  # pragma: no cover - other systems keep their default
        pass
    side = tmp / "skipped-norm.txt"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        _in_child(lambda: _prepass_into(header, ref, src, w, caller_tag, side), pre_out)
    os.close(w)
    child = _Child(pid, "pre-pass", src)
    consume = _merging(consume, side, child.poll)
    got = failure = None
    try:
        got = _norm_streamed(f"/dev/fd/{r}", tmp, ref.path, src, consume, close_after_fork=(r,))
    except BaseException as exc:  # the pre-pass's error, if any, comes first
        failure = exc
    # never killed: once norm is gone its next write fails (EPIPE) and it reports a restart; its
    # outcome decides whether norm's error stands or the input goes the step-by-step way
    child.wait()
    side.unlink(missing_ok=True)
    outcome = _outcome(pre_out)
    _raise_outcome(outcome)
    if failure is not None and (outcome is None or outcome[0] == "ok"):
        raise failure
    if outcome is None or outcome[0] == "crash":  # pragma: no cover - a bug in the pre-pass
        raise RuntimeError(f"pre-pass failed: {outcome[1] if outcome else 'no outcome'}")
    if outcome[0] == "restart":
        log.info("%s: streaming stopped (%s); running the steps one after another", src, outcome[1])
        return None
    if got is None:
        return None
    pre, (summary, removed, result) = outcome[1], got
    log.debug("%s: %d of %d records skipped bcftools norm (normbypass)", src, pre.skipped_norm, pre.records)
    if pre.skipped_norm:  # norm's "Lines total" counts only the records it saw
        summary = {**summary}
        for k in ("total", "total_after_split"):
            if k in summary:
                summary[k] += pre.skipped_norm
    return pre, summary, removed, result


def _prepare(lines, header: Header, ref: Reference | None, src: Path, tmp: Path, caller_tag: str):
    """Step-by-step pre-pass: checks, then the prepared VCF norm reads (sorted first when needed).
    Returns ``(pre, prepared path)``."""
    body = tmp / "body.vcf"
    pre = _prepass_fast(header, ref, src, body)
    if pre is None:  # something unusual: the line-by-line pass finds and names it
        pre = _prepass(lines, header, ref, src, body)
    if ref is None:
        # no reference order: contigs go in natural order (1..22, X, Y, M, others)
        pre.contig_order = sorted(
            dict.fromkeys([*header.contigs(), *pre.seen_contigs]), key=natural_contig_key
        )
        if sorted(pre.seen_contigs, key=natural_contig_key) != pre.seen_contigs:
            pre.sorted = False
    if ref is not None:
        _check_ref_sample(pre, ref, header, src)
    prepared = tmp / "prepared.vcf"
    _assemble(prepared, body, header, ref, pre, caller_tag)
    body.unlink()
    if not pre.sorted:
        log.info("%s: input not sorted; sorting before normalisation", src)
        sorted_path = tmp / "sorted.bcf"
        _bcftools("sort", "-T", str(tmp / "sort."), "-O", "u", "-o", str(sorted_path), str(prepared), src=src)
        prepared.unlink()
        prepared = sorted_path
    return pre, prepared


def _consumer(out_vcf: Path, extra, extract_args, filters, src, n_records, threads: int = 2):
    """``consume(fh)`` for :func:`_norm_streamed`: :func:`_consume` with a progress bar."""
    from .progress import Progress

    min_depth, min_vaf, pass_only = filters

    def consume(fh):
        with Progress("normalize: writing records", total=n_records) as bar:
            return _consume(
                fh, out_vcf, extra, extract_args, min_depth, min_vaf, pass_only, src, bar, threads
            )

    return consume


def _norm_and_write(prepared: Path, tmp: Path, out_vcf: Path, ref_path, consume, src):
    """bcftools norm + ``consume``, concurrently; when norm's output has to be sorted first, norm
    to a file, sort, then consume. Returns ``(summary, norm removed, kept, removed, bam)``."""
    got = _norm_streamed(prepared, tmp, ref_path, src, consume)
    if got is not None:
        summary, norm_removed, (kept, removed, bam) = got
        return summary, norm_removed, kept, removed, bam
    # norm moved a record past its sorting window: norm to a file, sort, then consume
    log.info("%s: records out of order after left-alignment; sorting", src)
    normed = tmp / "normed.vcf"
    summary, norm_removed = run_norm(prepared, normed, ref_path, output_type="v", src_label=src)
    resorted = tmp / "normed.sorted.vcf"
    _bcftools("sort", "-T", str(tmp / "sort2."), "-O", "v", "-o", str(resorted), str(normed), src=src)
    normed.unlink()
    with open(resorted, "rb") as fh:
        res = consume(fh)
    if res is None:  # pragma: no cover - bcftools sort output is sorted
        raise RuntimeError("records still unsorted after bcftools sort")
    return (summary, norm_removed, *res)
