"""The pure model: aggregates, events, value objects and routing rules. No I/O here."""
