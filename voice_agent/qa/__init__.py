"""Audio regression suite: replay synthesized (or recorded) callers and compare outcomes."""
