"""Use cases, ports, projections and the engine that moves work."""
