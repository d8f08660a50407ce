"""Use cases. They depend on ports (Protocols), never on SDKs."""
