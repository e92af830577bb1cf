"""Tools to drive the agent like a real caller would: used by tests, benchmarks and QA."""
