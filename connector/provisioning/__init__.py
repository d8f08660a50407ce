"""Dataverse set-up: the connector's schema (C5), webhook registration (C6) and backfill (I1)."""
