"""The REST API under /api/ (DRF): requests, conversations, stats, routing config."""
