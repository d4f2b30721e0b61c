"""Implementations of the application's ports: persistence, providers, clock, ids."""
