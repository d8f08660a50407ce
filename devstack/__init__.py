"""The local platform: Azurite, the Xero and Dataverse emulators, a local Functions host, the demo."""
