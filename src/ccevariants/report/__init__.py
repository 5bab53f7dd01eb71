"""Per-patient molecular tumour board report: HTML (self-contained), JSON (schema-validated), TSV.

Public API: :func:`write_report`, :func:`build_document`, :func:`validate_document`.
Coordinates in every output are VCF-style 1-based.
"""

from .document import SCHEMA_VERSION, build_document
from .writer import validate_document, write_report

__all__ = ["SCHEMA_VERSION", "build_document", "validate_document", "write_report"]
