"""G.711 (ITU-T): mu-law encode and decode, A-law decode. Pure numpy, table lookups (no audioop: 3.13 removed it).

The one codec of the project: the listener decodes the caller's RTP with it, the speech benchmark encodes its
samples as a caller's RTP, and the SIP test harness builds the callers' pcaps and decodes what they heard.
Samples are 16-bit linear PCM at 8 kHz, as numpy int16 arrays or little-endian bytes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

ULAW_SILENCE = 0xFF  # the mu-law byte for 0 (digital silence)
ULAW_BIAS = 0x84  # decoding, on 16-bit magnitudes
ULAW_BIAS_14 = 0x21  # encoding, on 14-bit magnitudes (the reference algorithm)
ULAW_CLIP_14 = 8159  # the largest 14-bit magnitude the encoder keeps

Samples = NDArray[np.int16]


def _ulaw_decode_table() -> Samples:
    """mu-law byte -> 16-bit linear sample, as Asterisk (and CPython's audioop) decode it."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = codes & 0x80, (codes >> 4) & 0x07, codes & 0x0F
    magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_table() -> NDArray[np.uint8]:
    """For every int16 value (indexed by value + 32768): its mu-law byte, as sox and CPython's audioop encode it
    (the 14-bit reference algorithm of G.711: bias 33, clip 8159)."""
    value = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), ULAW_CLIP_14) + ULAW_BIAS_14
    segment = np.maximum(np.floor(np.log2(magnitude)).astype(np.int32) - 5, 0)  # 0x3F, 0x7F, ... 0x1FFF ends
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    byte = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | mantissa)
    return (byte ^ mask).astype(np.uint8)


def _alaw_decode_table() -> Samples:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    magnitude = np.where(segment == 0, t + 8, (t + 0x108) << np.maximum(segment - 1, 0))
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


ULAW_DECODE = _ulaw_decode_table()
ULAW_ENCODE = _ulaw_encode_table()
ALAW_DECODE = _alaw_decode_table()


def ulaw_encode(samples: NDArray[np.int16]) -> bytes:
    """int16 samples -> mu-law bytes, one per sample."""
    return ULAW_ENCODE[samples.astype(np.int32) + 32768].tobytes()


def ulaw_decode(data: bytes) -> Samples:
    """mu-law bytes -> int16 samples."""
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> Samples:
    """A-law bytes -> int16 samples."""
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """16-bit little-endian PCM bytes -> mu-law bytes."""
    return ulaw_encode(np.frombuffer(pcm, dtype="<i2"))


def ulaw_to_pcm16(payload: bytes) -> bytes:
    """mu-law bytes (e.g. an RTP payload) -> 16-bit little-endian PCM bytes."""
    return ulaw_decode(payload).astype("<i2", copy=False).tobytes()
