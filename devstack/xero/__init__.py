"""A stateful, in-memory emulator of the Xero Accounting and Identity APIs (see README.md)."""

from devstack.xero.config import EmulatorOptions

__all__ = ["EmulatorOptions"]
