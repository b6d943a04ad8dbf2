"""Platform layer shared by every domain: config, database, auth, errors, events, jobs, clock."""
