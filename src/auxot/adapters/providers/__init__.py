"""Provider adapters: ``scripted`` (offline, deterministic) and ``openai`` (any
OpenAI-compatible chat-completions endpoint)."""
