"""Fleet backups: what a fleet selects, how it is packed into vaults, and its children in the database."""
