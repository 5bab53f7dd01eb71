"""Tests for the SYNTHETIC demo data generator (``ccevariants.demo`` / ``ccev demo``).

Checks are computed independently of the generator: the GFF3 is parsed here, CDS pieces are spliced
from the FASTA with pysam, reverse-complemented on the minus strand and translated with a codon table
built in this file; expected protein lengths and residues are the UniProt facts listed in docs/demo.md.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pysam
import pysam.bcftools
import pytest

from ccevariants import cli, demo
from ccevariants.errors import ConfigError

# ---------------------------------------------------------------------------------------------
# independent helpers
# ---------------------------------------------------------------------------------------------
_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODE = {
    a + b + c: _AMINO[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES)
    for j, b in enumerate(_BASES)
    for k, c in enumerate(_BASES)
}
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}
ONE_TO_THREE = {
    "A": "Ala",
    "R": "Arg",
    "N": "Asn",
    "D": "Asp",
    "C": "Cys",
    "Q": "Gln",
    "E": "Glu",
    "G": "Gly",
    "H": "His",
    "I": "Ile",
    "L": "Leu",
    "K": "Lys",
    "M": "Met",
    "F": "Phe",
    "P": "Pro",
    "S": "Ser",
    "T": "Thr",
    "W": "Trp",
    "Y": "Tyr",
    "V": "Val",
    "*": "Ter",
}


def rc(seq: str) -> str:
    return "".join(COMPLEMENT[b] for b in reversed(seq))


def tr(seq: str) -> str:
    return "".join(CODE[seq[i : i + 3]] for i in range(0, len(seq) - len(seq) % 3, 3))


#: UniProt canonical protein lengths (accession in docs/demo.md)
PROTEIN_LENGTHS = {
    "KRAS": 189,
    "NRAS": 189,
    "BRAF": 766,
    "EGFR": 1210,
    "ERBB2": 1255,
    "PIK3CA": 1068,
    "ALK": 1620,
    "EML4": 981,
    "ROS1": 2347,
    "RET": 1114,
    "MET": 1390,
    "NTRK1": 796,
    "TPM3": 285,
    "IDH1": 414,
    "BRCA1": 1863,
    "BRCA2": 3418,
    "TP53": 393,
    "ESR1": 595,
    "PTEN": 403,
    "MLH1": 756,
}
STRANDS = {
    "KRAS": "-",
    "NRAS": "-",
    "BRAF": "-",
    "EGFR": "+",
    "ERBB2": "+",
    "PIK3CA": "+",
    "ALK": "-",
    "EML4": "+",
    "ROS1": "-",
    "RET": "+",
    "MET": "+",
    "NTRK1": "+",
    "TPM3": "-",
    "IDH1": "-",
    "BRCA1": "-",
    "BRCA2": "+",
    "TP53": "-",
    "ESR1": "+",
    "PTEN": "+",
    "MLH1": "+",
}
CHROMS = {
    "KRAS": "chr12",
    "NRAS": "chr1",
    "BRAF": "chr7",
    "EGFR": "chr7",
    "ERBB2": "chr17",
    "PIK3CA": "chr3",
    "ALK": "chr2",
    "EML4": "chr2",
    "ROS1": "chr6",
    "RET": "chr10",
    "MET": "chr7",
    "NTRK1": "chr1",
    "TPM3": "chr1",
    "IDH1": "chr2",
    "BRCA1": "chr17",
    "BRCA2": "chr13",
    "TP53": "chr17",
    "ESR1": "chr6",
    "PTEN": "chr10",
    "MLH1": "chr3",
}
#: clinically relevant residues of the real proteins (UniProt numbering)
KEY_RESIDUES = {
    "KRAS": {12: "G", 13: "G", 61: "Q", 117: "K", 146: "A"},
    "NRAS": {12: "G", 13: "G", 61: "Q", 117: "K", 146: "A"},
    "BRAF": {600: "V", 601: "K"},
    "EGFR": {
        719: "G",
        746: "E",
        747: "L",
        748: "R",
        749: "E",
        750: "A",
        790: "T",
        797: "C",
        858: "L",
        861: "L",
        **{762 + i: aa for i, aa in enumerate("EAYVMASVDNPHVC")},
    },
    "PIK3CA": {542: "E", 545: "E", 1047: "H"},
    "IDH1": {132: "R"},
    "ESR1": {536: "L", 537: "Y", 538: "D"},
    "TP53": {175: "R", 248: "R", 273: "R"},
    "ERBB2": {310: "S", 755: "L", 777: "V"},
    "ALK": {1174: "F", 1196: "L", 1202: "G"},
    "RET": {804: "V", 918: "M"},
    "NTRK1": {595: "G"},
    "MET": {1003: "Y", 1228: "D"},
}
ONCOTREE_2025 = ("oncotree", "oncotree_2025_10_03.json")


def parse_gff3(path: Path) -> dict:
    """Minimal independent GFF3 reader: genes, transcripts with exons/CDS in transcript order."""
    genes, txs = {}, {}
    exons, cds = defaultdict(list), defaultdict(list)
    with open(path) as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            attrs = dict(kv.split("=", 1) for kv in f[8].split(";"))
            start, end, strand = int(f[3]), int(f[4]), f[6]
            if f[2] == "gene":
                genes[attrs["ID"]] = {
                    "name": attrs["Name"],
                    "chrom": f[0],
                    "strand": strand,
                    "start": start,
                    "end": end,
                }
            elif f[2] == "mRNA":
                txs[attrs["ID"]] = {
                    "gene": attrs["Parent"],
                    "tags": attrs.get("tag", "").split(","),
                    "chrom": f[0],
                    "strand": strand,
                }
            elif f[2] == "exon":
                exons[attrs["Parent"]].append((start, end))
            elif f[2] == "CDS":
                cds[attrs["Parent"]].append((start, end, int(f[7])))
    out = {}
    for tid, t in txs.items():
        rev = t["strand"] == "-"
        t["exons"] = sorted(exons[tid], reverse=rev)
        t["cds"] = sorted(cds[tid], reverse=rev)
        t["name"] = genes[t["gene"]]["name"]
        out[tid] = t
    return {"genes": genes, "transcripts": out}


def cds_sequence(fasta: pysam.FastaFile, tx: dict) -> str:
    pieces = [fasta.fetch(tx["chrom"], s - 1, e) for s, e, _ in tx["cds"]]
    if tx["strand"] == "-":
        return "".join(rc(p) for p in pieces)
    return "".join(pieces)


def cds_base_to_genome(tx: dict, c: int) -> int:
    """1-based CDS position -> 1-based genomic position."""
    k = c - 1
    for s, e, _ in tx["cds"]:
        n = e - s + 1
        if k < n:
            return s + k if tx["strand"] == "+" else e - k
        k -= n
    raise AssertionError("beyond CDS")


def exon_of_codon(tx: dict, residue: int) -> int:
    """Exon number (transcript order) holding the first base of codon ``residue``."""
    g = cds_base_to_genome(tx, 3 * residue - 2)
    return next(i for i, (s, e) in enumerate(tx["exons"], 1) if s <= g <= e)


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[7, 1234], ids=["seed7", "seed1234"])
def demo_dir(request, tmp_path_factory):
    """The default demo (seed 7) and one other seed: every invariant must hold for any seed."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    t0 = time.perf_counter()
    truth = demo.write_demo(out, seed=request.param)
    elapsed = time.perf_counter() - t0
    return out, truth, elapsed


@pytest.fixture(scope="module")
def gff(demo_dir):
    return parse_gff3(demo_dir[0] / "reference" / "genes.gff3")


@pytest.fixture(scope="module")
def mane(gff):
    return {t["name"]: t for t in gff["transcripts"].values() if "MANE_Select" in t["tags"]}


@pytest.fixture(scope="module")
def fasta(demo_dir):
    with pysam.FastaFile(str(demo_dir[0] / "reference" / "genome.fa")) as fa:
        yield fa


@pytest.fixture(scope="module")
def sheet(demo_dir):
    lines = (demo_dir[0] / "samples.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return header, [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


# ---------------------------------------------------------------------------------------------
# determinism, speed, layout
# ---------------------------------------------------------------------------------------------
def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_byte_identical_and_other_seed_differs(demo_dir, tmp_path):
    out, truth, _ = demo_dir
    again = tmp_path / "again"
    demo.write_demo(again, seed=truth["seed"])
    first, second = _all_files(out), _all_files(again)
    assert sorted(first) == sorted(truth["files"])
    assert first == second
    other = tmp_path / "other"
    demo.write_demo(other, seed=truth["seed"] + 1)
    assert (other / "reference" / "genome.fa").read_bytes() != first["reference/genome.fa"]


def test_every_file_labelled_synthetic(demo_dir):
    out, truth, _ = demo_dir
    headers = [
        line for line in (out / "reference" / "genome.fa").read_text().splitlines() if line.startswith(">")
    ]
    assert len(headers) == 9 and all("SYNTHETIC" in h for h in headers)
    gff_comments = [
        x for x in (out / "reference" / "genes.gff3").read_text().splitlines()[:20] if x.startswith("#")
    ]
    assert any("SYNTHETIC" in x for x in gff_comments)
    for vcf in sorted((out / "vcf").glob("*.vcf")) + sorted((out / "sv").glob("*.vcf")):
        head = [x for x in vcf.read_text().splitlines() if x.startswith("##")]
        assert any("SYNTHETIC" in x for x in head), vcf
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    assert truth["synthetic"] is True


def test_sample_sheet_columns_and_paths(demo_dir, sheet):
    out, truth, _ = demo_dir
    header, rows = sheet
    assert header == [
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
    ]
    assert [r["patient"] for r in rows] == [f"CCE-P0{i}" for i in range(1, 9)]
    assert {r["center"] for r in rows} == {"CCE-A", "CCE-B", "CCE-C"}
    for r in rows:
        for col in ("vcf", "sv_vcf", "cnv", "callable_bed", "bam", "normal_bam"):
            if r[col]:
                assert (out / r[col]).is_file(), (r["patient"], col)
        assert r["assay"] in {"panel", "wes", "wgs"}
        assert 0 < float(r["purity"]) <= 1
    by = {r["patient"]: r for r in rows}
    assert by["CCE-P05"]["normal_sample"] == ""  # tumour-only
    assert by["CCE-P06"]["sv_vcf"] and by["CCE-P07"]["sv_vcf"] and by["CCE-P05"]["cnv"]
    expected_types = {
        "CCE-P01": "LUAD",
        "CCE-P02": "COAD",
        "CCE-P03": "COAD",
        "CCE-P04": "SKCM",
        "CCE-P05": "IDC",
        "CCE-P06": "LUAD",
        "CCE-P08": "IHCH",
    }
    for p, code in expected_types.items():
        assert by[p]["tumor_type"] == code


def test_oncotree_codes_exist_in_2025_release(shared_data, sheet):
    doc = json.loads(shared_data.joinpath(*ONCOTREE_2025).read_text())
    codes = set()
    stack = list(doc.values())
    while stack:
        node = stack.pop()
        codes.add(node["code"])
        stack.extend(node.get("children", {}).values())
    assert len(codes) > 800
    for row in sheet[1]:
        assert row["tumor_type"] in codes, row["tumor_type"]


# ---------------------------------------------------------------------------------------------
# reference and gene models
# ---------------------------------------------------------------------------------------------
def test_fai_is_correct(demo_dir):
    out = demo_dir[0]
    raw = (out / "reference" / "genome.fa").read_bytes()
    expected, offset, name, length, seq_offset = [], 0, None, 0, 0
    for line in raw.split(b"\n")[:-1]:
        if line.startswith(b">"):
            if name:
                expected.append(f"{name}\t{length}\t{seq_offset}\t60\t61")
            name, length = line[1:].split()[0].decode(), 0
            seq_offset = offset + len(line) + 1
        else:
            assert len(line) <= 60
            length += len(line)
        offset += len(line) + 1
    expected.append(f"{name}\t{length}\t{seq_offset}\t60\t61")
    assert (out / "reference" / "genome.fa.fai").read_text().splitlines() == expected
    assert [e.split("\t")[0] for e in expected] == [
        "chr1",
        "chr2",
        "chr3",
        "chr6",
        "chr7",
        "chr10",
        "chr12",
        "chr13",
        "chr17",
    ]


def test_gene_placement_and_strands(gff, mane):
    assert set(PROTEIN_LENGTHS) <= set(mane)
    for name, tx in mane.items():
        if name in STRANDS:
            assert tx["strand"] == STRANDS[name], name
            assert tx["chrom"] == CHROMS[name], name
    background = [n for n in mane if n.startswith("SYNBG")]
    assert len(background) >= 60
    assert {mane[n]["strand"] for n in background} == {"+", "-"}


def test_every_transcript_translates_with_real_lengths(gff, fasta):
    seen = 0
    for tx in gff["transcripts"].values():
        protein = tr(cds_sequence(fasta, tx))
        assert protein.startswith("M"), tx["name"]
        assert protein.endswith("*") and "*" not in protein[:-1], tx["name"]
        if "MANE_Select" not in tx["tags"]:
            continue
        name = tx["name"]
        if name in PROTEIN_LENGTHS:
            assert len(protein) - 1 == PROTEIN_LENGTHS[name], name
            seen += 1
        else:
            assert 400 <= len(protein) - 1 <= 1200, name
    assert seen == len(PROTEIN_LENGTHS)


def test_key_residues_are_the_real_amino_acids(mane, fasta):
    for gene, residues in KEY_RESIDUES.items():
        protein = tr(cds_sequence(fasta, mane[gene]))
        for pos, aa in residues.items():
            assert protein[pos - 1] == aa, f"{gene} {pos}: {protein[pos - 1]} != {aa}"


def test_gff3_phases_and_splice_sites(gff, fasta):
    for tx in gff["transcripts"].values():
        acc = 0
        for s, e, phase in tx["cds"]:
            assert phase == (3 - acc % 3) % 3, tx["name"]
            acc += e - s + 1
        assert acc % 3 == 0
        ex = tx["exons"]
        for a, b in zip(ex, ex[1:], strict=False):
            if tx["strand"] == "+":
                intron = fasta.fetch(tx["chrom"], a[1], b[0] - 1)
            else:
                intron = rc(fasta.fetch(tx["chrom"], b[1], a[0] - 1))
            assert intron[:2] == "GT" and intron[-2:] == "AG", tx["name"]
            assert len(intron) >= 150


def test_gff3_exon_ensembl_phases(demo_dir, gff):
    """ensembl_phase / ensembl_end_phase: CDS bases before / through the exon mod 3, -1 in UTRs."""
    phases = {}
    for line in (demo_dir[0] / "reference" / "genes.gff3").read_text().splitlines():
        f = line.split("\t")
        if len(f) == 9 and f[2] == "exon":
            a = dict(kv.split("=", 1) for kv in f[8].split(";"))
            phases[(a["Parent"], int(f[3]), int(f[4]))] = (
                int(a["ensembl_phase"]),
                int(a["ensembl_end_phase"]),
            )
    for tid, tx in gff["transcripts"].items():
        cds_lo = min(s for s, _, _ in tx["cds"])
        cds_hi = max(e for _, e, _ in tx["cds"])
        acc = 0
        for s, e in tx["exons"]:
            n = sum(max(0, min(e, ce) - max(s, cs) + 1) for cs, ce, _ in tx["cds"])
            first, last = (s, e) if tx["strand"] == "+" else (e, s)
            start_coding = cds_lo <= first <= cds_hi
            end_coding = cds_lo <= last <= cds_hi
            assert phases[(tid, s, e)] == (
                acc % 3 if start_coding else -1,
                (acc + n) % 3 if end_coding else -1,
            )
            acc += n


def test_gff3_structure_and_tags(demo_dir, gff):
    text = (demo_dir[0] / "reference" / "genes.gff3").read_text()
    assert text.startswith("##gff-version 3\n")
    assert text.count("##sequence-region") == 9
    kinds = {line.split("\t")[2] for line in text.splitlines() if not line.startswith("#")}
    assert kinds == {"gene", "mRNA", "exon", "CDS", "five_prime_UTR", "three_prime_UTR"}
    per_gene = defaultdict(list)
    for tid, t in gff["transcripts"].items():
        assert tid.startswith("transcript:SYNT")
        per_gene[t["name"]].append(t)
    for name, txs in per_gene.items():
        assert sum("MANE_Select" in t["tags"] and "Ensembl_canonical" in t["tags"] for t in txs) == 1, name
    assert len(per_gene["EGFR"]) == 2
    assert all(g.startswith("gene:SYNG") for g in gff["genes"])


def test_exon_structures(mane):
    n_exons = {
        "EGFR": 28,
        "KRAS": 5,
        "BRAF": 18,
        "PIK3CA": 21,
        "MET": 21,
        "ALK": 29,
        "EML4": 23,
        "NTRK1": 17,
        "TPM3": 10,
        "TP53": 11,
    }
    for gene, n in n_exons.items():
        assert len(mane[gene]["exons"]) == n, gene
    egfr = mane["EGFR"]
    for exon, (first, last) in {18: (688, 728), 19: (729, 761), 20: (762, 823), 21: (824, 875)}.items():
        assert exon_of_codon(egfr, first) == exon and exon_of_codon(egfr, last) == exon
        assert exon_of_codon(egfr, first - 1) == exon - 1 and exon_of_codon(egfr, last + 1) == exon + 1
    kras = mane["KRAS"]
    first_cds = cds_base_to_genome(kras, 1)
    assert not (kras["exons"][0][0] <= first_cds <= kras["exons"][0][1])  # exon 1 non-coding
    assert exon_of_codon(kras, 12) == 2 and exon_of_codon(kras, 13) == 2 and exon_of_codon(kras, 61) == 3
    assert exon_of_codon(mane["BRAF"], 600) == 15
    assert exon_of_codon(mane["PIK3CA"], 545) == 10 and exon_of_codon(mane["PIK3CA"], 1047) == 21
    assert exon_of_codon(mane["TP53"], 175) == 5 and exon_of_codon(mane["TP53"], 273) == 8
    met = mane["MET"]
    s, e = met["exons"][13]
    assert e - s + 1 == 141  # real MET exon 14: c.2888-c.3028
    assert exon_of_codon(met, 1003) == 14 and exon_of_codon(met, 963) == 13 and exon_of_codon(met, 964) == 14
    assert exon_of_codon(mane["ALK"], 1058) == 20 and exon_of_codon(mane["ALK"], 1057) == 19


def test_callable_bed(demo_dir, gff):
    out, truth, _ = demo_dir
    rows = [line.split("\t") for line in (out / "reference" / "callable.bed").read_text().splitlines()]
    ivs = defaultdict(list)
    for chrom, s, e in rows:
        ivs[chrom].append((int(s), int(e)))
    total = 0
    for v in ivs.values():
        assert v == sorted(v)
        assert all(a[1] < b[0] for a, b in zip(v, v[1:], strict=False)), "merged and non-adjacent"
        total += sum(e - s for s, e in v)
    assert total == truth["callable_bp"]
    cds = _cds_intervals(gff)
    overlap = 0
    for c, v in ivs.items():  # base masks: callable ∩ CDS
        n = max(e for _, e in v + cds[c])
        in_bed, in_cds = np.zeros(n, bool), np.zeros(n, bool)
        for s, e in v:
            in_bed[s:e] = True
        for s, e in cds[c]:
            in_cds[s:e] = True
        overlap += int((in_bed & in_cds).sum())
    assert overlap == truth["callable_cds_bp"] < total
    assert truth["callable_mb"] == pytest.approx(total / 1e6)
    assert 0.3 <= truth["callable_mb"] <= 0.5

    def covered(chrom, pos0):
        return any(s <= pos0 < e for s, e in ivs[chrom])

    for tx in list(gff["transcripts"].values())[:40]:
        for s, e, _ in tx["cds"]:
            assert covered(tx["chrom"], s - 1) and covered(tx["chrom"], e - 1)
        ex = sorted(tx["exons"])
        for a, b in zip(ex, ex[1:], strict=False):
            # 2 bp donor/acceptor (0-based: a[1], a[1]+1 and b[0]-3, b[0]-2)
            for p in (a[1], a[1] + 1, b[0] - 3, b[0] - 2):
                assert covered(tx["chrom"], p)
            assert not covered(tx["chrom"], a[1] + 2 + (b[0] - a[1]) // 2 - 1)


# ---------------------------------------------------------------------------------------------
# cohort: VCFs, drivers, normalisation, read support, TMB, CNV, SV
# ---------------------------------------------------------------------------------------------
def test_vcfs_parse_and_match_reference(demo_dir, sheet):
    out = demo_dir[0]
    fai = dict(
        line.split("\t")[:2] for line in (out / "reference" / "genome.fa.fai").read_text().splitlines()
    )
    multi = filters = orders = 0
    sample_orders = set()
    rows = {r["patient"]: r for r in sheet[1]}
    for path in sorted((out / "vcf").glob("*.vcf")) + sorted((out / "sv").glob("*.vcf")):
        with pysam.VariantFile(str(path)) as vf:
            contigs = {c: str(vf.header.contigs[c].length) for c in vf.header.contigs}
            assert contigs == fai, path
            last = (-1, -1)
            samples = list(vf.header.samples)
            if path.parent.name == "vcf":
                row = rows[path.stem]
                assert row["tumor_sample"] in samples
                if row["normal_sample"]:
                    assert row["normal_sample"] in samples
                    sample_orders.add(samples.index(row["tumor_sample"]))
            for rec in vf:
                key = (list(fai).index(rec.chrom), rec.pos)
                assert key >= last, f"{path}: unsorted at {rec.chrom}:{rec.pos}"
                last = key
                multi += len(rec.alts) > 1
                filters += "PASS" not in rec.filter.keys()
                orders += 1
    assert multi >= 1 and filters >= 5
    assert sample_orders == {0, 1}  # tumour-first in some files, normal-first in others


def test_caller_styles(demo_dir):
    out = demo_dir[0]
    m = (out / "vcf" / "CCE-P01.vcf").read_text()
    assert "##source=Mutect2" in m and "##tumor_sample=CCE-P01-T" in m and "##normal_sample=CCE-P01-N" in m
    assert "\tGT:AD:AF:DP\t" in m
    s = (out / "vcf" / "CCE-P04.vcf").read_text()
    assert "##source=strelka" in s
    assert "\tDP:FDP:SDP:SUBDP:AU:CU:GU:TU\t" in s and "\tDP:DP2:TAR:TIR:TOR:DP50:FDP50:SUBDP50\t" in s
    assert "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\tNORMAL" in s
    assert "\tNORMAL\tTUMOR" in (out / "vcf" / "CCE-P02.vcf").read_text()
    to = (out / "vcf" / "CCE-P05.vcf").read_text()
    assert "##normal_sample" not in to and to.splitlines()[-1].count("\t") == 9


def test_drivers_translate_to_real_and_mutant_residues(demo_dir, mane, fasta):
    truth = demo_dir[1]
    expected = {
        "CCE-P01": {("EGFR", "L858R"), ("EGFR", "T790M")},
        "CCE-P02": {("KRAS", "G12D"), ("TP53", "R175H")},
        "CCE-P03": {("BRAF", "V600E")},
        "CCE-P04": {("BRAF", "V600E")},
        "CCE-P05": {("PIK3CA", "H1047R"), ("BRCA2", "Q2040*")},
        "CCE-P08": {("IDH1", "R132C")},
    }
    n = 0
    for patient, drivers in truth["patients"].items():
        assert {(d["gene"], d["protein_change"]) for d in drivers["drivers"]} == expected.get(patient, set())
        for d in drivers["drivers"]:
            tx = mane[d["gene"]]
            residue = int(d["protein_change"][1:-1])
            ref_aa, alt_aa = d["protein_change"][0], d["protein_change"][-1]
            assert d["hgvsp"] == f"p.{ONE_TO_THREE[ref_aa]}{residue}{ONE_TO_THREE[alt_aa]}"
            cds = cds_sequence(fasta, tx)
            codon = cds[3 * residue - 3 : 3 * residue]
            assert CODE[codon] == ref_aa
            w = d["written"]
            assert len(w["ref"]) == 1 and len(w["alt"]) == 1
            assert fasta.fetch(w["chrom"], w["pos"] - 1, w["pos"]) == w["ref"]
            genomic = [cds_base_to_genome(tx, 3 * residue - 2 + k) for k in range(3)]
            k = genomic.index(w["pos"])
            alt = w["alt"] if tx["strand"] == "+" else COMPLEMENT[w["alt"]]
            mutant = codon[:k] + alt + codon[k + 1 :]
            assert CODE[mutant] == alt_aa
            assert d["normalized"] == {"chrom": w["chrom"], "pos": w["pos"], "ref": w["ref"], "alt": w["alt"]}
            n += 1
    assert n == 9
    p01 = {d["protein_change"]: d for d in truth["patients"]["CCE-P01"]["drivers"]}
    assert p01["L858R"]["t_af"] == pytest.approx(0.35, abs=0.02)
    assert p01["T790M"]["t_af"] == pytest.approx(0.12, abs=0.02)
    assert p01["L858R"]["hgvsc"] == "c.2573T>G" and p01["T790M"]["hgvsc"] == "c.2369C>T"
    brca2 = next(d for d in truth["patients"]["CCE-P05"]["drivers"] if d["gene"] == "BRCA2")
    assert brca2["consequence"] == "stop_gained" and brca2["germline_suspected"] is True
    assert brca2["t_af"] == pytest.approx(0.5, abs=0.05)


def test_planted_records_match_bcftools_norm(demo_dir):
    """truth 'normalized' = what bcftools norm -m- -f genome.fa makes of each record."""
    out, truth, _ = demo_dir
    fa = str(out / "reference" / "genome.fa")
    realigned = 0
    for patient, info in truth["patients"].items():
        normed = pysam.bcftools.norm("-c", "e", "-f", fa, "-m-", str(out / info["vcf"]))
        got = sorted(
            tuple(line.split("\t")[i] for i in (0, 1, 3, 4))
            for line in normed.splitlines()
            if line and not line.startswith("#")
        )
        want = sorted(
            (
                r["normalized"]["chrom"],
                str(r["normalized"]["pos"]),
                r["normalized"]["ref"],
                r["normalized"]["alt"],
            )
            for r in info["records"]
        )
        assert got == want, patient
        realigned += sum(r["normalized"]["pos"] != r["written"]["pos"] for r in info["records"])
    assert realigned >= 2  # a deletion and an insertion written at the right end of a homopolymer


def _tumour_support(rec, caller: str, tumor: str, allele: int) -> tuple[int, float]:
    s = rec.samples[tumor]
    if caller == "mutect2":
        dp = s["DP"]
        return dp, s["AD"][allele] / dp
    if len(rec.ref) == 1 and len(rec.alts[0]) == 1:
        ref_n = s[rec.ref + "U"][0]
        alt_n = s[rec.alts[0] + "U"][0]
    else:
        ref_n, alt_n = s["TAR"][0], s["TIR"][0]
    return ref_n + alt_n, alt_n / (ref_n + alt_n)


def test_read_support_matches_truth(demo_dir):
    out, truth, _ = demo_dir
    for patient, info in truth["patients"].items():
        by_pos = {
            (r["written"]["chrom"], r["written"]["pos"], r["written"]["allele_index"]): r
            for r in info["records"]
        }
        with pysam.VariantFile(str(out / info["vcf"])) as vf:
            n = 0
            for rec in vf:
                for i in range(1, len(rec.alts) + 1):
                    t = by_pos[(rec.chrom, rec.pos, i)]
                    dp, af = _tumour_support(rec, info["caller"], info["tumor_sample"], i)
                    assert dp == t["t_dp"] and af == pytest.approx(t["t_af"], abs=1e-6), (patient, rec.pos)
                    if info["normal_sample"]:
                        ndp = rec.samples[info["normal_sample"]]["DP"]
                        assert ndp == t["n_dp"]
                    n += 1
            assert n == len(info["records"])


def _cds_intervals(gff):
    per = defaultdict(list)
    for tx in gff["transcripts"].values():
        per[tx["chrom"]] += [(s - 1, e) for s, e, _ in tx["cds"]]
    return per


def test_tmb_eligible_counts_recomputed_independently(demo_dir, gff):
    out, truth, _ = demo_dir
    bed = defaultdict(list)
    for line in (out / "reference" / "callable.bed").read_text().splitlines():
        c, s, e = line.split("\t")
        bed[c].append((int(s), int(e)))
    cds = _cds_intervals(gff)

    def hit(ivs, s, e):
        return any(a < e and s < b for a, b in ivs)

    for patient, info in truth["patients"].items():
        eligible = 0
        with pysam.VariantFile(str(out / info["vcf"])) as vf:
            for rec in vf:
                if list(rec.filter.keys()) != ["PASS"]:
                    continue
                for i, alt in enumerate(rec.alts, 1):
                    dp, af = _tumour_support(rec, info["caller"], info["tumor_sample"], i)
                    s0 = rec.pos - 1 + (1 if len(rec.ref) != len(alt) else 0)
                    e0 = max(rec.pos - 1 + len(rec.ref), s0 + 1)
                    if (
                        af >= 0.05
                        and dp >= 25
                        and hit(bed[rec.chrom], s0, e0)
                        and hit(cds[rec.chrom], s0, e0)
                    ):
                        eligible += 1
        assert eligible == info["tmb"]["eligible_variants"], patient
        value = eligible / truth["callable_mb"]
        assert info["tmb"]["status"] == ("high" if value >= 10 else "low")
    p04 = truth["patients"]["CCE-P04"]
    assert p04["tmb"]["eligible_variants"] >= 26 and p04["tmb"]["value"] > 25
    consequences = {r["consequence"] for r in p04["records"]}
    assert {"synonymous_variant", "intron_variant", "frameshift_variant", "missense_variant"} <= consequences
    for patient in ("CCE-P01", "CCE-P02", "CCE-P03", "CCE-P05", "CCE-P06", "CCE-P07", "CCE-P08"):
        assert truth["patients"][patient]["tmb"]["status"] == "low"


def test_cnv_segments(demo_dir, mane):
    out, truth, _ = demo_dir
    fai = {
        line.split("\t")[0]: int(line.split("\t")[1])
        for line in (out / "reference" / "genome.fa.fai").read_text().splitlines()
    }
    lines = (out / "cnv" / "CCE-P05.tsv").read_text().splitlines()
    assert lines[0] == "chrom\tstart\tend\tcopy_number"
    segs = defaultdict(list)
    for line in lines[1:]:
        c, s, e, cn = line.split("\t")
        segs[c].append((int(s), int(e), float(cn)))
    erbb2 = mane["ERBB2"]
    lo = min(s for s, _ in erbb2["exons"])
    hi = max(e for _, e in erbb2["exons"])
    amplified = []
    for c, v in segs.items():
        assert v[0][0] == 1 and v[-1][1] == fai[c]
        assert all(a[1] + 1 == b[0] for a, b in zip(v, v[1:], strict=False))
        amplified += [(c, s, e, cn) for s, e, cn in v if cn >= 6]
        assert all(1.5 < cn < 2.5 for s, e, cn in v if cn < 6)
    assert len(amplified) == 1
    c, s, e, cn = amplified[0]
    assert c == "chr17" and s <= lo and hi <= e and cn == 14
    for name, tx in mane.items():  # nothing else is inside the amplicon
        if name != "ERBB2" and tx["chrom"] == "chr17":
            assert max(e2 for _, e2 in tx["exons"]) < s or min(s2 for s2, _ in tx["exons"]) > e
    assert truth["patients"]["CCE-P05"]["cnas"] == [
        {
            "gene": "ERBB2",
            "alteration": "amplification",
            "copy_number": 14.0,
            "chrom": "chr17",
            "start": s,
            "end": e,
        }
    ]


def _intron_number(tx: dict, pos: int) -> int | None:
    ex = tx["exons"]
    for i, (a, b) in enumerate(zip(ex, ex[1:], strict=False), 1):
        lo, hi = (a[1], b[0]) if tx["strand"] == "+" else (b[1], a[0])
        if lo < pos < hi:
            return i
    return None


def _cds_bases_through_exon(tx: dict, exon: int) -> int:
    s_lim = tx["exons"][:exon]
    return sum(max(0, min(e, ce) - max(s, cs) + 1) for s, e in s_lim for cs, ce, _ in tx["cds"])


@pytest.mark.parametrize(
    "patient, gene5, intron5, gene3, intron3",
    [("CCE-P06", "EML4", 13, "ALK", 19), ("CCE-P07", "TPM3", 7, "NTRK1", 9)],
)
def test_fusion_breakends(demo_dir, mane, patient, gene5, intron5, gene3, intron3):
    out, truth, _ = demo_dir
    (fusion,) = truth["patients"][patient]["fusions"]
    assert (fusion["gene5"], fusion["gene3"]) == (gene5, gene3)
    assert _intron_number(mane[gene5], fusion["pos5"]) == intron5
    assert _intron_number(mane[gene3], fusion["pos3"]) == intron3
    in_frame = (
        _cds_bases_through_exon(mane[gene5], intron5) % 3 == _cds_bases_through_exon(mane[gene3], intron3) % 3
    )
    assert fusion["in_frame"] is in_frame is True
    with pysam.VariantFile(str(out / truth["patients"][patient]["sv_vcf"])) as vf:
        recs = {r.id: r for r in vf if "PASS" in r.filter.keys()}
    assert len(recs) == 2
    a, b = recs.values()
    assert a.info["SVTYPE"] == "BND" and a.info["MATEID"][0] == b.id and b.info["MATEID"][0] == a.id
    bp = {(r.chrom, r.pos): r.alts[0] for r in recs.values()}
    alt5 = bp[(fusion["chrom5"], fusion["pos5"])]
    alt3 = bp[(fusion["chrom3"], fusion["pos3"])]
    assert f"{fusion['chrom3']}:{fusion['pos3']}" in alt5 and f"{fusion['chrom5']}:{fusion['pos5']}" in alt3
    # orientation: retained 5' partner side + retained 3' partner side (VCF 4.2 breakend notation)
    left5 = mane[gene5]["strand"] == "+"
    left3 = mane[gene3]["strand"] == "-"
    assert (alt5[0] not in "[]") is left5  # t[p[ / t]p] keep the left side of the 5' breakend
    assert ("]" in alt5) == left3
    for r in recs.values():  # Manta writes NORMAL then TUMOR
        pr = r.samples[list(r.samples)[-1]]["PR"]
        sr = r.samples[list(r.samples)[-1]]["SR"]
        assert pr[1] + sr[1] == fusion["supporting_reads"]


# ---------------------------------------------------------------------------------------------
# errors and CLI
# ---------------------------------------------------------------------------------------------
def test_cli_writes_demo(tmp_path):
    out = tmp_path / "cli"
    assert cli.main(["demo", "--outdir", str(out), "--seed", "3"]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["seed"] == 3
    assert sorted(_all_files(out)) == truth["files"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_cli_outdir_is_a_file(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert cli.main(["demo", "--outdir", str(target)]) == 2
    err = capsys.readouterr().err
    assert "afile" in err and "expected a directory" in err and "found a file" in err
    assert len(err.strip().splitlines()) == 1
    assert target.read_text() == "x"


def test_cli_rejects_negative_seed(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--outdir", str(tmp_path / "x"), "--seed", "-1"])
    assert exc.value.code == 2
    assert "expected a non-negative integer" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_library_rejects_bad_seed(tmp_path):
    with pytest.raises(ConfigError, match="expected a non-negative integer seed; found -3"):
        demo.write_demo(tmp_path / "x", seed=-3)
    with pytest.raises(ConfigError, match="found '7'"):
        demo.write_demo(tmp_path / "y", seed="7")


def test_failure_leaves_no_partial_output(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(demo, "_cnv_table", boom)
    out = tmp_path / "partial"
    with pytest.raises(OSError, match="disk full"):
        demo.write_demo(out, seed=7)
    assert list(out.iterdir()) == []  # not even the reference or the VCFs written before the failure


def test_normalize_allele_left_aligns_in_homopolymer(demo_dir):
    ref = demo.build_reference(7)
    seq = ref.seqs["chr1"]
    # find an AAAA run and delete its last base written at the right end
    i = seq.index("CAAAAG", 5000)
    pos_right = i + 4  # 1-based position of the 4th base of the run minus one -> anchor of last A
    assert demo.normalize_allele(ref, "chr1", pos_right, "AA", "A") == (i + 1, "CA", "C")
    assert demo.normalize_allele(ref, "chr1", i + 5, "A", "AA") == (i + 1, "C", "CA")
    assert demo.normalize_allele(ref, "chr1", 7000, seq[6999], "T" if seq[6999] != "T" else "G")[0] == 7000
    assert os.path.exists(demo_dir[0] / "truth.json")


@pytest.mark.slow
def test_pipeline_stages_recover_the_truth(demo_dir, tmp_path):
    """ccev normalize + annotate + biomarkers on every demo patient reproduce truth.json."""
    out, truth, _ = demo_dir
    import pandas as pd

    ref, gff3, bed = (str(out / "reference" / f) for f in ("genome.fa", "genes.gff3", "callable.bed"))
    for patient, info in truth["patients"].items():
        norm = tmp_path / f"{patient}.vcf.gz"
        table = tmp_path / f"{patient}.parquet"
        bm = tmp_path / f"{patient}.json"
        assert cli.main(["-q", "normalize", "-i", str(out / info["vcf"]), "-r", ref, "-o", str(norm)]) == 0
        assert (
            cli.main(
                [
                    "-q",
                    "annotate",
                    "--input",
                    str(norm),
                    "--reference",
                    ref,
                    "--annotation",
                    gff3,
                    "--output",
                    str(tmp_path / f"{patient}.ann.vcf.gz"),
                    "--table",
                    str(table),
                    "--cache-dir",
                    str(tmp_path / "cache"),
                ]
            )
            == 0
        )
        extra = []
        if info["sv_vcf"]:
            extra += ["--sv-vcf", str(out / info["sv_vcf"])]
        if info["cnv"]:
            extra += ["--cnv", str(out / info["cnv"])]
        args = [
            "-q",
            "biomarkers",
            "--variants",
            str(table),
            "--output",
            str(bm),
            "--annotation",
            gff3,
            "--callable-bed",
            bed,
            "--assay",
            "panel",
            *extra,
        ]
        assert cli.main(args) == 0
        df = pd.read_parquet(table)
        picked = {(r.chrom, r.pos, r.ref, r.alt): r for r in df[df["pick"]].itertuples()}
        for rec in info["records"]:
            if rec["filter"] != "PASS":
                continue
            n = rec["normalized"]
            row = picked[(n["chrom"], n["pos"], n["ref"], n["alt"])]
            assert row.t_dp == rec["t_dp"] and row.t_af == pytest.approx(rec["t_af"], abs=1e-3)
            assert row.consequence.split("&")[0] == rec["consequence"], (patient, n)
            assert row.gene == rec["gene"]
        for d in info["drivers"]:
            n = d["normalized"]
            row = picked[(n["chrom"], n["pos"], n["ref"], n["alt"])]
            assert (row.hgvsp_short, row.hgvsp, row.hgvsc, row.exon) == (
                "p." + d["protein_change"],
                d["hgvsp"],
                d["hgvsc"],
                d["exon"],
            )
        doc = json.loads(bm.read_text())
        assert doc["tmb"]["eligible_variants"] == info["tmb"]["eligible_variants"], patient
        assert doc["tmb"]["status"] == info["tmb"]["status"]
        assert {(c["gene"], c["alteration"]) for c in doc["cna"]} == {
            (c["gene"], c["alteration"]) for c in info["cnas"]
        }
        got = {(f["gene5"], f["gene3"], f["pos5"], f["pos3"], f["in_frame"]) for f in doc["fusions"]}
        assert got == {(f["gene5"], f["gene3"], f["pos5"], f["pos3"], f["in_frame"]) for f in info["fusions"]}
