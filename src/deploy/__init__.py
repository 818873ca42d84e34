"""Deployment helpers: export and verification of exported models."""
from .export import EXTENSIONS, ExportMismatchError, export_model, run_exported  # noqa: F401
