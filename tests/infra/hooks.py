"""Import or run the azd hook scripts (infra/hooks), which import their sibling `hooklib` as scripts do."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from devstack.paths import REPO_ROOT
from tests.infra.template import HOOKS

LOCAL_SETTINGS = REPO_ROOT / "local.settings.json.example"


def hook_module(name: str) -> ModuleType:
    if str(HOOKS) not in sys.path:
        sys.path.insert(0, str(HOOKS))
    return importlib.import_module(name)


def run_hook(
    argv: list[str],
    env: dict[str, str],
    timeout: float = 60,
    via_wrapper: bool = False,
    wrapper: Path = HOOKS / "run.sh",
) -> subprocess.CompletedProcess[str]:
    """Run a hook as azd does (optionally through the posix wrapper), in an environment of only `env`."""
    script, *options = argv
    command = (
        ["sh", str(wrapper), script, *options]
        if via_wrapper
        else [sys.executable, str(HOOKS / f"{script}.py"), *options]
    )
    return subprocess.run(  # noqa: S603
        command,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
