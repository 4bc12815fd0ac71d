"""A UDP socket per call that receives the caller's audio from Asterisk's externalMedia channel as RTP.

Only the payload matters here: the packets come from Asterisk on 127.0.0.1, in order, 20 ms each. The
handler runs on the event loop and only hands the payload over (a queue put); nothing is decoded here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

RTP_HEADER_BYTES = 12
RTP_VERSION = 2
PAYLOAD_TYPE_PCMU = 0  # G.711 mu-law, what externalMedia sends with format=ulaw


def rtp_payload(packet: bytes) -> bytes | None:
    """The payload of a G.711 mu-law RTP packet, or None for anything else (RTCP, DTMF events, junk)."""
    if len(packet) <= RTP_HEADER_BYTES or packet[0] >> 6 != RTP_VERSION:
        return None
    if packet[1] & 0x7F != PAYLOAD_TYPE_PCMU:
        return None
    start = RTP_HEADER_BYTES + 4 * (packet[0] & 0x0F)  # CSRC list
    if packet[0] & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
        if len(packet) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(packet[start + 2 : start + 4], "big")
    end = len(packet)
    if packet[0] & 0x20:  # padding: the last byte says how much
        end -= packet[-1]
    return packet[start:end] if end > start else None


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_payload: Callable[[bytes], None]) -> None:
        self.on_payload = on_payload
        self.packets = 0

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        payload = rtp_payload(data)
        if payload is not None:
            self.packets += 1
            self.on_payload(payload)


class RtpReceiver:
    """Bound to `bind` on a free port; `address` (`advertise`:port) is what externalMedia's external_host takes."""

    def __init__(
        self, on_payload: Callable[[bytes], None], bind: str = "127.0.0.1", advertise: str | None = None
    ) -> None:
        self.host = bind
        self.advertise = advertise or bind
        self._on_payload = on_payload
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Protocol | None = None
        self.port = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(self._on_payload), local_addr=(self.host, 0)
        )
        self._transport, self._protocol = transport, protocol
        self.port = int(transport.get_extra_info("sockname")[1])

    @property
    def address(self) -> str:
        return f"{self.advertise}:{self.port}"

    @property
    def packets(self) -> int:
        return self._protocol.packets if self._protocol else 0

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
