"""The HTTP API: commands, workflows, events and named webhook triggers, behind API keys."""
