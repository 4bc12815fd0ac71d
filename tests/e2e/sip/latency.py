"""Turn latency as the caller lives it: from the end of their speech to the first audible answer packet.

Both directions come from one capture on the caller's media port (`place_call(..., capture_sent=True)`), so
the two instants share the kernel's clock: no assumption about when sipp started its pcap.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ivr.speech.g711 import ulaw_decode
from tests.e2e.sip.audio import SILENCE_DBFS
from tests.e2e.sip.capture import PT_PCMU, udp_packets

SPEECH_DBFS = -40.0  # a sent packet this loud is the caller speaking (the recordings peak near -10 dBFS)
PAUSE_S = 0.5  # a quieter stretch this long inside a phrase is still the same turn
PACKET_S = 0.02


def _level(payload: bytes) -> float:
    samples = ulaw_decode(payload).astype(np.float64)
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    return 20.0 * math.log10(max(rms, 1e-6) / 32768.0)


def _audio_packets(pcap: Path, port: int, sent: bool) -> list[tuple[float, float]]:
    """(time, level in dBFS) of the G.711 mu-law packets the caller sent (or received)."""
    out = []
    for t, sport, dport, rtp in udp_packets(pcap.read_bytes()):
        if (sport if sent else dport) != port or len(rtp) <= 12 or rtp[1] & 0x7F != PT_PCMU:
            continue
        out.append((t, _level(rtp[12 + 4 * (rtp[0] & 0x0F) :])))
    return out


def speech_ends(pcap: Path, port: int) -> list[float]:
    """When each of the caller's phrases ended (capture clock, seconds)."""
    ends: list[float] = []
    last: float | None = None
    for t, level in _audio_packets(pcap, port, sent=True):
        if level < SPEECH_DBFS:
            continue
        if last is not None and t - last > PAUSE_S:
            ends.append(last + PACKET_S)
        last = t
    if last is not None:
        ends.append(last + PACKET_S)
    return ends


def turn_latencies(pcap: Path, port: int) -> list[float | None]:
    """For each phrase the caller said: seconds until the first audible packet came back (None: nothing did)."""
    received = [t for t, level in _audio_packets(pcap, port, sent=False) if level > SILENCE_DBFS]
    latencies: list[float | None] = []
    for end in speech_ends(pcap, port):
        after = [t for t in received if t >= end]
        latencies.append(after[0] - end if after else None)
    return latencies
