"""Pure invoice-sync rules: Dynamics records in, Xero drafts and decisions out. No I/O, no clock."""
