# The same thing `make run` starts: `voice-agent serve` on port 8000, embedded OMS, bundled models.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VOICE_AGENT_HOST=0.0.0.0 \
    VOICE_AGENT_PORT=8000 \
    VOICE_AGENT_DATA_DIR=/var/lib/voice-agent \
    VOICE_AGENT_DIALOG_FILE=/app/dialogs/returns.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY voice_agent ./voice_agent
COPY dialogs ./dialogs
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/voice-agent voice-agent \
    && mkdir -p /var/lib/voice-agent && chown voice-agent /var/lib/voice-agent

USER voice-agent
EXPOSE 8000 5060/udp
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["voice-agent", "serve"]
