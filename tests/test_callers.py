"""Caller detection, tumour/normal identification and caller-aware read support.

Real-data tests read the vcf2maf caller VCFs and the PCGR tumour from ../shared/data in place
(``shared_data`` fixture). Every expected number below was read by hand from the raw FORMAT
fields of the file, quoted in the comment next to it, and the formula of docs/normalisation.md
applied by hand.
"""

from __future__ import annotations

import math

import cyvcf2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccevariants.callers import (
    TagMap,
    canonical_caller,
    classify_sample_name,
    detect_caller,
    finalise,
    identify_samples,
)
from ccevariants.errors import ConfigError, InputError
from ccevariants.normalize import normalize_vcf

# ------------------------------------------------------------------------------------------
# pure functions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("TUMOR", "tumor"),
        ("NORMAL", "normal"),
        ("tumour", "tumor"),
        ("DNA_TUMOR", "tumor"),
        ("DNA_NORMAL", "normal"),
        ("RNA_TUMOR", None),
        ("TCGA-BT-A20W-01A-21D-A14W-08", "tumor"),
        ("TCGA-BT-A20W-11A-11D-A14W-08", "normal"),
        ("TCGA-N5-A4R8-10A-01D-A28U-08", "normal"),
        ("TCGA-A2-A04W-01A-31D-A10Y-09_TCGA-A2-A04W-10A-01D-A110-09", None),
        ("P001_T", "tumor"),
        ("P001-N", "normal"),
        ("patient7.tumor", "tumor"),
        ("sample1", None),
        ("HG00096", None),
    ],
)
def test_classify_sample_name(name, kind):
    assert classify_sample_name(name) == kind


def test_identify_samples_order_of_evidence():
    # explicit arguments win over names
    r = identify_samples(["NORMAL", "TUMOR"], [], tumor_sample="NORMAL", normal_sample="TUMOR")
    assert (r.tumor, r.normal, r.method) == ("NORMAL", "TUMOR", "argument")
    # GATK header lines win over names
    hdr = ["##tumor_sample=S2", "##normal_sample=S1"]
    r = identify_samples(["S1", "S2"], hdr)
    assert (r.tumor, r.normal, r.method) == ("S2", "S1", "header")
    # names, in either column order
    assert identify_samples(["TUMOR", "NORMAL"], []).tumor == "TUMOR"
    r = identify_samples(["NORMAL", "TUMOR"], [])
    assert (r.tumor, r.normal) == ("TUMOR", "NORMAL")
    r = identify_samples(["DNA_NORMAL", "DNA_TUMOR", "RNA_TUMOR"], [])
    assert (r.tumor, r.normal) == ("DNA_TUMOR", "DNA_NORMAL")
    # tumour only
    r = identify_samples(["S1"], [])
    assert (r.tumor, r.normal, r.method) == ("S1", None, "single-sample")


def test_identify_samples_errors():
    with pytest.raises(InputError, match="tumor_sample"):
        identify_samples(["S1", "S2"], [])  # never by position alone
    with pytest.raises(InputError, match="expected tumour sample 'X'"):
        identify_samples(["TUMOR", "NORMAL"], [], tumor_sample="X")
    with pytest.raises(InputError, match="expected normal sample 'Y'"):
        identify_samples(["TUMOR", "NORMAL"], [], normal_sample="Y")
    with pytest.raises(InputError, match="named like a normal"):
        identify_samples(["NORMAL"], [])
    with pytest.raises(InputError, match="found none"):
        identify_samples([], [])
    with pytest.raises(InputError, match="different tumour and normal"):
        identify_samples(["A", "B"], [], tumor_sample="A", normal_sample="A")


def test_canonical_caller():
    assert canonical_caller("Mutect2") == "mutect2"
    assert canonical_caller("strelka") == "strelka2"
    assert canonical_caller("VarScan") == "varscan2"
    with pytest.raises(ConfigError, match="expected a caller name"):
        canonical_caller("nosuchcaller")


def test_detect_caller_from_format_definitions():
    fmt = '##FORMAT=<ID={},Number=1,Type=Integer,Description="x">'
    assert detect_caller([fmt.format("RO"), fmt.format("AO")]) == "freebayes"
    assert detect_caller([fmt.format("VD"), fmt.format("AF")]) == "vardict"
    assert detect_caller(['##GATKCommandLine=<ID=Mutect2,CommandLine="Mutect2 -R x">']) == "mutect2"
    assert detect_caller(["##DRAGENCommandLine=<ID=dragen>"]) == "dragen"
    assert detect_caller([fmt.format("AD"), fmt.format("DP")]) == "generic"


def test_finalise_fallbacks_and_missing():
    nan = np.nan
    ref = np.array([10.0, nan, 0.0, 5.0, -2147483648.0])
    alt = np.array([5.0, nan, 0.0, 5.0, 3.0])
    dp = np.array([nan, 20.0, nan, 12.0, nan])
    af = np.array([0.9, 0.25, 0.7, nan, nan])
    r = finalise(ref, alt, dp, af)
    assert r.dp.tolist() == [15, 20, 0, 12, -1]  # depth falls back to ref+alt
    assert r.ad_ref.tolist() == [10, -1, 0, 5, -1]
    assert r.ad_alt.tolist() == [5, -1, 0, 5, 3]
    assert r.af[0] == pytest.approx(5 / 15)  # counts win over the caller's 0.9
    assert r.af[1] == 0.25  # no counts: the caller's own AF is used
    assert r.af[2] == 0.7  # 0/0 counts give no VAF: the caller's AF is used
    assert r.af[3] == pytest.approx(0.5)  # alt/(ref+alt), not alt/DP, at a biallelic site
    # split from a multi-allelic site: the site depth (DP) is the denominator
    m = finalise(ref, alt, dp, af, multi=np.array([False, False, False, True, False]))
    assert m.af[3] == pytest.approx(5 / 12)
    assert m.af[0] == pytest.approx(5 / 15)
    assert math.isnan(r.af[4])


def test_tag_map_validation(tmp_path):
    with pytest.raises(ConfigError, match="expected a 'tumor' mapping"):
        TagMap.from_obj({"normal": {"depth": "FORMAT/DP"}})
    with pytest.raises(ConfigError, match="FORMAT/TAG or INFO/TAG"):
        TagMap.from_obj({"tumor": {"depth": "DPT"}})
    with pytest.raises(ConfigError, match="expected tumor keys"):
        TagMap.from_obj({"tumor": {"vaf": "INFO/TVAF"}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("tumor: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        TagMap.from_obj(bad)
    assert str(bad) in str(exc.value)
    with pytest.raises(ConfigError, match="found none"):
        TagMap.from_obj(tmp_path / "missing.yaml")
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: x\ntumor:\n  depth: FORMAT/DPT\n  af: INFO/TVAF\n")
    tm = TagMap.from_obj(ok)
    assert tm.tumor == {"depth": ("FORMAT", "DPT"), "af": ("INFO", "TVAF")}
    assert tm.name == "x"


# ------------------------------------------------------------------------------------------
# real caller VCFs (vcf2maf test files), normalised without a reference (GRCh37 FASTA absent)
# ------------------------------------------------------------------------------------------

_CACHE: dict = {}


def _normalised(shared_data, tmp_path_factory, name, **kwargs):
    key = (name, tuple(sorted(kwargs.items())))
    if key not in _CACHE:
        out = tmp_path_factory.mktemp("callers") / f"{name}.vcf.gz"
        stats = normalize_vcf(shared_data / "caller-vcfs" / f"{name}.vcf", out, pass_only=False, **kwargs)
        records = {}
        for v in cyvcf2.Reader(str(out)):
            records[(v.CHROM, v.POS, v.REF, v.ALT[0])] = {
                k: v.INFO.get(k) for k in ("T_DP", "T_AD", "T_AF", "N_DP", "N_AD", "N_AF")
            }
        _CACHE[key] = (stats, records)
    return _CACHE[key]


def _check(rec, t_dp, t_ad, t_af, n_dp=None, n_ad=None, n_af=None):
    assert rec["T_DP"] == t_dp
    assert tuple(rec["T_AD"]) == t_ad
    assert rec["T_AF"] == pytest.approx(t_af, abs=1e-5)
    if n_dp is not None:
        assert rec["N_DP"] == n_dp
        assert tuple(rec["N_AD"]) == n_ad
        assert rec["N_AF"] == pytest.approx(n_af, abs=1e-5)


def test_mutect1(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_mutect")
    assert stats["caller"] == "mutect"
    assert (stats["tumor_sample"], stats["normal_sample"]) == ("TUMOR", "NORMAL")  # NORMAL is column 10
    # 1 2587467 T A  GT:AD:BQ:DP:FA  NORMAL 0:4,0:.:4:0.00  TUMOR 0/1:11,3:29:14:0.214
    _check(recs[("1", 2587467, "T", "A")], 14, (11, 3), 3 / 14, 4, (4, 0), 0.0)
    # 1 2453125 C G  NORMAL 0/1:160,31:13:192:0.162  TUMOR 0:175,30:.:206:0.146
    #   VAF from the counts: 30/(175+30) (not the caller's FA 0.146); depth = DP
    _check(recs[("1", 2453125, "C", "G")], 206, (175, 30), 30 / 205, 192, (160, 31), 31 / 191)
    # 1 13448084 G A  TUMOR 0/1:0,13:..:10:1.00  -> DP 10 is below REF+ALT 13: depth 13, VAF 1
    _check(recs[("1", 13448084, "G", "A")], 13, (0, 13), 1.0)


def test_strelka_snv_and_indel(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_strelka")
    assert stats["caller"] == "strelka2"
    # 1 118166116 C A  DP:FDP:SDP:SUBDP:AU:CU:GU:TU
    #   NORMAL 122:0:0:0:0,0:122,122:0,0:0,0   TUMOR 66:2:0:0:25,27:39,39:0,0:0,0
    #   tier-1: ref=CU[0]=39 alt=AU[0]=25 depth=25+39+0+0=64 VAF=25/(39+25)
    _check(recs[("1", 118166116, "C", "A")], 64, (39, 25), 25 / 64, 122, (122, 0), 0.0)
    # 2 102626146 CG C  DP:DP2:TAR:TIR:TOR:...  NORMAL ..:87,89:0,0:..  TUMOR ..:19,19:57,58:..
    #   ref=TAR[0]=19 alt=TIR[0]=57 depth=19+57=76 VAF=57/76
    _check(recs[("2", 102626146, "CG", "C")], 76, (19, 57), 57 / 76, 87, (87, 0), 0.0)


def test_varscan(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_varscan")
    assert stats["caller"] == "varscan2"
    # 1 2584408 C A  GT:GQ:DP:RD:AD:FREQ:DP4
    #   NORMAL 0/0:.:11:11:0:0%:10,1,0,0   TUMOR 0/1:.:13:9:4:30.77%:5,4,2,2   (AD = alt only)
    #   VAF 4/(9+4) (FREQ 30.77% is the same fraction, rounded)
    _check(recs[("1", 2584408, "C", "A")], 13, (9, 4), 4 / 13, 11, (11, 0), 0.0)


def test_somaticsniper(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_sniper")
    assert stats["caller"] == "somaticsniper"
    # 1 1648002 C T  GT:IGT:DP:DP4:...  NORMAL 0/0:0/0:23:0,22,0,1:...  TUMOR 0/1:0/1:21:0,14,0,7:...
    #   ref = 0+14, alt = 0+7, VAF = 7/21
    _check(recs[("1", 1648002, "C", "T")], 21, (14, 7), 7 / 21, 23, (22, 1), 1 / 23)
    # multi-allelic 10 135491068 G A,T  NORMAL ..:243:29,165,1,48:31,0,194,18:..
    #   TUMOR ..:204:17,132,6,49:35,0,149,20:..   DP4's ALT half (6+49) mixes both ALTs, so split
    #   records take BCOUNT (A,C,G,T): G>A ref G=149 alt A=35; G>T alt T=20; VAF = alt/DP (site)
    _check(recs[("10", 135491068, "G", "A")], 204, (149, 35), 35 / 204, 243, (194, 31), 31 / 243)
    _check(recs[("10", 135491068, "G", "T")], 204, (149, 20), 20 / 204, 243, (194, 18), 18 / 243)


def test_muse(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_muse")
    assert stats["caller"] == "muse"
    # 1 8715966 C A  GT:DP:AD:BQ:SS  TUMOR 0/1:142:130,12:38,31:2  NORMAL 0/0:105:104,0:38,0:.
    _check(recs[("1", 8715966, "C", "A")], 142, (130, 12), 12 / 142, 105, (104, 0), 0.0)


def test_radia_and_multiallelic_split(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_radia")
    assert stats["caller"] == "radia"
    assert (stats["tumor_sample"], stats["normal_sample"]) == ("DNA_TUMOR", "DNA_NORMAL")
    # 1 29651735 C T  DNA_NORMAL ..:117:..:117,0:..  DNA_TUMOR ..:106:..:95,11:..  (RNA_TUMOR ignored)
    _check(recs[("1", 29651735, "C", "T")], 106, (95, 11), 11 / 106, 117, (117, 0), 0.0)
    # 1 155294949 G A,C,T  DNA_TUMOR DP 185 AD 159,24,1,1 -> split per allele keeps REF + that ALT;
    #   split from a multi-allelic site: VAF = alt/DP, the site depth including the other ALTs' reads
    _check(recs[("1", 155294949, "G", "A")], 185, (159, 24), 24 / 185)
    _check(recs[("1", 155294949, "G", "C")], 185, (159, 1), 1 / 185)
    assert stats["records_in"] == 87
    assert stats["records_out"] == 95


def test_pindel(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_pindel")
    assert stats["caller"] == "pindel"
    # 1 16890971 ACT A  GT:DP:BQ:SS:AD  NORMAL 0/0:46:.:2:46,0  TUMOR 0/0:47:.:2:43,4
    _check(recs[("1", 16890971, "ACT", "A")], 47, (43, 4), 4 / 47, 46, (46, 0), 0.0)


def test_merged_per_record_fallback(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_merged")
    assert stats["caller"] == "merged"
    # 1 2629005 C A  GT:AD:...:DP:...:FA  NORMAL 0/0:12,0:..:24:..:0.0417  TUMOR 0/1:12,6:..:29:..:0.2759
    #   VAF from AD: 6/(12+6) (FA 0.2759 = 8/29 comes from another caller's counts)
    _check(recs[("1", 2629005, "C", "A")], 29, (12, 6), 6 / 18, 24, (12, 0), 0.0)
    # 1 150944742 TG T  GT:DP:DP4:BQ:SS:FT  NORMAL 0/0:4:3,1,0,0:..  TUMOR 0/1:6:2,2,1,1:..  (DP4)
    _check(recs[("1", 150944742, "TG", "T")], 6, (4, 2), 2 / 6, 4, (4, 0), 0.0)
    # 1 26158900 A ACT  AD is one value (alt only) -> Strelka TAR/TIR  TUMOR TAR 1,1 TIR 5,5
    _check(recs[("1", 26158900, "A", "ACT")], 6, (1, 5), 5 / 6, 4, (4, 0), 0.0)


def test_delly_precise_and_imprecise(shared_data, tmp_path_factory):
    stats, recs = _normalised(shared_data, tmp_path_factory, "test_delly")
    assert stats["caller"] == "delly"
    # 21 42843749 BND PRECISE  GT:..:DR:DV:RR:RV  TUMOR ..:0:184:289:172  NORMAL ..:0:0:263:0
    #   precise -> junction reads RR/RV
    _check(recs[("21", 42843749, "C", "]15:80623247]C")], 461, (289, 172), 172 / 461, 263, (263, 0), 0.0)
    # 1 78421964 <DEL> IMPRECISE  TUMOR ..:DR 1:DV 0:..  NORMAL ..:DR 1:DV 3:..  -> read pairs DR/DV
    _check(recs[("1", 78421964, "A", "<DEL>")], 1, (1, 0), 0.0, 4, (1, 3), 0.75)


def test_pcgr_tag_map_matches_tvaf(shared_data, tmp_path):
    """PCGR's T001 tumour: depth in FORMAT/DPT, "ref,alt" strings in FORMAT/ADT; INFO/TVAF holds the
    tumour VAF that PCGR computed. The tag map below does not use TVAF; T_AF = alt/(ref+alt)
    from ADT must agree with it on every record."""
    tag_map = tmp_path / "pcgr.yaml"
    tag_map.write_text(
        "name: pcgr\n"
        "tumor:\n  depth: FORMAT/DPT\n  ad: FORMAT/ADT\n"
        "normal:\n  depth: FORMAT/DPC\n  ad: FORMAT/ADC\n  same_column: true\n"
    )
    out = tmp_path / "t001.vcf.gz"
    stats = normalize_vcf(shared_data / "pcgr-T001-BRCA" / "T001-BRCA.grch38.vcf.gz", out, tag_map=tag_map)
    assert stats["caller"] == "pcgr"
    assert stats["records_in"] == stats["records_out"] == 196
    n = 0
    for v in cyvcf2.Reader(str(out)):
        assert v.INFO["T_AF"] == pytest.approx(v.INFO["TVAF"], abs=1e-5)
        assert v.INFO["T_DP"] == v.INFO["TDP"]
        n += 1
        if v.POS == 1968826:
            # GT:DPC:DPT:ADC:ADT:AL 0/1:237:144:.,.:112,32:1,3,4,2
            assert tuple(v.INFO["T_AD"]) == (112, 32)
            assert v.INFO["N_DP"] == 237
            assert v.INFO.get("N_AD") is None  # ADC is ".,."
    assert n == 196


# ------------------------------------------------------------------------------------------
# the columnar rules (pipeline) and their per-record twin (cyvcf2) agree on real files
# ------------------------------------------------------------------------------------------

CALLER_FILES = [
    "test_mutect",
    "test_strelka",
    "test_varscan",
    "test_sniper",
    "test_muse",
    "test_radia",
    "test_pindel",
    "test_merged",
    "test_delly",
]


def _twin(out, stats, tag_map=None):
    from ccevariants.callers import Extractor

    reader = cyvcf2.Reader(str(out))
    fmt_tags = {h.info()["ID"] for h in reader.header_iter() if h.type == "FORMAT"}
    info_tags = {h.info()["ID"] for h in reader.header_iter() if h.type == "INFO"}
    variants = list(reader)
    ex = Extractor(
        caller="generic" if tag_map else stats["caller"],
        format_tags=fmt_tags,
        info_tags=info_tags,
        samples=reader.samples,
        tumor=stats["tumor_sample"],
        normal=None if tag_map else stats["normal_sample"],
        tag_map=tag_map,
    )
    return variants, ex.batch(variants)


def _as_arrays(variants, prefix):
    dp = np.array([v.INFO.get(f"{prefix}_DP", -1) for v in variants])
    ad = [v.INFO.get(f"{prefix}_AD") for v in variants]
    ref = np.array([a[0] if a else -1 for a in ad])
    alt = np.array([a[1] if a else -1 for a in ad])
    af = np.array([v.INFO.get(f"{prefix}_AF", np.nan) for v in variants], dtype=float)
    return dp, ref, alt, af


@pytest.mark.parametrize("name", CALLER_FILES)
def test_columnar_rules_match_per_record_twin(name, shared_data, tmp_path):
    out = tmp_path / f"{name}.vcf.gz"
    stats = normalize_vcf(shared_data / "caller-vcfs" / f"{name}.vcf", out, pass_only=False)
    variants, (t, n) = _twin(out, stats)
    assert len(variants) == stats["records_out"] > 0
    for prefix, twin in (("T", t), ("N", n)):
        dp, ref, alt, af = _as_arrays(variants, prefix)
        assert dp.tolist() == twin.dp.tolist()
        assert ref.tolist() == twin.ad_ref.tolist()
        assert alt.tolist() == twin.ad_alt.tolist()
        np.testing.assert_allclose(af, twin.af, rtol=0, atol=5e-6)
    # the data really exercise the rule: most tumour records have read support
    assert (t.dp >= 0).mean() > 0.5


def test_tag_map_twin(shared_data, tmp_path):
    tm = TagMap.from_obj({"name": "pcgr", "tumor": {"depth": "FORMAT/DPT", "ad": "FORMAT/ADT"}})
    out = tmp_path / "t001.vcf.gz"
    stats = normalize_vcf(shared_data / "pcgr-T001-BRCA" / "T001-BRCA.grch37.vcf.gz", out, tag_map=tm)
    variants, (t, _) = _twin(out, stats, tag_map=tm)
    dp, ref, alt, af = _as_arrays(variants, "T")
    assert (
        dp.tolist() == t.dp.tolist()
        and ref.tolist() == t.ad_ref.tolist()
        and alt.tolist() == t.ad_alt.tolist()
    )
    np.testing.assert_allclose(af, t.af, atol=5e-6)


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 10_000),
            st.one_of(st.none(), st.integers(0, 30_000)),
            st.booleans(),
        ),
        min_size=0,
        max_size=30,
    )
)
def test_finalise_invariants(rows):
    """Depth never below REF+ALT; VAF in [0, 1] and equal to ALT/(REF+ALT) (biallelic) or ALT/depth
    (split multi-allelic); counts come back unchanged."""
    ref = np.array([r[0] for r in rows], dtype=float)
    alt = np.array([r[1] for r in rows], dtype=float)
    dp = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
    multi = np.array([r[3] for r in rows], dtype=bool)
    out = finalise(ref, alt, dp, np.full(len(rows), np.nan), multi)
    for i, (r, a, d, m) in enumerate(rows):
        depth = max(r + a, d if d is not None else 0)
        assert out.dp[i] == depth
        assert (out.ad_ref[i], out.ad_alt[i]) == (r, a)
        denom = depth if m else r + a
        if denom == 0:
            assert math.isnan(out.af[i])
        else:
            assert out.af[i] == pytest.approx(a / denom)
            assert 0.0 <= out.af[i] <= 1.0


# ------------------------------------------------------------------------------------------
# callers without a real test file here: FreeBayes, VarDict, DRAGEN (hand-written records)
# ------------------------------------------------------------------------------------------

_SEQ = "ACGTTGCAAGGCTTAACCGGTTAAGCTTGCAAGTTCCGGAATTCCAAGGTTCCAAGGTTACGT"  # chr1:1-62


def _ref(tmp_path):
    fa = tmp_path / "mini.fa"
    fa.write_text(">chr1\n" + _SEQ + "\n")
    return fa


def _vcf(tmp_path, meta: list[str], fmt_defs: list[str], records: list[str]):
    lines = ["##fileformat=VCFv4.2", *meta]
    lines += [f'##FORMAT=<ID={d},Description="x">' for d in fmt_defs]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR")
    path = tmp_path / "c.vcf"
    path.write_text("\n".join(lines + records) + "\n")
    return path


def _run(tmp_path, vcf):
    out = tmp_path / "c.vcf.gz"
    doc = normalize_vcf(vcf, out, reference=_ref(tmp_path))
    keys = ("T_DP", "T_AD", "T_AF", "N_DP", "N_AD", "N_AF")
    # copy the values out: cyvcf2 INFO objects must not outlive their reader
    recs = {(v.POS, v.REF, v.ALT[0]): {k: v.INFO.get(k) for k in keys} for v in cyvcf2.Reader(str(out))}
    return doc, recs


def test_freebayes_rule(tmp_path):
    # chr1:3 is G; multi-allelic G>A,T: RO 30, AO 12,8 (Number=A, split per allele), DP 50
    assert _SEQ[2] == "G"
    vcf = _vcf(
        tmp_path,
        ["##source=freeBayes v1.3.6"],
        [
            "GT,Number=1,Type=String",
            "DP,Number=1,Type=Integer",
            "RO,Number=1,Type=Integer",
            "AO,Number=A,Type=Integer",
        ],
        ["chr1\t3\t.\tG\tA,T\t50\tPASS\t.\tGT:DP:RO:AO\t0/0:40:40:0,0\t1/2:50:30:12,8"],
    )
    doc, recs = _run(tmp_path, vcf)
    assert doc["caller"] == "freebayes"
    a, t = recs[(3, "G", "A")], recs[(3, "G", "T")]
    # split from a multi-allelic site: VAF = alt / site depth (DP 50 >= 30+12)
    assert (a["T_DP"], tuple(a["T_AD"]), a["T_AF"]) == (50, (30, 12), pytest.approx(12 / 50))
    assert (t["T_DP"], tuple(t["T_AD"]), t["T_AF"]) == (50, (30, 8), pytest.approx(8 / 50))
    assert (a["N_DP"], tuple(a["N_AD"])) == (40, (40, 0))


def test_vardict_rule(tmp_path):
    # chr1:10 G>A with AD; chr1:12 C>T without AD: REF = RD fwd+rev, ALT = VD
    assert (_SEQ[9], _SEQ[11]) == ("G", "C")
    fmt = ["GT,Number=1,Type=String", "DP,Number=1,Type=Integer", "VD,Number=1,Type=Integer"]
    fmt += ["AD,Number=R,Type=Integer", "AF,Number=A,Type=Float", "RD,Number=2,Type=Integer"]
    vcf = _vcf(
        tmp_path,
        ["##source=VarDict_v1.8.2"],
        fmt,
        [
            "chr1\t10\t.\tG\tA\t.\tPASS\t.\tGT:DP:VD:AD:AF:RD\t0/0:60:0:60,0:0:30,30\t0/1:100:20:80,20:0.2:40,40",
            "chr1\t12\t.\tC\tT\t.\tPASS\t.\tGT:DP:VD:AF:RD\t0/0:60:0:0:30,30\t0/1:100:25:0.25:35,40",
        ],
    )
    doc, recs = _run(tmp_path, vcf)
    assert doc["caller"] == "vardict"
    a, b = recs[(10, "G", "A")], recs[(12, "C", "T")]
    assert (a["T_DP"], tuple(a["T_AD"]), a["T_AF"]) == (100, (80, 20), pytest.approx(0.2))
    assert (b["T_DP"], tuple(b["T_AD"]), b["T_AF"]) == (100, (75, 25), pytest.approx(25 / 100))
    assert (b["N_DP"], tuple(b["N_AD"])) == (60, (60, 0))


def test_dragen_rule_and_gatk_style_header(tmp_path):
    # DRAGEN: AD/AF/DP like Mutect2; sample columns named by ##tumor_sample/##normal_sample
    assert _SEQ[13] == "T"
    vcf = _vcf(
        tmp_path,
        ["##DRAGENCommandLine=<ID=dragen,Version=4.2>", "##tumor_sample=S-T", "##normal_sample=S-N"],
        [
            "GT,Number=1,Type=String",
            "AD,Number=R,Type=Integer",
            "AF,Number=A,Type=Float",
            "DP,Number=1,Type=Integer",
        ],
        ["chr1\t14\t.\tT\tC\t.\tPASS\t.\tGT:AD:AF:DP\t0/0:50,0:0:50\t0/1:70,30:0.31:101"],
    )
    vcf.write_text(vcf.read_text().replace("\tNORMAL\tTUMOR", "\tS-N\tS-T"))
    doc, recs = _run(tmp_path, vcf)
    assert (doc["caller"], doc["tumor_sample"], doc["normal_sample"], doc["sample_method"]) == (
        "dragen",
        "S-T",
        "S-N",
        "header",
    )
    r = recs[(14, "T", "C")]
    # biallelic: VAF = 30/(70+30), not the caller's 0.31; depth = DP 101
    assert (r["T_DP"], tuple(r["T_AD"]), r["T_AF"]) == (101, (70, 30), pytest.approx(0.3))
