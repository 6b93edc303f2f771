"""The /api/ endpoints of the core domain: auth, users, sources, leads."""
