"""A local, in-memory Dataverse (Dynamics 365 Sales) Web API emulator. See README.md."""
