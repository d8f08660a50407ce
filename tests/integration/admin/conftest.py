from tests.integration.admin.console_stack import stack

__all__ = ["stack"]
