"""Model-free helpers shared by every app (one topic per module)."""
