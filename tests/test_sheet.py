"""Sample-sheet validation: every problem is one line naming the sheet, line, column and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccevariants.errors import ConfigError
from ccevariants.sheet import load_sheet

HEADER = "patient\tsample\tcenter\ttumor_type\tvcf\tassay\tpurity\n"
VCF = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t5\t.\tA\tC\t.\tPASS\t.\n"
CODES = {"LUAD", "COAD", "SKCM"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "a.vcf").write_text(VCF)
    (tmp_path / "ref.fa.fai").write_text("chr1\t1000\t6\t60\t61\n")
    return tmp_path


def write(tmp: Path, body: str, header: str = HEADER) -> Path:
    sheet = tmp / "samples.tsv"
    sheet.write_text(header + body)
    return sheet


def load(sheet: Path, tmp: Path):
    return load_sheet(sheet, known_tumor_types=CODES, reference_fai=tmp / "ref.fa.fai")


def test_valid_sheet_resolves_paths_relative_to_sheet(workdir):
    sheet = write(workdir, "P1\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t0.6\n")
    (row,) = load(sheet, workdir)
    assert row.patient == "P1" and row.tumor_type == "LUAD"
    assert row.vcf == (workdir / "a.vcf").resolve()
    assert row.purity == pytest.approx(0.6)
    assert row.assay == "panel" and not row.paired


def test_comment_lines_are_ignored(workdir):
    sheet = write(workdir, "# a comment\nP1\tS1\tCCE-A\tLUAD\ta.vcf\twes\t\n")
    assert [r.patient for r in load(sheet, workdir)] == ["P1"]


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (
            "P1\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t\nP1\tS2\tCCE-A\tLUAD\ta.vcf\tpanel\t\n",
            HEADER,
            ["samples.tsv:3", "column 'patient'", "'P1' again (first on line 2)"],
        ),
        (
            "P1\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t\nP2\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t\n",
            HEADER,
            ["samples.tsv:3", "column 'sample'", "'S1' again"],
        ),
        (
            "P1\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t\t\n",
            HEADER.replace("\n", "\tflavour\n"),
            ["samples.tsv:1", "column 'flavour'", "unknown column"],
        ),
        (
            "P1\tS1\tCCE-A\tLUAD\tmissing.vcf\tpanel\t\n",
            HEADER,
            ["samples.tsv:2", "column 'vcf'", "no file at 'missing.vcf'"],
        ),
        (
            "P1\tS1\tCCE-A\tLUNGX\ta.vcf\tpanel\t\n",
            HEADER,
            ["samples.tsv:2", "column 'tumor_type'", "expected an OncoTree code", "'LUNGX'"],
        ),
        ("P1\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t1.7\n", HEADER, ["column 'purity'", "'1.7'"]),
        ("P1\tS1\tCCE-A\tLUAD\ta.vcf\tamplicon\t\n", HEADER, ["column 'assay'", "'amplicon'"]),
        ("P 1\tS1\tCCE-A\tLUAD\ta.vcf\tpanel\t\n", HEADER, ["column 'patient'", "'P 1'"]),
        ("P1\tS1\t\tLUAD\ta.vcf\tpanel\t\n", HEADER, ["column 'center'", "empty field"]),
        (
            "P1\tS1\tCCE-A\tLUAD\t\tpanel\t\n",
            HEADER,
            ["column 'vcf'", "exactly one of 'vcf' or 'maf'; found neither"],
        ),
        (
            "P1\tS1\tCCE-A\tLUAD\ta.vcf\n",
            HEADER,
            ["samples.tsv:2", "expected 7 tab-separated fields; found 5"],
        ),
        ("", HEADER, ["expected at least one sample row"]),
    ],
)
def test_bad_sheets_name_line_column_and_value(workdir, body, header, expected):
    sheet = write(workdir, body, header)
    with pytest.raises(ConfigError) as info:
        load(sheet, workdir)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_vcf_contig_not_in_reference(workdir):
    (workdir / "b.vcf").write_text(VCF.replace("chr1\t5", "chr9\t5"))
    sheet = write(workdir, "P1\tS1\tCCE-A\tLUAD\tb.vcf\tpanel\t\n")
    with pytest.raises(
        ConfigError, match=r"samples.tsv:2: column 'vcf': b.vcf: contig 'chr9' is not in the reference"
    ):
        load(sheet, workdir)


def test_vcf_contig_naming_is_harmonised(workdir):
    (workdir / "c.vcf").write_text(VCF.replace("ID=chr1", "ID=1").replace("chr1\t5", "1\t5"))
    sheet = write(workdir, "P1\tS1\tCCE-A\tLUAD\tc.vcf\tpanel\t\n")
    assert load(sheet, workdir)[0].vcf.name == "c.vcf"


def test_vcf_contig_length_mismatch_is_a_build_error(workdir):
    (workdir / "d.vcf").write_text(VCF.replace("length=1000", "length=2000"))
    sheet = write(workdir, "P1\tS1\tCCE-A\tLUAD\td.vcf\tpanel\t\n")
    with pytest.raises(ConfigError, match="length 2000 in the VCF header but 1000 in the reference"):
        load(sheet, workdir)


def test_missing_sheet(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_sheet(tmp_path / "nope.tsv")


def test_config_sheet_is_the_demo_sheet(tmp_path, repo_root):
    """config/samples.tsv (committed) must describe exactly what `ccev demo` writes."""
    from ccevariants.demo import write_demo

    write_demo(tmp_path / "resources" / "demo", seed=7)
    (tmp_path / "config").mkdir()
    committed = (repo_root / "config" / "samples.tsv").read_text()
    (tmp_path / "config" / "samples.tsv").write_text(committed)
    config_rows = load_sheet(tmp_path / "config" / "samples.tsv")
    demo_rows = load_sheet(tmp_path / "resources" / "demo" / "samples.tsv")
    assert [r.as_dict() for r in config_rows] == [r.as_dict() for r in demo_rows]
    assert len(config_rows) >= 5 and len({r.center for r in config_rows}) >= 2
    assert len({r.tumor_type for r in config_rows}) >= 4
