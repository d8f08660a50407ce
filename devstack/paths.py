"""Where things live on a developer machine or in CI."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The `shared/` folder beside the project (never part of it). Override with CONNECTOR_SHARED_DIR."""
    return Path(os.environ.get("CONNECTOR_SHARED_DIR", REPO_ROOT.parent / "shared"))


def xero_spec_dir() -> Path:
    """Xero's official OpenAPI specs. Override with XERO_SPEC_DIR."""
    return Path(os.environ.get("XERO_SPEC_DIR", shared_dir() / "specs" / "xero"))
