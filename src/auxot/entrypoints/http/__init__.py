"""The Litestar HTTP service."""

from auxot.entrypoints.http.app import create_app

__all__ = ["create_app"]
