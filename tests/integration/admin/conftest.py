import pytest

from tests.integration.admin.console_stack import stack

__all__ = ["stack"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "organisations(*names): Xero organisations seeded for the console stack"
    )
