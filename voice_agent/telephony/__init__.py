"""Telephony channels: Twilio Media Streams (webhook + websocket)."""
