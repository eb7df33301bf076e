"""Test tools that are not tests: a throw-away PostgreSQL cluster, the OpenAI stub, settings."""
