"""The transport wing: the exchange model, the one HTTP client, the budget, the SSE parser, redaction
and reproduction lines. Everything the suite sends to a target goes through here."""
