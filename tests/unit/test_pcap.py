"""Golden checks of the caller's RTP pcap maker (tests/e2e/sip/pcap.py) and the G.711 / RTP decoding it pairs with.

Expected values are worked out by hand from RFC 3550 (RTP header), RFC 4733 (DTMF events) and G.711 (μ-law).
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from ivr.speech import g711
from tests.e2e.sip import audio
from tests.e2e.sip.capture import _udp_payloads, decode_rtp
from tests.e2e.sip.pcap import (
    DEFAULT_SSRC,
    PT_PCMU,
    PT_TELEPHONE_EVENT,
    Audio,
    Dtmf,
    Silence,
    Step,
    Tone,
    build_rtp,
    pcap_bytes,
    steps_duration_ms,
    write_caller_pcap,
)

ETH_IP_UDP = 14 + 20 + 8
GOLDEN_SHA256 = "3953a7e85af3844cd0da2e5fdead7d69a18d5d99fa6fc3b8e50bc2d004792a6a"  # test_pcap_golden_digest


def test_silence_then_dtmf_then_tone_packets() -> None:
    packets = build_rtp([Silence(40), Dtmf("5", duration_ms=60, gap_ms=20), Tone(1000, 20)])
    rows = [(p.time_us, p.payload_type, p.marker, p.sequence, p.timestamp) for p in packets]
    assert rows == [
        (0, PT_PCMU, True, 1000, 0),  # the first packet of the stream carries the marker
        (20_000, PT_PCMU, False, 1001, 160),
        (40_000, PT_TELEPHONE_EVENT, True, 1002, 320),  # event start: marker, the event's start timestamp
        (60_000, PT_TELEPHONE_EVENT, False, 1003, 320),
        (80_000, PT_TELEPHONE_EVENT, False, 1004, 320),
        (100_000, PT_TELEPHONE_EVENT, False, 1005, 320),  # three end packets, same time and timestamp
        (100_000, PT_TELEPHONE_EVENT, False, 1006, 320),
        (100_000, PT_TELEPHONE_EVENT, False, 1007, 320),
        (100_000, PT_PCMU, False, 1008, 800),  # the gap: audio resumes after the event's 480 samples
        (120_000, PT_PCMU, False, 1009, 960),
    ]
    events = [struct.unpack("!BBH", p.payload) for p in packets if p.payload_type == PT_TELEPHONE_EVENT]
    # event 5, volume 10 (-10 dBm0), duration growing by 160 samples; end packets: E bit (0x80) and the final 480
    assert events == [(5, 10, 160), (5, 10, 320), (5, 10, 480), (5, 0x8A, 480), (5, 0x8A, 480), (5, 0x8A, 480)]
    assert packets[0].payload == b"\xff" * 160
    assert all(p.ssrc == DEFAULT_SSRC for p in packets)
    # 40 ms silence + 60 ms event + 20 ms gap + 20 ms tone
    assert steps_duration_ms([Silence(40), Dtmf("5", duration_ms=60, gap_ms=20), Tone(1000, 20)]) == 140


def test_rtp_header_bytes() -> None:
    first, second = build_rtp([Silence(40)])
    assert first.to_bytes()[:12] == bytes.fromhex("80 80 03e8 00000000 48544c31")  # V=2, M=1 PT=0, seq 1000
    assert second.to_bytes()[:12] == bytes.fromhex("80 00 03e9 000000a0 48544c31")  # M=0, seq 1001, ts 160
    assert len(first.to_bytes()) == 12 + 160


def test_pcap_file_layout(tmp_path: Path) -> None:
    info = write_caller_pcap([Silence(20), Dtmf("#", duration_ms=20, gap_ms=20)], tmp_path / "c.pcap")
    data = info.path.read_bytes()
    magic, major, minor, _, _, snaplen, link = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, snaplen, link) == (0xA1B2C3D4, 2, 4, 65535, 1)
    seconds, micros, captured, original = struct.unpack("<IIII", data[24:40])
    assert (seconds, micros, captured, original) == (1_700_000_000, 0, ETH_IP_UDP + 12 + 160, ETH_IP_UDP + 12 + 160)
    frame = data[40 : 40 + captured]
    assert frame[12:14] == b"\x08\x00" and frame[14] == 0x45 and frame[23] == 17  # IPv4, UDP
    assert struct.unpack("!HH", frame[34:38]) == (6000, 10000)
    assert info.packets == 1 + 1 + 3 + 1
    assert info.duration_ms == 60  # silence 20 + event 20 + gap 20
    payloads = _udp_payloads(data)
    assert [round(t - 1_700_000_000, 3) for t, _ in payloads] == [0.0, 0.02, 0.04, 0.04, 0.04, 0.04]


def test_pcap_golden_digest() -> None:
    """Any change to the bytes sipp replays shows here; update the digest only for an intended change.
    (No tone in it: a sine's last bit may differ between numpy builds; μ-law has its own golden test: test_g711.)"""
    data = pcap_bytes(build_rtp([Silence(100), Dtmf("19#"), Silence(60)]))
    audio_packets = 5 + 3 * 5 + 3  # silence, the 100 ms gap after each digit, silence
    event_packets = 3 * (10 + 3)  # 200 ms = 10 packets per digit, then 3 end packets
    record = 16  # pcap record header
    audio_bytes = audio_packets * (record + ETH_IP_UDP + 12 + 160)
    assert len(data) == 24 + audio_bytes + event_packets * (record + ETH_IP_UDP + 12 + 4)
    assert hashlib.sha256(data).hexdigest() == GOLDEN_SHA256


def test_audio_step_reads_an_8k_wav_without_sox(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    audio.write_wav(wav, audio.tone(1000, 100))
    packets = build_rtp([Audio(wav)])
    assert len(packets) == 5
    assert b"".join(p.payload for p in packets) == g711.ulaw_encode(audio.tone(1000, 100))


def test_decode_round_trip_keeps_timing_and_digits() -> None:
    steps: list[Step] = [Tone(700, 200), Dtmf("19#"), Silence(100)]
    packets = build_rtp(steps)
    decoded = decode_rtp([(p.time_us / 1e6, p.to_bytes()) for p in packets])
    assert decoded.dtmf == "19#"
    # audio packets only: 10 of tone, 3 gaps of 100 ms after each digit, 5 of silence; the events' 3 x 200 ms
    # are a pause in the audio stream, so they come back as silence on the time line
    assert len(decoded.samples) == steps_duration_ms(steps) * 8
    assert audio.tone_seconds(decoded.samples, 700) == pytest.approx(0.2, abs=0.021)


def test_heard_measures() -> None:
    quiet = np.zeros(8000, dtype=np.int16)
    loud = audio.tone(1000, 1000, dbfs=-20)
    samples = np.concatenate([loud, quiet, loud])
    heard = audio.Heard.of(samples)
    assert heard.seconds == 3.0
    assert heard.audible_seconds == pytest.approx(2.0)
    assert heard.longest_silence_seconds == pytest.approx(1.0)
    assert audio.tone_seconds(samples, 1000) == pytest.approx(2.0, abs=0.04)
    assert audio.tone_seconds(samples, 700) == 0.0
