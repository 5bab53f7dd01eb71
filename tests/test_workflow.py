"""The real Snakemake workflow: lint, dry run, bad sheet, and a full run of the demo cohort.

The full run happens once per test session in a temporary copy of the workflow; the assertions read
the reports it wrote (values, not only that files exist).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXED_DATE = "2026-01-15"
CONFIG_ARGS = ("--config", f"report={{fixed_date: '{FIXED_DATE}'}}")


def copy_workflow(dest: Path) -> Path:
    for name in ("Snakefile", "workflow", "config", "envs"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    # rules call `ccev`: use the one installed beside this interpreter, as an activated venv would
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    result = snakemake(workdir, *CONFIG_ARGS)
    if result.returncode != 0:
        logs = "\n".join(
            f"--- {p}\n{p.read_text()[-3000:]}" for p in sorted((workdir / "logs").rglob("*.log"))
        )
        pytest.fail(f"snakemake failed ({result.returncode}):\n{result.stderr[-6000:]}\n{logs}")
    return workdir


def load_report(workdir: Path, patient: str) -> dict:
    return json.loads((workdir / "results" / "reports" / f"{patient}.json").read_text())


def load_matches(workdir: Path, patient: str) -> dict:
    return json.loads((workdir / "results" / "matches" / f"{patient}.json").read_text())


def findings(workdir: Path, patient: str) -> list[dict]:
    return load_matches(workdir, patient)["findings"]


def test_lint_is_clean(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_dry_run_plans_every_stage_for_every_patient(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "-n", "--quiet", "rules")
    assert result.returncode == 0, result.stderr
    sheet = (workdir / "config" / "samples.tsv").read_text().splitlines()
    patients = [line.split("\t")[0] for line in sheet[1:] if line and not line.startswith("#")]
    assert len(patients) >= 5
    out = result.stdout + result.stderr
    for rule in ("normalize", "annotate", "biomarkers", "match", "report"):
        assert f"{rule}" in out
    # one job per patient per stage
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in out.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    for rule in ("normalize", "annotate", "biomarkers", "match", "report"):
        assert counts.get(rule) == len(patients), out


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("\tLUAD\t", "\tLUNGX\t", ["samples.tsv:2", "column 'tumor_type'", "'LUNGX'"]),
        ("CCE-P02\t", "CCE-P01\t", ["samples.tsv:3", "column 'patient'", "'CCE-P01' again"]),
    ],
)
def test_bad_sheet_fails_before_any_job(tmp_path, old, new, expected):
    workdir = copy_workflow(tmp_path)
    # the demo must exist for the sheet's paths; generate it once via a dry run with the good sheet
    assert snakemake(workdir, "-n", "--quiet").returncode == 0
    sheet = workdir / "config" / "samples.tsv"
    sheet.write_text(sheet.read_text().replace(old, new, 1))
    result = snakemake(workdir)
    assert result.returncode != 0
    for part in expected:
        assert part in result.stderr
    assert not (workdir / "results").exists()


def test_every_patient_gets_html_json_tsv(demo_run):
    sheet = (demo_run / "config" / "samples.tsv").read_text().splitlines()
    patients = [line.split("\t")[0] for line in sheet[1:] if line and not line.startswith("#")]
    for patient in patients:
        html = (demo_run / "results" / "reports" / f"{patient}.html").read_text()
        assert patient in html and "SYNTHETIC" in html.upper()
        report = load_report(demo_run, patient)
        assert json.dumps(report).count(patient) >= 1
        tsv = (demo_run / "results" / "reports" / f"{patient}.tsv").read_text()
        assert tsv.splitlines()[0].count("\t") >= 3
    assert (demo_run / "results" / "cohort" / "index.html").stat().st_size > 1000


def test_egfr_l858r_lung_gets_osimertinib_escat_IA_and_t790m_resistance(demo_run):
    found = findings(demo_run, "CCE-P01")
    osi = [
        f
        for f in found
        if f["gene"] == "EGFR"
        and f["alteration"] == "L858R"
        and any("osimertinib" in t.lower() for t in f["therapies"])
        and f["effect"] == "sensitivity"
    ]
    assert osi, found
    assert osi[0]["escat"] == "I-A"
    assert osi[0]["on_label"] == {"EMA": True, "FDA": True}
    resistance = [
        f for f in found if f["gene"] == "EGFR" and f["alteration"] == "T790M" and f["effect"] == "resistance"
    ]
    assert resistance, "EGFR T790M must be reported as a resistance marker"
    html = (demo_run / "results" / "reports" / "CCE-P01.html").read_text()
    assert "L858R" in html and "T790M" in html and "osimertinib" in html.lower()


def test_colorectal_braf_v600e_gets_encorafenib_cetuximab_not_tumour_agnostic(demo_run):
    found = findings(demo_run, "CCE-P03")
    therapies = {
        t.lower()
        for f in found
        if f["gene"] == "BRAF" and f["effect"] == "sensitivity"
        for t in f["therapies"]
    }
    assert any("encorafenib" in t and "cetuximab" in t for t in therapies), therapies
    assert not any("dabrafenib" in t and "trametinib" in t for t in therapies), therapies


def test_melanoma_braf_v600e_gets_braf_mek_IA_and_tmb_high(demo_run):
    found = findings(demo_run, "CCE-P04")
    braf = [f for f in found if f["gene"] == "BRAF" and f["alteration"] == "V600E" and f["escat"] == "I-A"]
    assert braf
    biomarkers = json.loads((demo_run / "results" / "biomarkers" / "CCE-P04.json").read_text())
    assert biomarkers["tmb"]["status"] == "high" and biomarkers["tmb"]["value"] > 10


def test_colorectal_kras_g12d_is_anti_egfr_resistance(demo_run):
    found = findings(demo_run, "CCE-P02")
    res = [f for f in found if f["gene"] == "KRAS" and f["effect"] == "resistance"]
    assert res and any(
        "cetuximab" in t.lower() or "panitumumab" in t.lower() for f in res for t in f["therapies"]
    )


def test_breast_erbb2_amplification_and_pik3ca(demo_run):
    found = findings(demo_run, "CCE-P05")
    assert any(f["gene"] == "ERBB2" and f["category"] == "cna" for f in found)
    assert any(f["gene"] == "PIK3CA" and f["alteration"] == "H1047R" for f in found)


def test_alk_fusion_lung(demo_run):
    found = findings(demo_run, "CCE-P06")
    alk = [
        f for f in found if "ALK" in f["gene"] and f["category"] == "fusion" and f["effect"] == "sensitivity"
    ]
    assert alk and min(f["escat"] for f in alk).startswith("I")
    # EML4 exon 13 joined to ALK exon 20: the ALK kinase domain (aa 1116-1392, bundled UniProt table) is kept
    biomarkers = json.loads((demo_run / "results" / "biomarkers" / "CCE-P06.json").read_text())
    (fusion,) = biomarkers["fusions"]
    assert (fusion["gene5"], fusion["gene3"], fusion["in_frame"]) == ("EML4", "ALK", True)
    assert fusion["kinase_domain_retained"] is True


def test_rerun_is_up_to_date_and_outputs_deterministic(demo_run):
    before = {p: p.read_bytes() for p in (demo_run / "results" / "reports").glob("*.json")}
    result = snakemake(demo_run, "-n", *CONFIG_ARGS)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr
    for path, content in before.items():
        assert path.read_bytes() == content


def test_snakemake_report_bundles_every_patient_report(demo_run):
    import zipfile

    result = snakemake(demo_run, "--report", "bundle.zip", *CONFIG_ARGS)
    assert result.returncode == 0, result.stderr[-3000:]
    names = zipfile.ZipFile(demo_run / "bundle.zip").namelist()
    sheet = (demo_run / "config" / "samples.tsv").read_text().splitlines()
    patients = [line.split("\t")[0] for line in sheet[1:] if line and not line.startswith("#")]
    for patient in patients:
        assert any(name.endswith(f"/{patient}.html") for name in names), names
    assert any(name.endswith("/index.html") and "raw" in name for name in names)


def test_msi_from_reads_and_uncovered_ras_is_not_called_wild_type(demo_run):
    """CCE-P03: MSI-high pair with KRAS exon 3 uncovered; CCE-P02: MSS pair, every panel locus covered."""
    b03 = json.loads((demo_run / "results" / "biomarkers" / "CCE-P03.json").read_text())
    b02 = json.loads((demo_run / "results" / "biomarkers" / "CCE-P02.json").read_text())
    assert b03["msi"]["status"] == "msi_high" and b03["msi"]["basis"] == "bam"
    assert b02["msi"]["status"] == "mss"
    kras = next(c for c in b03["coverage"] if c["gene"] == "KRAS")
    assert kras["adequate"] is False
    m03 = load_matches(demo_run, "CCE-P03")
    assert not any(f["match_type"] == "wildtype" for f in m03["findings"])
    assert any("59, 61" in p["reason"] for p in m03["pending"])
    m02 = load_matches(demo_run, "CCE-P02")
    assert m02.get("pending", []) == []
    html = (demo_run / "results" / "reports" / "CCE-P03.html").read_text()
    assert "not assessable" in html and "confirm before" in html
    report = load_report(demo_run, "CCE-P03")
    assert report["biomarkers"]["msi"]["score_unit"] == "percent"
    from ccevariants.report.render import format_number

    assert f"score {format_number(report['biomarkers']['msi']['score'])} % of sites unstable" in html
