"""Fakes of the outside world that speak real protocols (HTTP servers on 127.0.0.1)."""
