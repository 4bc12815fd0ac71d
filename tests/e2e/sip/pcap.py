"""The caller's side of a call as an RTP pcap that sipp replays with `play_pcap_audio`.

A call is a list of steps, e.g. `[Silence(3000), Dtmf("1"), Silence(4000), Dtmf("2"), Audio(path)]`:
- audio (a WAV at any rate, converted to 8 kHz) and tones are G.711 μ-law, payload type 0, 20 ms a packet;
- DTMF digits are RFC 4733 events, payload type 101, in the same SSRC, sequence and timestamp space: one
  packet every 20 ms with the event's growing duration, the first with the marker bit, then three end packets
  (E bit) with the final duration, all with the event's start timestamp.

sipp rewrites addresses and ports; only the payloads and the inter-packet times matter. The frame is
Ethernet/IPv4/UDP from 127.0.0.1:6000 to 127.0.0.1:10000, in a classic little-endian pcap (microseconds).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.speech.g711 import ULAW_SILENCE, ulaw_encode
from tests.e2e.sip.audio import FRAME_MS, FRAME_SAMPLES, load_as_8k, tone

PT_PCMU = 0
PT_TELEPHONE_EVENT = 101
DTMF_EVENTS = {**{str(i): i for i in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}
DTMF_VOLUME = 10  # -10 dBm0, the usual level of a keypad tone
DTMF_END_PACKETS = 3  # RFC 4733 §2.5.1.4: the end packet is sent three times, in case one is lost
DEFAULT_SSRC = 0x48544C31  # "HTL1"
FIRST_SEQUENCE = 1000
PCAP_EPOCH_S = 1_700_000_000  # capture times start here; sipp only uses the differences

PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
SRC_PORT, DST_PORT = 6000, 10000


@dataclass(frozen=True)
class Silence:
    """`ms` of μ-law silence (packets keep flowing, as a real phone's do)."""

    ms: int


@dataclass(frozen=True)
class Dtmf:
    """Keypad digits as RFC 4733 events, each `duration_ms` long and followed by `gap_ms` of silence."""

    digits: str
    duration_ms: int = 200
    gap_ms: int = 100


@dataclass(frozen=True)
class Audio:
    """Speech (or anything) from a WAV file, at any sample rate (converted by sox if not 8 kHz)."""

    path: Path


@dataclass(frozen=True)
class Tone:
    """A pure sine tone, e.g. to recognise one party's audio in what the other heard."""

    hz: float
    ms: int
    dbfs: float = -12.0


Step = Silence | Dtmf | Audio | Tone


@dataclass(frozen=True)
class RtpPacket:
    """One packet as it is written: capture time (µs from the start), RTP header fields, payload."""

    time_us: int
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes

    def to_bytes(self) -> bytes:
        second = (0x80 if self.marker else 0) | self.payload_type
        header = struct.pack("!BBHII", 0x80, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        return header + self.payload


@dataclass(frozen=True)
class PcapInfo:
    path: Path
    packets: int
    duration_ms: int


class RtpStreamBuilder:
    """Turns steps into RTP packets with consistent sequence numbers, timestamps and capture times."""

    def __init__(self, ssrc: int = DEFAULT_SSRC, first_sequence: int = FIRST_SEQUENCE) -> None:
        self.packets: list[RtpPacket] = []
        self.ssrc = ssrc
        self.sequence = first_sequence
        self.timestamp = 0
        self.time_us = 0
        self._first_audio = True

    def _emit(self, payload_type: int, payload: bytes, *, marker: bool, timestamp: int) -> None:
        self.packets.append(RtpPacket(self.time_us, payload_type, marker, self.sequence, timestamp, self.ssrc, payload))
        self.sequence += 1

    def ulaw(self, data: bytes) -> None:
        for start in range(0, len(data), FRAME_SAMPLES):
            chunk = data[start : start + FRAME_SAMPLES].ljust(FRAME_SAMPLES, bytes([ULAW_SILENCE]))
            self._emit(PT_PCMU, chunk, marker=self._first_audio, timestamp=self.timestamp)
            self._first_audio = False
            self.timestamp += FRAME_SAMPLES
            self.time_us += FRAME_MS * 1000

    def silence(self, ms: int) -> None:
        self.ulaw(bytes([ULAW_SILENCE]) * (ms * FRAME_SAMPLES // FRAME_MS))

    def dtmf(self, digit: str, duration_ms: int) -> None:
        event = DTMF_EVENTS[digit.upper()]
        start = self.timestamp
        frames = max(1, duration_ms // FRAME_MS)
        for k in range(1, frames + 1):
            payload = struct.pack("!BBH", event, DTMF_VOLUME, k * FRAME_SAMPLES)
            self._emit(PT_TELEPHONE_EVENT, payload, marker=k == 1, timestamp=start)
            self.time_us += FRAME_MS * 1000
        end = struct.pack("!BBH", event, 0x80 | DTMF_VOLUME, frames * FRAME_SAMPLES)
        for _ in range(DTMF_END_PACKETS):
            self._emit(PT_TELEPHONE_EVENT, end, marker=False, timestamp=start)
        self.timestamp += frames * FRAME_SAMPLES

    def add(self, step: Step) -> None:
        match step:
            case Silence(ms):
                self.silence(ms)
            case Dtmf(digits, duration_ms, gap_ms):
                for digit in digits:
                    self.dtmf(digit, duration_ms)
                    self.silence(gap_ms)
            case Audio(path):
                self.ulaw(ulaw_encode(load_as_8k(path)))
            case Tone(hz, ms, dbfs):
                self.ulaw(ulaw_encode(tone(hz, ms, dbfs)))


def build_rtp(steps: Iterable[Step], ssrc: int = DEFAULT_SSRC) -> list[RtpPacket]:
    builder = RtpStreamBuilder(ssrc)
    for step in steps:
        builder.add(step)
    return builder.packets


def udp_frame(payload: bytes) -> bytes:
    """Ethernet + IPv4 + UDP around an RTP packet (checksums 0: sipp does not check them)."""
    ethernet = b"\x00" * 12 + b"\x08\x00"
    udp_length = 8 + len(payload)
    loopback = bytes([127, 0, 0, 1])
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_length, 0, 0, 64, 17, 0, loopback, loopback)
    udp = struct.pack("!HHHH", SRC_PORT, DST_PORT, udp_length, 0)
    return ethernet + ip + udp + payload


def pcap_bytes(packets: Sequence[RtpPacket]) -> bytes:
    out = [struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET)]
    for packet in packets:
        frame = udp_frame(packet.to_bytes())
        seconds, micros = divmod(packet.time_us, 1_000_000)
        out.append(struct.pack("<IIII", PCAP_EPOCH_S + seconds, micros, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def write_caller_pcap(steps: Iterable[Step], path: Path, ssrc: int = DEFAULT_SSRC) -> PcapInfo:
    """Write the steps as a pcap for sipp's play_pcap_audio."""
    packets = build_rtp(steps, ssrc)
    path.write_bytes(pcap_bytes(packets))
    duration_ms = (packets[-1].time_us // 1000 + FRAME_MS) if packets else 0
    return PcapInfo(path, len(packets), duration_ms)


def steps_duration_ms(steps: Iterable[Step]) -> int:
    """How long the steps last when played (what `write_caller_pcap` would produce)."""
    builder = RtpStreamBuilder()
    for step in steps:
        builder.add(step)
    return builder.time_us // 1000


def speech_loop(path: Path, total_ms: int) -> list[Step]:
    """The WAV repeated (with 300 ms pauses) to fill about `total_ms`: a caller who keeps talking."""
    one = len(load_as_8k(path)) * 1000 // 8000 + 300
    return [step for _ in range(max(1, -(-total_ms // one))) for step in (Audio(path), Silence(300))]


__all__ = [
    "Audio",
    "Dtmf",
    "PcapInfo",
    "RtpPacket",
    "Silence",
    "Step",
    "Tone",
    "build_rtp",
    "pcap_bytes",
    "speech_loop",
    "steps_duration_ms",
    "write_caller_pcap",
]
