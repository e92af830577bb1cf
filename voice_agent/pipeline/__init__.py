"""The per-call pipecat pipeline and the small processors it is made of."""
