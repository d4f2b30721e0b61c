"""Callback delivery: Standard Webhooks signing and the httpx sender."""
