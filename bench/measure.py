"""Measuring helpers: memory (RSS), cores, and CPU/wall time against audio time."""

from __future__ import annotations

import os
import resource
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.tables import Table


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: kilobytes


def cores() -> int:
    return len(os.sched_getaffinity(0))


class MemoryLog:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.last = rss_mb()

    def mark(self, stage: str) -> None:
        now = rss_mb()
        self.table.add(stage, now, now - self.last, peak_rss_mb())
        self.last = now


def ms_stats(seconds: Sequence[float]) -> tuple[int, float, float]:
    return len(seconds), statistics.median(seconds) * 1000, max(seconds) * 1000


@dataclass(frozen=True)
class Run:
    audio_s: float
    cpu_s: float
    wall_s: float

    @property
    def rtf_cpu(self) -> float:
        return self.cpu_s / self.audio_s

    @property
    def rtf_wall(self) -> float:
        return self.wall_s / self.audio_s
