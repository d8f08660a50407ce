"""Access to the app's functions the way the Functions host sees them."""

from __future__ import annotations

from functools import cache
from typing import Any

from devstack.host.app import load_functions


@cache
def app_functions() -> dict[str, Any]:
    # load_functions resets the app's binding cache, so this works whatever ran get_functions() before.
    return load_functions()


def user_function(name: str) -> Any:
    return app_functions()[name].get_user_function()
