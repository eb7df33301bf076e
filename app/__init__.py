"""The HTTP face of scriptflow (FastAPI)."""
