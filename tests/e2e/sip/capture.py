"""What a SIP peer receives: tcpdump on the loopback, then the RTP decoded into an 8 kHz WAV.

sipp does not keep the audio it receives, so `RtpCapture` records every UDP packet sent to the peer's media
port (`udp and dst port N` on lo) and `decode_capture` rebuilds the audio on the capture's time line:
packets are appended in arrival order, and a pause in the stream longer than `GAP_TOLERANCE_MS` becomes
silence, so the WAV lasts as long as the call did.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ivr.speech.g711 import alaw_decode, ulaw_decode
from tests.e2e.sip.audio import FRAME_SAMPLES, SAMPLE_RATE, Samples, write_wav

TCPDUMP_READY_TIMEOUT_S = 10.0
TCPDUMP_STOP_TIMEOUT_S = 5.0
GAP_TOLERANCE_MS = 60  # jitter up to 3 packets is not a pause; a longer absence of packets is silence heard
PT_PCMU, PT_PCMA, PT_CN = 0, 8, 13
DTMF_DIGITS = "0123456789*#ABCD"

# link-layer header sizes by pcap link type: Ethernet, BSD loopback, Linux cooked v1 and v2
LINK_HEADER = {1: 14, 0: 4, 113: 16, 276: 20}


@dataclass
class DecodedRtp:
    samples: Samples
    packets: int
    payload_types: set[int] = field(default_factory=set)
    dtmf: str = ""
    ssrcs: set[int] = field(default_factory=set)


def _udp_payloads(data: bytes, dst_port: int | None = None) -> list[tuple[float, bytes]]:
    """(capture time in s, UDP payload) of every IPv4/UDP packet in a pcap file's bytes (to `dst_port` only)."""
    return [(t, payload) for t, _, dport, payload in udp_packets(data) if dst_port is None or dport == dst_port]


def udp_packets(data: bytes) -> list[tuple[float, int, int, bytes]]:
    """(capture time in s, source port, destination port, UDP payload) of every IPv4/UDP packet in a pcap."""
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    else:
        endian = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    link = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    skip = LINK_HEADER.get(link)
    if skip is None:
        raise ValueError(f"unsupported pcap link type {link}")
    out = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + captured]
        offset += 16 + captured
        ip = frame[skip:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        header = (ip[0] & 0x0F) * 4
        sport, dport, udp_length = struct.unpack("!HHH", ip[header : header + 6])
        payload = ip[header + 8 : header + udp_length]
        out.append((seconds + fraction / (1e9 if nano else 1e6), sport, dport, payload))
    return out


def decode_rtp(packets: list[tuple[float, bytes]]) -> DecodedRtp:
    """G.711 RTP packets (with arrival times) → one 8 kHz time line; RFC 4733 digits collected on the side."""
    chunks: list[Samples] = []
    cursor = 0  # samples placed so far
    start: float | None = None
    result = DecodedRtp(np.zeros(0, dtype=np.int16), 0)
    last_event: tuple[int, int] | None = None
    gap = GAP_TOLERANCE_MS * SAMPLE_RATE // 1000
    for arrival, rtp in packets:
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        payload_type = rtp[1] & 0x7F
        timestamp, ssrc = struct.unpack("!II", rtp[4:12])
        header = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10 and len(rtp) >= header + 4:  # header extension
            header += 4 + 4 * struct.unpack("!H", rtp[header + 2 : header + 4])[0]
        payload = rtp[header:]
        if rtp[0] & 0x20 and payload:  # padding
            payload = payload[: -payload[-1]]
        result.packets += 1
        result.payload_types.add(payload_type)
        result.ssrcs.add(ssrc)
        if payload_type in (PT_PCMU, PT_PCMA):
            samples = ulaw_decode(payload) if payload_type == PT_PCMU else alaw_decode(payload)
        elif payload_type == PT_CN:
            samples = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        else:
            is_end = len(payload) >= 4 and payload[1] & 0x80 and payload[0] < len(DTMF_DIGITS)
            if is_end and last_event != (ssrc, timestamp):  # the end packet is sent three times
                result.dtmf += DTMF_DIGITS[payload[0]]
                last_event = (ssrc, timestamp)
            continue
        if start is None:
            start = arrival
        expected = round((arrival - start) * SAMPLE_RATE)
        if expected > cursor + gap:
            chunks.append(np.zeros(expected - cursor, dtype=np.int16))
            cursor = expected
        chunks.append(samples)
        cursor += len(samples)
    result.samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return result


def decode_capture(pcap: Path, dst_port: int | None = None) -> DecodedRtp:
    return decode_rtp(_udp_payloads(pcap.read_bytes(), dst_port))


class RtpCapture:
    """tcpdump of what arrives at one UDP port on lo (and, with `both_ways`, what leaves it).
    `start()` returns once tcpdump listens."""

    def __init__(self, port: int, pcap: Path, interface: str = "lo", both_ways: bool = False) -> None:
        self.port = port
        self.both_ways = both_ways
        self.pcap = pcap
        self.interface = interface
        self.stderr_path = pcap.with_suffix(".tcpdump.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["tcpdump", "-i", self.interface, "-n", "-U", "-s", "0", "-w", str(self.pcap)]
        if os.geteuid() == 0:
            command += ["-Z", "root"]  # else tcpdump drops to its own user, who may not write the folder
        command += ["udp", "and", "port" if self.both_ways else "dst port", str(self.port)]
        with self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + TCPDUMP_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if b"listening on" in self.stderr_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        log = self.stderr_path.read_text(errors="replace").strip()
        self.stop()
        raise RuntimeError(f"tcpdump did not start on {self.interface} port {self.port}: {log}")

    def stop(self) -> None:
        """SIGINT (tcpdump flushes and exits), then SIGKILL if it lingers. Safe to call twice."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(TCPDUMP_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def decode(self, wav: Path) -> DecodedRtp:
        """Stop if needed, decode, and write the received audio to `wav` (8 kHz 16-bit mono)."""
        self.stop()
        empty = DecodedRtp(np.zeros(0, dtype=np.int16), 0)
        decoded = decode_capture(self.pcap, self.port) if self.pcap.exists() else empty
        write_wav(wav, decoded.samples)
        return decoded
