"""Admin: the composition root (web app, CLI, workers) — the only package that imports all others."""

from admin.app import build_runtime, create_app
from admin.settings import Settings

__all__ = ["Settings", "build_runtime", "create_app"]
