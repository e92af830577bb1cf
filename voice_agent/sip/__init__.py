"""SIP trunk endpoint: a small sans-I/O SIP UAS + RTP stack bridged into pipecat pipelines.

Pure layers (unit-tested with bytes in, events out): ``message`` (SIP text), ``sdp`` (offer and
answer), ``rtp`` (packets, G.711, RFC 4733), ``policy`` (allow-list, digest, handoff headers),
``register`` (REGISTER client pieces), ``media`` (playout buffer, upsampler, call leg) and
``core`` (the SIP user agent state machine, with ``events`` as its outputs).

I/O shells: ``stack`` (asyncio SIP socket and timers), ``rtp_session`` (one RTP socket and the
20 ms media clock per call), ``transport`` (pipecat transport of one call) and ``server``
(calls -> pipelines; :func:`~voice_agent.sip.server.start_sip` for the app).

PJSIP (``pjsua2-python``) was tried first and dropped: its wheel is built with
``PJSUA_MAX_CALLS = 4`` (pjsua silently clamps ``maxCalls``), and pjlib aborts the process when
an object is released from a thread it does not know.
"""
