"""Collect provenance for the report: pipeline version and git commit, reference and transcript set,
knowledge-base manifest, OncoTree release, input checksums, synthetic flag."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .. import __version__
from .._io import open_text, read_json, sha256_file
from ..errors import InputError


def git_commit() -> str | None:
    """The commit of the source checkout the package runs from, with ``-dirty`` when tracked files differ
    from it (env ``CCEV_GIT_COMMIT`` wins), or None when not running from a git checkout."""
    env = os.environ.get("CCEV_GIT_COMMIT")
    if env:
        return env.strip()
    here = Path(__file__).resolve().parent
    if not any((p / ".git").exists() for p in here.parents):
        return None
    try:
        result = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    if result.returncode != 0 or len(commit) != 40:
        return None
    try:
        dirty = subprocess.run(
            ["git", "-C", str(here), "diff", "--quiet", "HEAD", "--"],
            capture_output=True,
            timeout=10,
            check=False,
        ).returncode
    except (OSError, subprocess.SubprocessError):
        dirty = 0
    return commit + ("-dirty" if dirty == 1 else "")


def _header_lines(path: Path, limit: int = 200) -> list[str]:
    lines = []
    try:
        with open_text(path) as handle:
            for i, line in enumerate(handle):
                if i >= limit:
                    break
                lines.append(line.rstrip("\n"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"expected a readable text file; found {type(exc).__name__}", path=path) from None
    return lines


def describe_reference(path: str | Path) -> tuple[str, bool]:
    """``"name (sha256 of .fai or file)"`` and whether the FASTA says it is SYNTHETIC."""
    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing reference FASTA; found none", path=path)
    fai = Path(str(path) + ".fai")
    digest = sha256_file(fai if fai.exists() else path)
    first = _header_lines(path, 1)
    synthetic = bool(first) and "SYNTHETIC" in first[0].upper()
    kind = ".fai sha256" if fai.exists() else "sha256"
    return f"{path.name} ({kind} {digest[:16]})", synthetic


def describe_annotation(path: str | Path) -> tuple[str, str | None, bool]:
    """``"name (sha256)"``, the ``#!genome-build`` value if any, and the SYNTHETIC flag of a GFF3/GTF."""
    path = Path(path)
    if not path.exists():
        raise InputError("expected an existing GFF3/GTF annotation; found none", path=path)
    build = None
    synthetic = False
    for line in _header_lines(path):
        if not line.startswith("#"):
            break
        if line.startswith("#!genome-build"):
            build = line.split(None, 1)[1].strip() if len(line.split(None, 1)) > 1 else None
        if "SYNTHETIC" in line.upper():
            synthetic = True
    return f"{path.name} (sha256 {sha256_file(path)[:16]})", build, synthetic


def kb_manifest(path: str | Path) -> dict:
    """name/version/date/content_hash of a compiled KB snapshot (contracts section 5)."""
    snap = read_json(path)
    manifest = snap.get("manifest") if isinstance(snap, dict) else None
    if not isinstance(manifest, dict):
        raise InputError("expected a KB snapshot with a 'manifest' object; found none", path=path)
    date = manifest.get("date") or manifest.get("built") or manifest.get("created") or ""
    return {
        "name": str(manifest.get("name") or ""),
        "version": str(manifest.get("version") or ""),
        "date": str(date),
        "content_hash": str(manifest.get("content_hash") or ""),
        "synthetic": bool(manifest.get("synthetic", False)),
    }


def oncotree_release(path: str | Path) -> str:
    doc = read_json(path)
    if isinstance(doc, dict):
        for key in ("release", "version", "oncotree_version"):
            if isinstance(doc.get(key), str) and doc[key]:
                return doc[key]
    return Path(path).stem


def collect(args) -> dict:
    """Provenance dict for :func:`ccevariants.report.write_report` from ``ccev report`` arguments."""
    prov: dict = {
        "pipeline_version": __version__,
        "git_commit": git_commit(),
        "config_hash": args.config_hash,
    }
    synthetic = bool(args.synthetic)
    if args.reference:
        prov["reference"], syn = describe_reference(args.reference)
        synthetic = synthetic or syn
    build = None
    if args.annotation:
        prov["transcript_set"], build, syn = describe_annotation(args.annotation)
        synthetic = synthetic or syn
    prov["genome_build"] = args.genome_build or build
    if args.kb:
        kb = kb_manifest(args.kb)
        synthetic = synthetic or kb.pop("synthetic")
        prov["kb"] = kb
    if args.oncotree_release:
        prov["oncotree_release"] = args.oncotree_release
    elif args.oncotree:
        prov["oncotree_release"] = oncotree_release(args.oncotree)
    inputs = {}
    for name in ("matches", "variants", "biomarkers", "normalize_stats", "filtered"):
        value = getattr(args, name, None)
        if value:
            inputs[name] = sha256_file(value)
    prov["inputs"] = inputs
    prov["synthetic"] = synthetic
    return prov
