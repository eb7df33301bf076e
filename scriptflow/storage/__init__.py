"""Object storage shared by every process of a deployment (artifacts)."""
