"""Privacy (SPEC §6): export and erase a person's data."""
