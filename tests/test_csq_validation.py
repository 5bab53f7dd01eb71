"""Concordance of the consequence engine with bcftools csq's own expectations (INFO/EXP).

Data: ``../shared/data/bcftools-csq`` (real Ensembl GRCh37 transcript slices from the bcftools test
suite). For every per-variant expectation (haplotype-compound ``@``/``+``/``*`` entries and symbolic
alleles are excluded: this engine annotates each allele on its own, like VEP) we compare the SO terms
per transcript, after mapping bcftools' term names to SO and dropping the terms VEP adds that bcftools
never writes (see docs/validation.md), and the protein position / single-residue change.
"""

from __future__ import annotations

import re
from pathlib import Path

BCF_TO_SO = {
    "missense": "missense_variant",
    "synonymous": "synonymous_variant",
    "stop_gained": "stop_gained",
    "stop_lost": "stop_lost",
    "start_lost": "start_lost",
    "stop_retained": "stop_retained_variant",
    "start_retained": "start_retained_variant",
    "frameshift": "frameshift_variant",
    "inframe_deletion": "inframe_deletion",
    "inframe_insertion": "inframe_insertion",
    "inframe_altering": "protein_altering_variant",
    "splice_region": "splice_region_variant",
    "splice_acceptor": "splice_acceptor_variant",
    "splice_donor": "splice_donor_variant",
    "5_prime_utr": "5_prime_UTR_variant",
    "3_prime_utr": "3_prime_UTR_variant",
    "intron": "intron_variant",
    "coding_sequence": "coding_sequence_variant",
    "NMD_transcript": "NMD_transcript_variant",
    "non_coding": "non_coding",
}
# terms VEP writes that bcftools csq has no equivalent for
VEP_ONLY = {
    "upstream_gene_variant",
    "downstream_gene_variant",
    "non_coding_transcript_variant",
    "intergenic_variant",
}
NON_CODING = {"non_coding_transcript_exon_variant", "intron_variant", "non_coding_transcript_variant"}

THRESHOLD = 0.93  # measured 90/96 = 0.9375; each disagreement is explained in docs/validation.md

# Disagreements where this engine follows Ensembl VEP's convention (docs/validation.md)
KNOWN_DIFFERENCES = {
    ("csq/ENST00000318249.2/synonymous-start-lost.vcf", 4958): "left-aligned deletion lies in the 5'UTR",
    (
        "csq/ENST00000409523/long-overlapping-del.vcf",
        18990,
    ): "exon/intron-crossing deletion: no frameshift call",
    ("csq/ENST00000420670/start-stop-lost.vcf", 44688): "ATG>ATA is start_lost (VEP), not missense",
    ("csq/ENST00000518414/incorrect-inframe-del.vcf", 11397): "deletion past the 3' end of a stop-less CDS",
    ("csq/ENST00000528237/retained-stop-incomplete-cds.vcf", 14714): "R>* is stop_gained (VEP)",
    ("csq/ENST00000545279/splice-region-insert.vcf", 44572): "insertion at the exon/intron boundary",
}


def _cases(root: Path):
    seen = set()
    with open(root / "csq_tests.tsv", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(header, line.rstrip("\n").split("\t"), strict=False))
            vcf = row["input_vcf"]
            if "(" in vcf or not vcf.endswith(".vcf"):
                continue
            key = (vcf, row["reference_fasta"], row["gff"])
            if key in seen or row["extra_options"] not in ("-", ""):
                continue
            seen.add(key)
            yield key


def _expectations(vcf: Path):
    for line in open(vcf, encoding="utf-8"):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        m = re.search(r"(?:^|;)EXP=([^;]*)", f[7])
        if not m:
            continue
        yield f[0], int(f[1]), f[3], f[4], m.group(1)


def _normalise(ours: set[str], want: set[str]) -> set[str]:
    """Drop the terms VEP writes where bcftools has none (docs/validation.md)."""
    ours = set(ours) - VEP_ONLY
    if "NMD_transcript_variant" not in want:
        ours.discard("NMD_transcript_variant")
    if "intron_variant" in ours and "intron_variant" not in want and len(ours) > 1:
        ours.discard("intron_variant")
    if (
        ours & {"splice_acceptor_variant", "splice_donor_variant", "start_lost", "stop_lost"}
        and "coding_sequence_variant" not in want
    ):
        ours.discard("coding_sequence_variant")
    if (
        "frameshift_variant" in ours
        and "frameshift_variant" not in want
        and want & {"start_lost", "start_retained_variant"}
    ):
        ours.discard("frameshift_variant")  # VEP: frameshift_variant&start_lost; bcftools: start_lost
    return ours


def _matches(body, g) -> bool:
    want = {BCF_TO_SO.get(t, t) for t in g["terms"]}
    cand = [
        r
        for r in body
        if (g["tid"] and r["transcript"].split(".")[0] == g["tid"])
        or (not g["tid"] and r["gene"] == g["gene"])
    ]
    for r in cand:
        ours = _normalise(set(r["consequence"].split("&")), want)
        w = set(want)
        if "non_coding" in w:
            w.discard("non_coding")
            if not (ours & NON_CODING):
                continue
            ours -= NON_CODING
        if g["compound"]:
            if not w <= ours:
                continue
        elif ours != w:
            continue
        aa = g["aa"]
        if (
            aa
            and not g["compound"]
            and r["protein_position"] > 0
            and "frameshift_variant" not in w
            and not w & {"inframe_deletion", "inframe_insertion"}
        ):
            m = re.match(r"(\d+)([A-Z*]+)(?:>(\d+)([A-Z*]+))?$", aa)
            if m:
                if int(m.group(1)) != r["protein_position"]:
                    continue
                if m.group(3) is None and r["amino_acids"] not in (m.group(2), ""):
                    continue
                if (
                    m.group(3)
                    and len(m.group(2)) == 1
                    and len(m.group(4)) == 1
                    and r["amino_acids"] != f"{m.group(2)}/{m.group(4)}"
                ):
                    continue
        return True
    return False


def run_validation(root: Path, use_jit: bool = True):
    import pysam

    from ccevariants.annotate import Annotator
    from ccevariants.transcripts import load_annotation

    total = agree = 0
    disagreements = []
    excluded = []
    for vcf, fa, gff in _cases(root):
        index = load_annotation(root / gff, use_cache=False)
        fasta = pysam.FastaFile(str(root / fa))
        annot = Annotator(index, fasta, use_jit=use_jit)
        exps = list(_expectations(root / vcf))
        todo = [
            e
            for e in exps
            if not e[3].startswith("<")
            and e[3] not in (".", "*")
            and fasta.fetch(e[0], e[1] - 1, e[1] - 1 + len(e[2])).upper() == e[2].upper()
        ]
        excluded.extend((vcf, e[1], e[2], e[3], e[4]) for e in exps if e not in todo)
        if not todo:
            continue
        res = annot.annotate(
            [e[0] for e in todo], [e[1] for e in todo], [e[2] for e in todo], [e[3] for e in todo]
        )
        for (_chrom, pos, ref, alt, exp), rows in zip(todo, res, strict=True):
            body = [r for r in rows if r["transcript"] and not r["_flank_only"]]
            entries = exp.split(",")
            if exp == ".":
                total += 1
                ours = sorted({t for r in body for t in r["consequence"].split("&")} - VEP_ONLY)
                if not ours:
                    agree += 1
                else:
                    disagreements.append(
                        (
                            vcf,
                            pos,
                            ref,
                            alt,
                            exp,
                            "; ".join(f"{r['transcript']}:{r['consequence']}" for r in body),
                        )
                    )
                continue
            groups: dict[str, dict] = {}
            for entry in entries:
                parts = entry.split("|")
                if entry.startswith("@") or len(parts) < 3:
                    continue
                key = parts[2] or parts[1]
                g = groups.setdefault(
                    key,
                    {
                        "terms": set(),
                        "compound": False,
                        "aa": "",
                        "gene": parts[1],
                        "tid": parts[2],
                        "entry": [],
                    },
                )
                g["entry"].append(entry)
                if entry.startswith("*") or (len(parts) > 6 and "+" in parts[6]):
                    g["compound"] = True
                    continue
                g["terms"] |= set(parts[0].split("&"))
                if len(parts) > 5 and parts[5]:
                    g["aa"] = parts[5]
            for g in groups.values():
                if any(e.startswith("@") for e in entries):
                    g["compound"] = True  # part of a haplotype: the coding effect is on the other record
                if not g["terms"]:
                    continue
                total += 1
                if _matches(body, g):
                    agree += 1
                else:
                    got = (
                        "; ".join(
                            f"{r['transcript']}:{r['consequence']}:{r['protein_span']}:{r['amino_acids']}"
                            for r in body
                        )
                        or "(no transcript)"
                    )
                    disagreements.append((vcf, pos, ref, alt, ",".join(g["entry"]), got))
        fasta.close()
    run_validation.excluded = excluded
    return total, agree, disagreements


def test_bcftools_csq_concordance(shared_data):
    root = shared_data / "bcftools-csq"
    total, agree, disagreements = run_validation(root)
    report = "\n".join(f"{d[0]}:{d[1]} {d[2]}>{d[3]} expected {d[4]} got {d[5]}" for d in disagreements)
    assert total >= 60, f"expected at least 60 comparable expectations; found {total}"
    assert agree / total >= THRESHOLD, f"concordance {agree}/{total}\n{report}"
    unexplained = [d for d in disagreements if (d[0], d[1]) not in KNOWN_DIFFERENCES]
    assert not unexplained, report


if __name__ == "__main__":  # pragma: no cover - manual report for docs/validation.md
    import sys

    t, a, d = run_validation(Path(sys.argv[1]))
    print(f"{a}/{t} = {a / t:.4f}")
    for x in d:
        print(*x, sep="\t")
    print("excluded:")
    for x in run_validation.excluded:
        print(*x, sep="\t")
