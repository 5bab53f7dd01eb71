"""Fusions from SV VCFs (breakend notation, Delly symbolic records) and fusion-caller tables."""

from __future__ import annotations

import pytest
from test_biomarkers import GFF3 as TWO_GENE_GFF3

from ccevariants.biomarkers._genes import GeneModel
from ccevariants.biomarkers.fusions import (
    fusions_from_junctions,
    keeps_5prime,
    parse_breakend_alt,
    read_fusion_table,
    read_sv_vcf,
    reading_frame,
)
from ccevariants.errors import InputError

# GENEA (+) chr1: exons 1001-1100, 2001-2100, 3001-3100; CDS 1051-1100 (50), 2001-2100 (100), 3001-3060
# GENEB (-) chr1: exons 13001-13100 (ex1), 11001-11100 (ex2), 10001-10100 (ex3); CDS 13001-13050 (50),
#                 11001-11100 (100), 10041-10100
# GENEC (+) chr2: exons 501-600, 1501-1600, 2501-2600; CDS 531-600 (70), 1501-1600 (100), 2501-2540
GFF3 = (
    TWO_GENE_GFF3
    + """chr2\tt\tgene\t501\t2600\t.\t+\t.\tID=gene:GC;Name=GENEC;biotype=protein_coding
chr2\tt\tmRNA\t501\t2600\t.\t+\t.\tID=transcript:TC;Parent=gene:GC;biotype=protein_coding;tag=MANE_Select
chr2\tt\texon\t501\t600\t.\t+\t.\tParent=transcript:TC
chr2\tt\texon\t1501\t1600\t.\t+\t.\tParent=transcript:TC
chr2\tt\texon\t2501\t2600\t.\t+\t.\tParent=transcript:TC
chr2\tt\tCDS\t531\t600\t.\t+\t0\tParent=transcript:TC
chr2\tt\tCDS\t1501\t1600\t.\t+\t2\tParent=transcript:TC
chr2\tt\tCDS\t2501\t2540\t.\t+\t0\tParent=transcript:TC
"""
)

VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR\n"


@pytest.fixture()
def genes(tmp_path):
    from ccevariants.transcripts import load_annotation

    path = tmp_path / "genes.gff3"
    path.write_text(GFF3)
    return GeneModel(load_annotation(path, use_cache=False))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_breakend_alt_four_forms():
    assert parse_breakend_alt("G[chr2:1000[") == ("left", "chr2", 1000, "right")
    assert parse_breakend_alt("G]chr2:1000]") == ("left", "chr2", 1000, "left")
    assert parse_breakend_alt("]chr2:1000]G") == ("right", "chr2", 1000, "left")
    assert parse_breakend_alt("[chr2:1000[G") == ("right", "chr2", 1000, "right")
    assert parse_breakend_alt("[HLA-A*01:01:1:55[G") == ("right", "HLA-A*01:01:1", 55, "right")
    assert parse_breakend_alt("G[chr2:1000]") is None
    assert parse_breakend_alt("<DEL>") is None
    assert keeps_5prime("left", 1) and keeps_5prime("right", -1)
    assert not keeps_5prime("right", 1) and not keeps_5prime("left", -1)


def test_real_delly_vcf(shared_data):
    result = read_sv_vcf(shared_data / "caller-vcfs" / "test_delly.vcf")
    assert result.counts == {
        "records": 15,
        "junctions": 12,
        "unpaired_breakends": 0,
        "single_breakends": 0,
        "insertions": 3,
        "other_records": 0,
    }
    by_id = {j.record_id: j for j in result.junctions}
    # read by hand from the file
    bnd = by_id["BND00000094"]  # 21 42843749 ]15:80623247]C PASS CT=5to3; TUMOR DV=184 RV=172
    assert (bnd.chrom1, bnd.pos1, bnd.side1, bnd.chrom2, bnd.pos2, bnd.side2) == (
        "21",
        42843749,
        "right",
        "15",
        80623247,
        "left",
    )
    assert (bnd.filter, bnd.supporting_reads, bnd.svtype) == ("PASS", 356, "BND")
    low = by_id["BND00000083"]  # 20 62680472 [2:33141314[C LowQual CT=5to5; TUMOR DV=2 RV=0
    assert (low.side1, low.chrom2, low.pos2, low.side2, low.filter, low.supporting_reads) == (
        "right",
        "2",
        33141314,
        "right",
        "LowQual",
        2,
    )
    dele = by_id["DEL00000578"]  # 4 66197402 <DEL> END=66197751 CT=3to5 PE=3
    assert (dele.chrom1, dele.pos1, dele.side1, dele.chrom2, dele.pos2, dele.side2) == (
        "4",
        66197402,
        "left",
        "4",
        66197751,
        "right",
    )
    inv = by_id["INV00000050"]  # 21 37828386 <INV> END=39870413 CT=3to3; TUMOR DV=23 RV=30
    assert (inv.side1, inv.pos2, inv.side2, inv.supporting_reads) == ("left", 39870413, "left", 53)
    dup = by_id["DUP00000000"]  # 6 29855953 <DUP> END=29910754 CT=5to3; TUMOR DV=83 RV=241
    assert (dup.side1, dup.pos2, dup.side2, dup.supporting_reads) == ("right", 29910754, "left", 324)
    # the NORMAL column holds other counts (DV=0 RV=0 for this junction): the tumour column is used
    normal = read_sv_vcf(shared_data / "caller-vcfs" / "test_delly.vcf", tumor_sample="NORMAL")
    assert {j.record_id: j.supporting_reads for j in normal.junctions}["BND00000094"] == 0
    assert sum(j.filter == "PASS" for j in result.junctions) == 7
    fusions, summary = fusions_from_junctions(result.junctions, None, source="sv_vcf")
    assert fusions == [] and summary["not_assessed_no_annotation"] == 12


def test_pcgr_fusion_table(shared_data):
    calls, summary = read_fusion_table(shared_data / "pcgr-T001-BRCA" / "T001-BRCA.grch38.fusions.tsv")
    assert summary == {"rows": 9, "fusions": 9, "format": "pcgr"}
    first = {
        k: calls[0][k] for k in ("gene5", "gene3", "chrom5", "pos5", "chrom3", "pos3", "supporting_reads")
    }
    assert first == {
        "gene5": "NTRK1",
        "gene3": "TPM3",
        "chrom5": "1",
        "pos5": 156875154,
        "chrom3": "1",
        "pos3": 154169959,
        "supporting_reads": 55,
    }
    eml4 = [c for c in calls if c["gene3"] == "ALK"]
    assert [(c["gene5"], c["pos5"], c["pos3"], c["supporting_reads"]) for c in eml4] == [
        ("EML4", 42295554, 29223528, 100)
    ]
    assert calls[0]["in_frame"] is None and calls[0]["in_frame_reason"] == "no annotation given"


def test_reading_frame_by_hand(genes):
    # GENEA intron 1 (50 coding bases kept) + GENEC intron 2 (170 coding bases lost): 50 ≡ 170 (mod 3)
    assert reading_frame(genes, "GENEA", "chr1", 1500, "GENEC", "chr2", 2000, genomic=True)[0] is True
    # GENEA intron 1 + GENEC intron 1 (70 lost): 50 vs 70 → out of frame
    frame, reason, detail = reading_frame(genes, "GENEA", "chr1", 1500, "GENEC", "chr2", 1000, genomic=True)
    assert frame is False and detail["coding_bases_5"] == 50 and detail["coding_bases_lost_3"] == 70
    # minus-strand 5' partner: GENEB intron 1 (chr1:11101-13000) keeps its 50 coding bases
    frame, _, detail = reading_frame(genes, "GENEB", "chr1", 12000, "GENEC", "chr2", 2000, genomic=True)
    assert frame is True and detail["coding_bases_5"] == 50
    assert {k: detail[k] for k in ("exon5_last", "intron5", "exon3_first", "intron3")} == {
        "exon5_last": 1,
        "intron5": 1,
        "exon3_first": 3,
        "intron3": 2,
    }
    # RNA junction at exon boundaries: last base of GENEA exon 1, first base of GENEC exon 2
    frame, _, detail = reading_frame(genes, "GENEA", "chr1", 1100, "GENEC", "chr2", 1501, genomic=False)
    assert (frame, detail["coding_bases_5"], detail["coding_bases_lost_3"]) == (False, 50, 70)
    # minus strand RNA: first base of GENEB exon 1 in transcript order is 13100, its last coding-exon base 13001
    frame, _, detail = reading_frame(genes, "GENEB", "chr1", 13001, "GENEC", "chr2", 2501, genomic=False)
    assert (frame, detail["coding_bases_5"], detail["coding_bases_lost_3"]) == (True, 50, 170)
    assert (detail["exon5_last"], detail["intron5"], detail["exon3_first"], detail["intron3"]) == (
        1,
        None,
        3,
        None,
    )
    # undeterminable cases carry a reason
    assert reading_frame(genes, "GENEA", "chr1", 2050, "GENEC", "chr2", 1000, genomic=True)[:2] == (
        None,
        "genomic breakpoint inside an exon: fusion transcript splicing not predictable from DNA",
    )
    assert reading_frame(genes, "GENEA", "chr1", 1500, "GENEC", "chr2", 520, genomic=False)[:2] == (
        None,
        "3′ partner keeps its whole coding sequence (breakpoint upstream of its start codon)",
    )
    assert (
        reading_frame(genes, "GENEA", "chr1", 1500, "NOPE", "chr2", 520, genomic=True)[1]
        == "gene NOPE not in the annotation"
    )
    assert reading_frame(None, "GENEA", "chr1", 1500, "GENEC", "chr2", 520, genomic=True)[:2] == (
        None,
        "no annotation given",
    )


def test_sv_vcf_fusions_with_mates_and_orientation(tmp_path, genes):
    path = write(
        tmp_path,
        "manta.vcf",
        VCF_HEADER
        # GENEB (-) keeps right → 5′; GENEC (+) keeps right → 3′; written as a MATEID pair
        + "chr1\t12000\tb1\tN\t[chr2:2000[N\t.\tPASS\tSVTYPE=BND;MATEID=b2\tPR:SR\t20,0:15,0\t18,7:16,9\n"
        + "chr2\t2000\tb2\tN\t[chr1:12000[N\t.\tPASS\tSVTYPE=BND;MATEID=b1\tPR:SR\t20,0:15,0\t18,7:16,9\n"
        # GENEA keeps left (5′) and GENEC keeps left (5′): no sense fusion
        + "chr1\t1500\tb3\tN\tN]chr2:1000]\t.\tPASS\tSVTYPE=BND;MATEID=b4\tPR:SR\t.\t3,5:2,2\n"
        # mate b6 missing from the file: unpaired, still used
        + "chr1\t1500\tb5\tN\tN[chr2:1000[\t.\tPASS\tSVTYPE=BND;MATEID=b6\tPR:SR\t.\t3,4:2,3\n"
        + "chr1\t5000\tb7\tN\tN.\t.\tPASS\tSVTYPE=BND\tPR\t.\t3,4\n"
        + "chr1\t12000\tb8\tN\t[chr2:2000[N\t.\tMinQUAL\tSVTYPE=BND\tPR\t.\t3,4\n",
    )
    result = read_sv_vcf(path)
    assert result.counts["unpaired_breakends"] == 2  # b3 (mate b4 absent) and b5
    assert result.counts["single_breakends"] == 1
    assert [j.record_id for j in result.junctions] == ["b1", "b3", "b5"]  # b8 repeats b1's junction
    assert result.junctions[0].supporting_reads == 16  # tumour column PR alt 7 + SR alt 9
    fusions, summary = fusions_from_junctions(result.junctions, genes, source="sv_vcf")
    got = [
        (f["gene5"], f["chrom5"], f["pos5"], f["gene3"], f["chrom3"], f["pos3"], f["in_frame"])
        for f in fusions
    ]
    assert got == [
        ("GENEB", "chr1", 12000, "GENEC", "chr2", 2000, True),
        ("GENEA", "chr1", 1500, "GENEC", "chr2", 1000, False),
    ]
    assert summary["not_sense"] == 1 and summary["fusions"] == 2
    assert fusions[0]["transcript5"] == "TB" and fusions[0]["kinase_domain_retained"] is None


def test_sv_vcf_errors(tmp_path):
    bad = write(tmp_path, "bad.vcf", VCF_HEADER + "chr1\t100\tx\tN\tN[chr2:5]\t.\tPASS\tSVTYPE=BND\n")
    with pytest.raises(InputError, match=r"bad.vcf:3: expected a breakend ALT in VCF notation"):
        read_sv_vcf(bad)
    noend = write(tmp_path, "noend.vcf", VCF_HEADER + "chr1\t100\tx\tN\t<DEL>\t.\tPASS\tSVTYPE=DEL\n")
    with pytest.raises(InputError, match=r"noend.vcf:3: expected INFO/END on a DEL record"):
        read_sv_vcf(noend)
    nohead = write(tmp_path, "nohead.vcf", "chr1\t100\tx\tN\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=200\n")
    with pytest.raises(InputError, match=r"nohead.vcf:1: expected a VCF record .* after the #CHROM header"):
        read_sv_vcf(nohead)
    with pytest.raises(InputError, match="expected an existing SV VCF"):
        read_sv_vcf(tmp_path / "none.vcf")


def test_symbolic_records_without_ct(tmp_path):
    path = write(
        tmp_path,
        "sv.vcf",
        VCF_HEADER
        + "chr1\t1500\td\tN\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=2500\n"
        + "chr1\t1500\ti\tN\t<INV>\t.\tPASS\tSVTYPE=INV;END=12000\n"
        + "chr1\t1500\tn\tN\t<INS>\t.\tPASS\tSVTYPE=INS;END=1501\n"
        + "chr1\t1600\tm3\tN\t<INV>\t.\tPASS\tSVTYPE=INV;END=12000;INV3\n"
        + "chr1\t1700\tm5\tN\t<INV>\t.\tPASS\tSVTYPE=INV;END=12000;INV5\n"
        + "chr1\t1800\tt\tN\t<DUP:TANDEM>\t.\tPASS\tSVTYPE=DUP;END=2500\n",
    )
    result = read_sv_vcf(path)
    sides = [(j.record_id, j.side1, j.side2) for j in result.junctions]
    assert sides == [
        ("d", "left", "right"),
        ("i", "left", "left"),
        ("i", "right", "right"),
        ("m3", "left", "left"),
        ("m5", "right", "right"),
        ("t", "right", "left"),
    ]
    assert result.counts["insertions"] == 1


def test_arriba_and_star_fusion_tables(tmp_path, genes):
    arriba = write(
        tmp_path,
        "fusions.tsv",
        "#gene1\tgene2\tstrand1(gene/fusion)\tstrand2(gene/fusion)\tbreakpoint1\tbreakpoint2\tsite1\tsite2"
        "\ttype\tsplit_reads1\tsplit_reads2\tdiscordant_mates\tcoverage1\tcoverage2\tconfidence"
        "\treading_frame\tdirection1\tdirection2\n"
        "GENEA\tGENEC\t+/+\t+/+\tchr1:1100\tchr2:1501\tsplice-site\tsplice-site\ttranslocation\t10\t12\t5"
        "\t50\t60\thigh\t.\tdownstream\tupstream\n"
        "GENEA(1000),GENEX(50)\tGENEC\t+/+\t+/+\tchr1:2100\tchr2:2501\tsplice-site\tsplice-site\ttranslocation\t3"
        "\t4\t1\t50\t60\tlow\tin-frame\tdownstream\tupstream\n",
    )
    calls, summary = read_fusion_table(arriba, genes)
    assert summary["format"] == "arriba"
    got = [
        (c["gene5"], c["pos5"], c["gene3"], c["pos3"], c["in_frame"], c["supporting_reads"]) for c in calls
    ]
    # gene1 is the 5′ partner (Arriba orders them); row 1 frame computed: 50 vs 70 coding bases;
    # row 2 frame from Arriba's reading_frame, first listed gene of "GENEA(1000),GENEX(50)" taken
    assert got == [("GENEA", 1100, "GENEC", 1501, False, 27), ("GENEA", 2100, "GENEC", 2501, True, 8)]
    assert calls[1]["in_frame_reason"] == "reported by arriba"

    star = write(
        tmp_path,
        "star-fusion.fusion_predictions.abridged.coding_effect.tsv",
        "#FusionName\tJunctionReadCount\tSpanningFragCount\tSpliceType\tLeftGene\tLeftBreakpoint\tRightGene"
        "\tRightBreakpoint\tPROT_FUSION_TYPE\n"
        "GENEB--GENEC\t10\t5\tONLY_REF_SPLICE\tGENEB^GB\tchr1:13001:-\tGENEC^GC\tchr2:2501:+\t.\n"
        "GENEA--GENEC\t2\t1\tONLY_REF_SPLICE\tGENEA^GA\tchr1:1100:+\tGENEC^GC\tchr2:1501:+\tFRAMESHIFT\n",
    )
    calls, summary = read_fusion_table(star, genes)
    assert summary["format"] == "star-fusion"
    assert [(c["gene5"], c["gene3"], c["pos5"], c["in_frame"], c["supporting_reads"]) for c in calls] == [
        ("GENEB", "GENEC", 13001, True, 15),
        ("GENEA", "GENEC", 1100, False, 3),
    ]


def test_fusioncatcher_table(tmp_path, genes):
    header = (
        "Gene_1_symbol(5end_fusion_partner)\tGene_2_symbol(3end_fusion_partner)\tFusion_description"
        "\tCounts_of_common_mapping_reads\tSpanning_pairs\tSpanning_unique_reads\tLongest_anchor_found"
        "\tFusion_finding_method\tFusion_point_for_gene_1(5end_fusion_partner)"
        "\tFusion_point_for_gene_2(3end_fusion_partner)\tGene_1_id(5end_fusion_partner)"
        "\tGene_2_id(3end_fusion_partner)\tExon_1_id(5end_fusion_partner)\tExon_2_id(3end_fusion_partner)"
        "\tFusion_sequence\tPredicted_effect\n"
    )
    rows = (
        "GENEA\tGENEC\tknown\t0\t6\t9\t30\tBOWTIE\tchr1:1100:+\tchr2:1501:+\tGA\tGC\tE1\tE2\tACGT*TTGA\tout-of-frame\n"
        "GENEB\tGENEC\t\t0\t2\t3\t30\tBOWTIE\tchr1:13001:-\tchr2:2501:+\tGB\tGC\tE1\tE3\tACGT*TTGA"
        "\texonic(no-known-CDS)/exonic(no-known-CDS)\n"
    )
    calls, summary = read_fusion_table(
        write(tmp_path, "final-list_candidate-fusion-genes.txt", header + rows), genes
    )
    assert summary["format"] == "fusioncatcher"
    got = [
        (
            c["gene5"],
            c["pos5"],
            c["gene3"],
            c["pos3"],
            c["in_frame"],
            c["in_frame_reason"],
            c["supporting_reads"],
        )
        for c in calls
    ]
    assert got == [
        ("GENEA", 1100, "GENEC", 1501, False, "reported by fusioncatcher", 15),
        ("GENEB", 13001, "GENEC", 2501, True, "reading frame from reporting transcripts", 5),
    ]


def test_fusion_table_errors(tmp_path):
    unknown = write(tmp_path, "f.tsv", "left\tright\treads\nA\tB\t3\n")
    with pytest.raises(InputError, match=r"f.tsv:1: expected the columns of a fusion table \(arriba: gene1"):
        read_fusion_table(unknown)
    badname = write(
        tmp_path, "g.tsv", "FusionGene\tLeftBreakpoint\tRightBreakpoint\tSplitReads\nEML4-ALK\t2:1\t2:5\t3\n"
    )
    with pytest.raises(InputError, match=r"g.tsv:2: expected FusionGene 'GENE5--GENE3'; found 'EML4-ALK'"):
        read_fusion_table(badname)
    badpos = write(
        tmp_path, "h.tsv", "FusionGene\tLeftBreakpoint\tRightBreakpoint\tSplitReads\nA--B\t2-1\t2:5\t3\n"
    )
    with pytest.raises(
        InputError, match=r"h.tsv:2: expected a breakpoint 'chrom:pos\[:strand\]'; found '2-1'"
    ):
        read_fusion_table(badpos)


def test_compute_biomarkers_reports_unpaired_breakends(tmp_path, genes):
    import pandas as pd

    from ccevariants.biomarkers import compute_biomarkers

    sv = write(
        tmp_path,
        "sv.vcf",
        VCF_HEADER + "chr1\t12000\tb1\tN\t[chr2:2000[N\t.\tPASS\tSVTYPE=BND;MATEID=gone\tPR:SR\t.\t4,6:2,8\n",
    )
    table = pd.DataFrame(
        {
            c: pd.Series([], dtype=object)
            for c in ("variant_id", "chrom", "ref", "alt", "filter", "consequence")
        }
    )
    table["pos"] = pd.Series([], dtype="int64")
    table["t_dp"] = pd.Series([], dtype="int64")
    table["t_af"] = pd.Series([], dtype=float)
    doc = compute_biomarkers(table, tmp_path / "b.json", sv_vcf=sv, genes=genes, callable_mb=1.0)
    assert doc["fusion_summary"]["sv_vcf"]["unpaired_breakends"] == 1
    assert doc["warnings"] == [f"1 unpaired breakends in {sv} (MATEID not in file)"]
    assert [(f["gene5"], f["gene3"], f["in_frame"], f["supporting_reads"]) for f in doc["fusions"]] == [
        ("GENEB", "GENEC", True, 14)
    ]
    assert (doc["tmb"]["value"], doc["tmb"]["eligible_variants"]) == (0.0, 0)


def test_breakend_prefers_the_specific_gene_over_a_read_through(tmp_path):
    from ccevariants.biomarkers.fusions import Junction
    from ccevariants.transcripts import load_annotation

    readthrough = (
        "chr1\tt\tgene\t1001\t13100\t.\t+\t.\tID=gene:RT;Name=GENEA-RT;biotype=protein_coding\n"
        "chr1\tt\tmRNA\t1001\t13100\t.\t+\t.\tID=transcript:TRT;Parent=gene:RT;biotype=protein_coding\n"
        "chr1\tt\texon\t1001\t1100\t.\t+\t.\tParent=transcript:TRT\n"
        "chr1\tt\texon\t13001\t13100\t.\t+\t.\tParent=transcript:TRT\n"
        "chr1\tt\tCDS\t1051\t1100\t.\t+\t0\tParent=transcript:TRT\n"
        "chr1\tt\tCDS\t13001\t13040\t.\t+\t1\tParent=transcript:TRT\n"
    )
    path = write(tmp_path, "rt.gff3", GFF3 + readthrough)
    genes = GeneModel(load_annotation(path, use_cache=False))
    junction = Junction("chr1", 1500, "left", "chr2", 2000, "right", "j", "BND", "PASS", 9, 1)
    fusions, _ = fusions_from_junctions([junction], genes, source="sv_vcf")
    assert [(f["gene5"], f["gene3"], f["in_frame"]) for f in fusions] == [("GENEA", "GENEC", True)]


def test_kinase_domain_retention(tmp_path, genes):
    from ccevariants.biomarkers.fusions import Junction, read_protein_domains

    table = write(
        tmp_path, "domains.tsv", "gene\tstart\tend\tname\nGENEC\t58\t65\tkinase\nGENEA\t5\t16\tkinase\n"
    )
    domains = read_protein_domains(table)
    assert domains == {"GENEC": [(58, 65, "kinase")], "GENEA": [(5, 16, "kinase")]}
    in_frame_3 = Junction("chr1", 12000, "right", "chr2", 2000, "right", "a", "BND", "PASS", 5, 1)
    out_of_frame = Junction("chr1", 1500, "left", "chr2", 1000, "right", "b", "BND", "PASS", 5, 2)
    fusions, _ = fusions_from_junctions([in_frame_3, out_of_frame], genes, "sv_vcf", domains=domains)
    # GENEB-GENEC: 170 coding bases of GENEC lost → first whole residue 58: domain 58-65 kept
    assert (fusions[0]["gene5"], fusions[0]["kinase_domain_retained"]) == ("GENEB", True)
    assert fusions[0]["kinase_domain_reason"] == "retained: GENEC kinase 58-65"
    # GENEA-GENEC out of frame; GENEA keeps 50 coding bases = residues 1-16: its domain 5-16 is kept
    assert (fusions[1]["gene5"], fusions[1]["kinase_domain_retained"]) == ("GENEA", True)
    assert fusions[1]["kinase_domain_reason"] == "retained: GENEA kinase 5-16"
    tighter = {"GENEC": [(57, 65, "kinase")], "GENEA": [(5, 17, "kinase")]}
    fusions, _ = fusions_from_junctions([in_frame_3, out_of_frame], genes, "sv_vcf", domains=tighter)
    assert [f["kinase_domain_retained"] for f in fusions] == [False, False]
    assert fusions[1]["kinase_domain_reason"] == "listed domain not kept whole (3′ partner out of frame)"
    fusions, _ = fusions_from_junctions([in_frame_3], genes, "sv_vcf", domains={"OTHER": [(1, 2, "k")]})
    assert fusions[0]["kinase_domain_retained"] is None
    assert fusions[0]["kinase_domain_reason"] == "no domain listed for GENEB or GENEC"
    fusions, _ = fusions_from_junctions([in_frame_3], genes, "sv_vcf")
    assert fusions[0]["kinase_domain_reason"] == "no protein-domain table given"


def test_protein_domain_table_errors(tmp_path):
    from ccevariants.biomarkers.fusions import read_protein_domains

    cases = {
        "h.tsv": (
            "symbol\tfrom\tto\nALK\t1\t2\n",
            r"h.tsv:1: expected a header 'gene<TAB>start<TAB>end\[<TAB>name\]'",
        ),
        "i.tsv": ("gene\tstart\tend\nALK\tx\t2\n", r"i.tsv:2: expected integer amino-acid start and end"),
        "o.tsv": (
            "gene\tstart\tend\nALK\t9\t2\n",
            r"o.tsv:2: expected 1 <= start <= end; found start=9, end=2",
        ),
        "e.tsv": ("", r"e.tsv: expected a header line in the protein-domain table"),
    }
    for name, (text, message) in cases.items():
        with pytest.raises(InputError, match=message):
            read_protein_domains(write(tmp_path, name, text))


def test_breakpoint_outside_reporting_transcript_uses_a_spanning_transcript(tmp_path):
    from ccevariants.transcripts import load_annotation

    extra = (
        "chr3\tt\tgene\t101\t1600\t.\t+\t.\tID=gene:GD;Name=GENED;biotype=protein_coding\n"
        "chr3\tt\tmRNA\t1001\t1600\t.\t+\t.\tID=transcript:TD1;Parent=gene:GD;biotype=protein_coding;tag=MANE_Select\n"
        "chr3\tt\texon\t1001\t1100\t.\t+\t.\tParent=transcript:TD1\n"
        "chr3\tt\texon\t1501\t1600\t.\t+\t.\tParent=transcript:TD1\n"
        "chr3\tt\tCDS\t1031\t1100\t.\t+\t0\tParent=transcript:TD1\n"
        "chr3\tt\tCDS\t1501\t1560\t.\t+\t2\tParent=transcript:TD1\n"
        "chr3\tt\tmRNA\t101\t1600\t.\t+\t.\tID=transcript:TD2;Parent=gene:GD;biotype=protein_coding\n"
        "chr3\tt\texon\t101\t200\t.\t+\t.\tParent=transcript:TD2\n"
        "chr3\tt\texon\t1501\t1600\t.\t+\t.\tParent=transcript:TD2\n"
        "chr3\tt\tCDS\t131\t200\t.\t+\t0\tParent=transcript:TD2\n"
        "chr3\tt\tCDS\t1501\t1560\t.\t+\t2\tParent=transcript:TD2\n"
    )
    genes = GeneModel(load_annotation(write(tmp_path, "d.gff3", GFF3 + extra), use_cache=False))
    # chr3:150 lies in TD2's first exon, upstream of the MANE transcript TD1: 19 coding bases lost (131-149)
    frame, reason, detail = reading_frame(genes, "GENEA", "chr1", 1100, "GENED", "chr3", 150, genomic=False)
    assert (detail["transcript3"], detail["coding_bases_lost_3"], frame) == ("TD2", 19, False)
    # inside the MANE transcript: it stays the one used
    _, _, detail = reading_frame(genes, "GENEA", "chr1", 1100, "GENED", "chr3", 1501, genomic=False)
    assert (detail["transcript3"], detail["coding_bases_lost_3"]) == ("TD1", 70)
