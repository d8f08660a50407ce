"""Access to the app's functions the way the Functions host sees them (get_functions() works once per app)."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any


@cache
def app_functions() -> dict[str, Any]:
    function_app = importlib.import_module("function_app")
    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}


def user_function(name: str) -> Any:
    return app_functions()[name].get_user_function()
