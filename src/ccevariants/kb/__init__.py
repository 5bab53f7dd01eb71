"""Knowledge base: statement model, importers, compiled snapshots (see docs/knowledge-base.md)."""

from .model import Biomarker, Statement, statement_from_dict
from .snapshot import Snapshot, build_snapshot, diff_snapshots, load_snapshot, snapshot_from_document

__all__ = [
    "Biomarker",
    "Snapshot",
    "Statement",
    "build_snapshot",
    "diff_snapshots",
    "load_snapshot",
    "snapshot_from_document",
    "statement_from_dict",
]
