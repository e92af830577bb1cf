"""SIP trunk endpoint: a PJSIP (pjsua2) user agent bridged into pipecat pipelines."""
