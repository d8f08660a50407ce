"""The Bicep template as pycep-parser reads it (the Bicep CLI cannot be installed here), and helpers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, cast

from pycep import BicepParser

from devstack.paths import REPO_ROOT

INFRA = REPO_ROOT / "infra"
TEMPLATE = INFRA / "main.bicep"
PARAMETERS = INFRA / "main.parameters.json"
AZURE_YAML = REPO_ROOT / "azure.yaml"
HOOKS = INFRA / "hooks"


@cache
def template() -> dict[str, Any]:
    return cast(dict[str, Any], BicepParser().parse(file_path=Path(TEMPLATE)))


def resources() -> dict[str, dict[str, Any]]:
    return cast(dict[str, dict[str, Any]], template()["resources"])


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's own properties, whether it is declared once or in a loop."""
    config: dict[str, Any] = resource["config"]
    return config["config"] if "loop_type" in config or "condition" in config else config


def variable(name: str) -> Any:
    return template()["variables"][name]["value"]


def text(node: object) -> str:
    return json.dumps(node, default=str)


def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources().items() if value["type"] == resource_type}
