"""The chaos suite: many invoices through the real path under seeded faults, host kills and two instances."""
