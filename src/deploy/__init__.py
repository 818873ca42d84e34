"""Deployment helpers: export, verification, and running exported models."""
from .export import EXTENSIONS, ExportMismatchError, export_model, run_exported  # noqa: F401
from .runtime import ExportedModel  # noqa: F401
