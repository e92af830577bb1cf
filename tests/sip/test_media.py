"""Playout buffer and 8 -> 16 kHz upsampler used between PJSIP's media clock and pipecat."""

import threading

import numpy as np

from voice_agent.audio import Upsampler2x
from voice_agent.sip.media import FRAME_BYTES, SILENCE, PlayoutBuffer


def test_playout_reads_fixed_frames_pads_and_counts():
    buf = PlayoutBuffer()
    assert buf.is_empty and buf.read_frame() == SILENCE and buf.frames_silent == 1
    buf.write(b"\x01\x00" * 200)  # 25 ms
    assert not buf.is_empty and abs(buf.buffered_s - 0.025) < 1e-9
    first = buf.read_frame()
    second = buf.read_frame()
    assert first == b"\x01\x00" * 160
    assert second == b"\x01\x00" * 40 + bytes(FRAME_BYTES - 80)
    assert buf.is_empty and buf.frames_played == 2


def test_playout_clear_drops_queued_audio():
    buf = PlayoutBuffer()
    buf.write(bytes(FRAME_BYTES * 10))
    assert buf.clear() == FRAME_BYTES * 10
    assert buf.is_empty and buf.read_frame() == SILENCE


def test_playout_is_safe_across_threads():
    buf = PlayoutBuffer()
    chunk = bytes(range(256)) * 5  # 1280 bytes = 4 frames
    got = []

    def reader():
        while len(got) < 400:
            frame = buf.read_frame()
            if frame != SILENCE:
                got.append(frame)

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(100):
        buf.write(chunk)
    thread.join(5)
    assert b"".join(got) == chunk * 100


def _tone(freq: float, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.sin(2 * np.pi * freq * t)


def test_upsampler_keeps_length_and_tone_and_removes_images():
    up = Upsampler2x()
    pcm = (_tone(1000, 8000, 1.0) * 10000).astype("<i2").tobytes()
    out = b"".join(up.process(pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES))
    assert len(out) == 2 * len(pcm)  # every 20 ms in gives 20 ms out, no bursts
    y = np.frombuffer(out, "<i2").astype(np.float64)[1600:]  # skip the filter's start-up
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    tone = spectrum[np.argmin(abs(freqs - 1000))]
    image = spectrum[np.argmin(abs(freqs - 7000))]
    assert image < tone * 1e-3  # the 7 kHz image of zero-stuffing is > 60 dB down
    assert abs(np.sqrt(np.mean(y**2)) - 10000 / np.sqrt(2)) < 300  # unity gain


def test_upsampler_is_continuous_across_frames():
    whole, chunked = Upsampler2x(), Upsampler2x()
    pcm = (_tone(440, 8000, 0.2) * 8000).astype("<i2").tobytes()
    pieces = [chunked.process(pcm[i : i + 100]) for i in range(0, len(pcm), 100)]
    assert b"".join(pieces) == whole.process(pcm)
