"""The routing config's REST API under /api/: providers, credentials, aliases, agents, rules."""
