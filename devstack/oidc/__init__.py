"""A real OpenID Connect provider (PyPI `oidc-provider-mock`) playing Microsoft Entra ID for the
admin console's sign-in on the local platform. See README.md here."""

from devstack.oidc.provider import ADMIN_ROLE, ADMIN_USER, READER_USER, OidcProvider, start_oidc_provider

__all__ = ["ADMIN_ROLE", "ADMIN_USER", "READER_USER", "OidcProvider", "start_oidc_provider"]
