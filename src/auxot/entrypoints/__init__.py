"""Entrypoints: the HTTP service, the CLI, the embedding API, and the composition root."""
