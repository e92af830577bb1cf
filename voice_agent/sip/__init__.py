"""SIP trunk endpoint: a small sans-I/O SIP UAS + RTP stack bridged into pipecat pipelines.

Layers: ``message``/``sdp``/``rtp``/``policy`` (pure parsers and rules), ``core`` (the SIP user
agent state machine, sans-I/O), ``stack`` (asyncio sockets, timers and the 20 ms media clock),
``transport`` (pipecat transport of one call) and ``server`` (calls -> pipelines).
"""
