"""Payloads out of externalMedia's RTP packets, and what is refused."""

from __future__ import annotations

import struct

from ivr.runtime.rtp import rtp_payload


def packet(payload: bytes, pt: int = 0, csrc: int = 0, extension: bytes | None = None, padding: int = 0) -> bytes:
    first = 0x80 | csrc | (0x10 if extension is not None else 0) | (0x20 if padding else 0)
    header = struct.pack("!BBHII", first, pt, 1, 160, 0x1234) + b"\0\0\0\1" * csrc
    if extension is not None:
        header += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    tail = bytes(padding - 1) + bytes([padding]) if padding else b""
    return header + payload + tail


def test_plain_packet() -> None:
    assert rtp_payload(packet(b"\xff" * 160)) == b"\xff" * 160


def test_csrc_extension_and_padding_are_skipped() -> None:
    assert rtp_payload(packet(b"abcd", csrc=2, extension=b"\0" * 8, padding=4)) == b"abcd"


def test_other_payload_types_and_junk_are_refused() -> None:
    assert rtp_payload(packet(b"\0" * 4, pt=101)) is None  # a DTMF event
    assert rtp_payload(packet(b"\0" * 160, pt=8)) is None  # A-law: not what was asked for
    assert rtp_payload(b"\x00" * 40) is None  # not RTP version 2
    assert rtp_payload(b"\x80\x00") is None
