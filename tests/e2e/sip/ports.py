"""Free UDP ports for concurrent SIP peers: each call gets its own SIP port and its own block of media ports.

The blocks come from 40000-60000: above Asterisk's RTP range (10000-20000). That overlaps Linux's ephemeral
range, so every candidate is checked by binding it. A lock and a process-wide set keep two threads of one
test from taking the same block.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections.abc import Iterator

PORT_RANGE = (40000, 60000)
MEDIA_BLOCK = 4  # sipp binds the media port, +1 (RTCP), +2 (video), +3 (video RTCP)

_lock = threading.Lock()
_reserved: set[int] = set()


def _udp_free(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def reserve_block(size: int, *, align: int = 2) -> int:
    """The first port of `size` consecutive free UDP ports, reserved for this process until `release`."""
    with _lock:
        for _ in range(2000):
            start = random.randrange(PORT_RANGE[0], PORT_RANGE[1] - size) // align * align
            block = range(start, start + size)
            if any(p in _reserved for p in block):
                continue
            if all(_udp_free(p) for p in block):
                _reserved.update(block)
                return start
    raise RuntimeError(f"no {size} consecutive free UDP ports in {PORT_RANGE}")


def release_block(start: int, size: int) -> None:
    with _lock:
        _reserved.difference_update(range(start, start + size))


@contextlib.contextmanager
def reserved_ports(size: int) -> Iterator[int]:
    """`with reserved_ports(4) as first: ...`: ports first .. first+3, released at the end."""
    start = reserve_block(size)
    try:
        yield start
    finally:
        release_block(start, size)
