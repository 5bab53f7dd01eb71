"""The ``ccev`` command line: help, version, and the error contract (one line, exit code 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccevariants import __version__
from ccevariants.cli import COMMANDS, main


def run_ccev(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccevariants.cli", *args], capture_output=True, text=True)


def test_version():
    result = run_ccev("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"ccevariants {__version__}"


def test_help_lists_every_stage():
    result = run_ccev("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_user_error_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nope.tsv"
    result = run_ccev("validate-sheet", str(missing))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ccev validate-sheet: error: ") and str(missing) in lines[0]
    assert "Traceback" not in result.stderr


def test_validate_sheet_ok(tmp_path, capsys):
    (tmp_path / "a.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    sheet = tmp_path / "s.tsv"
    sheet.write_text("patient\tsample\tcenter\ttumor_type\tvcf\nP1\tS1\tC\tLUAD\ta.vcf\n")
    assert main(["validate-sheet", str(sheet)]) == 0


def test_validate_sheet_unknown_tumour_type(tmp_path, capsys):
    (tmp_path / "a.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    sheet = tmp_path / "s.tsv"
    sheet.write_text("patient\tsample\tcenter\ttumor_type\tvcf\nP1\tS1\tC\tNOTATYPE\ta.vcf\n")
    assert main(["validate-sheet", str(sheet)]) == 2
    err = capsys.readouterr().err
    assert "s.tsv:2: column 'tumor_type'" in err and "NOTATYPE" in err


def test_atomic_outputs_get_umask_permissions(tmp_path):
    import os

    from ccevariants._io import atomic_write

    target = tmp_path / "out.txt"
    with atomic_write(target) as handle:
        handle.write("x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    import pytest

    from ccevariants._io import atomic_write

    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_blas_is_single_threaded_in_ccev_processes(tmp_path):
    """``ccev`` defaults OPENBLAS_NUM_THREADS to 1 before NumPy loads (its spinning BLAS threads cost
    ~0.2 CPU s per command), keeps a value the user set, and NumPy then starts no BLAS thread."""
    from ccevariants.cli import single_threaded_blas

    env: dict[str, str] = {}
    single_threaded_blas(env)
    assert env == {"OPENBLAS_NUM_THREADS": "1"}
    env = {"OPENBLAS_NUM_THREADS": "4"}
    single_threaded_blas(env)
    assert env == {"OPENBLAS_NUM_THREADS": "4"}
    if not Path("/proc/self/task").is_dir():
        pytest.skip("thread count read from /proc (Linux)")
    count = "import os, numpy; print(len(os.listdir('/proc/self/task')))"
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = "from ccevariants.cli import single_threaded_blas; single_threaded_blas(); " + count
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean)
    assert done.returncode == 0 and int(done.stdout) == 1, done.stderr  # (the main thread only)


def test_the_ccev_entry_point_sets_blas_threads_and_gc_before_the_command():
    """``entry`` (the ``ccev`` script, ``python -m ccevariants.cli``) applies both process defaults
    before the command runs: one BLAS thread (unless the user set a number) and the raised cyclic-GC
    thresholds of a short batch process."""
    from ccevariants.cli import GC_THRESHOLDS

    code = (
        "import gc, os; from ccevariants import cli; "
        "cli.main = lambda: print(gc.get_threshold(), os.environ.get('OPENBLAS_NUM_THREADS')) or 0; "
        "cli.entry()"
    )
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean)
    assert done.returncode == 0 and done.stdout.strip() == f"{GC_THRESHOLDS} 1"
    assert GC_THRESHOLDS[0] > 700  # (Python's default)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean, "OPENBLAS_NUM_THREADS": "3"},
    )
    assert done.stdout.strip() == f"{GC_THRESHOLDS} 3"


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")
def test_freed_memory_is_reused_without_page_faults_after_retain_freed_memory():
    """After ``retain_freed_memory`` (called by ``entry``), a 16 MB buffer that is freed and made
    again comes back from the heap: writing it again costs no page faults, where by default glibc
    maps it afresh and every page faults again. ``MALLOC_*_`` variables the user set are left to
    glibc: with both set (small thresholds), nothing is changed and the faults come back."""
    from ccevariants.cli import MALLOC_SETTINGS

    code = (
        "import resource, numpy as np; from ccevariants import cli; made = {call}; "
        "a = np.ones(16 << 20, np.uint8); del a; "
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt; "
        "b = np.ones(16 << 20, np.uint8); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, ','.join(made))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    user = {**clean, "MALLOC_TRIM_THRESHOLD_": "131072", "MALLOC_MMAP_THRESHOLD_": "131072"}
    got = {}
    for name, call, env in (
        ("default", "()", clean),
        ("retained", "cli.retain_freed_memory()", clean),
        ("user's", "cli.retain_freed_memory()", user),
    ):
        done = subprocess.run(
            [sys.executable, "-c", code.format(call=call)], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        faults, made = done.stdout.split(" ")
        got[name] = (int(faults), made.strip())
    # (NumPy asks for huge pages for large arrays: 16 MB is at least 8 faults when mapped afresh)
    assert got["default"][0] >= 8 and got["retained"][0] <= got["default"][0] // 10, got
    assert got["retained"][1] == ",".join(v for _, _, v in MALLOC_SETTINGS), got
    assert got["user's"] == (got["user's"][0], "") and got["user's"][0] >= 8, got
    assert [v for _, v, _ in MALLOC_SETTINGS] == [1 << 30, 32 << 20]
