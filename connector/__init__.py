"""Dynamics 365 Sales (Dataverse) to Xero connector."""

__version__ = "0.1.0"
