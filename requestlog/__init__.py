"""Records every exchange: log model, background writer, admin (API and dashboard later)."""
