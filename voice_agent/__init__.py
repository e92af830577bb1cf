"""voice_agent: an offline, real-time voice agent for returns-and-refunds hotlines."""

__version__ = "0.1.0"
