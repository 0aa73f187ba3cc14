"""The numbered migrations. Installed as the package ``orchestrator.migrations`` (see ``setup.py``) so that a
wheel carries them; nothing here is Python."""
