"""Golden checks of the one G.711 codec (ivr/speech/g711.py): the listener, the speech bench and the SIP harness.

Hand-worked values from G.711, and digests of the whole tables. When the module was written (Python 3.11), the
tables were byte for byte CPython's audioop (lin2ulaw, ulaw2lin, alaw2lin) and the previous codecs of the
listener (decode) and of the SIP harness (encode, decode, A-law); the speech bench's own encoder (the 16-bit
algorithm) differed from them by one step on 381 of the 65,536 inputs, negative values at a step's edge.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ivr.speech import g711

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ENCODE_SHA256 = "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a"  # = audioop.lin2ulaw
ULAW_DECODE_SHA256 = "3dab54339e520bb2c924826e3b72a917a2b612e9fd12fc867500f1d983a75827"  # = audioop.ulaw2lin
ALAW_DECODE_SHA256 = "e04788d110e58ff8c70c93b8480190d973e3b67876b6119abbaec766cc75c174"  # = audioop.alaw2lin
MIN_SNR_DB = 30.0  # G.711 gives about 38 dB on speech-level signals


def test_ulaw_golden_values() -> None:
    # 1000 >> 2 = 250; + bias 33 = 283 = 0b1_0001_1011: segment 3, mantissa (283 >> 4) & 15 = 1 → 0x31 ^ 0xFF
    encoded = g711.ulaw_encode(np.array([0, 1000, -1000, 32767, -32768], dtype=np.int16))
    assert list(encoded) == [0xFF, 0xCE, 0x4E, 0x80, 0x00]
    # 0xCE → ~0xCE = 0x31: ((1 << 3) + 132) << 3 = 1120, minus the bias 132 = 988
    assert list(g711.ulaw_decode(bytes([0xFF, 0x7F, 0xCE, 0x4E, 0x80, 0x00]))) == [0, 0, 988, -988, 32124, -32124]
    assert list(g711.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]


def test_bytes_forms_are_little_endian_pcm() -> None:
    assert g711.ulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80])) == np.array([0, 0, -32124, 32124], "<i2").tobytes()
    assert g711.pcm16_to_ulaw(np.array([0, 1000, -1000], "<i2").tobytes()) == bytes([0xFF, 0xCE, 0x4E])
    assert g711.ulaw_to_pcm16(bytes([g711.ULAW_SILENCE])) == b"\x00\x00"


def test_whole_tables_match_their_digests() -> None:
    assert hashlib.sha256(g711.ulaw_encode(ALL_INT16)).hexdigest() == ENCODE_SHA256
    assert hashlib.sha256(g711.ulaw_to_pcm16(bytes(range(256)))).hexdigest() == ULAW_DECODE_SHA256
    assert hashlib.sha256(g711.alaw_decode(bytes(range(256))).astype("<i2").tobytes()).hexdigest() == (
        ALAW_DECODE_SHA256
    )


def test_every_level_survives_decode_encode_decode() -> None:
    levels = g711.ulaw_decode(bytes(range(256)))
    assert np.array_equal(g711.ulaw_decode(g711.ulaw_encode(levels)), levels)


def test_encode_is_monotonic_and_decode_stays_within_a_step() -> None:
    decoded = g711.ulaw_decode(g711.ulaw_encode(ALL_INT16)).astype(np.int32)
    assert np.all(np.diff(decoded) >= 0)  # a louder input never decodes quieter
    error = np.abs(decoded - ALL_INT16.astype(np.int32))
    # The step doubles with each segment: 8 near zero, 1024 in the top one (plus the clipped top of the range).
    assert error[np.abs(ALL_INT16.astype(np.int32)) < 32].max() <= 8
    assert error[np.abs(ALL_INT16.astype(np.int32)) < 32124].max() <= 1024


def test_round_trip_snr_on_a_speech_level_signal() -> None:
    rng = np.random.default_rng(7)
    signal = np.clip(rng.standard_normal(8000) * 3000, -32768, 32767).astype(np.int16)
    error = g711.ulaw_decode(g711.ulaw_encode(signal)).astype(np.float64) - signal
    snr = 10 * math.log10(float(np.sum(signal.astype(np.float64) ** 2)) / float(np.sum(error**2)))
    assert snr >= MIN_SNR_DB
