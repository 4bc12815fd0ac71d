"""Measures of heard audio: non-silent seconds, silent gaps, and a pure tone's presence.

Pure numpy. Samples are int16 numpy arrays at 8 kHz unless told. The G.711 codec is the product's
(`ivr.speech.g711`).
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SAMPLE_RATE = 8000
FRAME_MS = 20  # one RTP packet of G.711 at ptime 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
SILENCE_DBFS = -45.0  # frames quieter than this are silence: the prompts sit near -20 dBFS, the hold music -25
TONE_BAND_SHARE = 0.7  # a frame "is" a tone when this share of its energy lies within the tone's band
TONE_BAND_HZ = 60.0  # ± around the tone: a 20 ms frame resolves 50 Hz bins

Samples = NDArray[np.int16]


def read_wav(path: Path) -> tuple[Samples, int]:
    """16-bit mono PCM samples and the sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono, got {wav.getsampwidth() * 8}-bit x{wav.getnchannels()}")
        rate = wav.getframerate()
        data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16), rate


def write_wav(path: Path, samples: Samples, rate: int = SAMPLE_RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def load_as_8k(path: Path) -> Samples:
    """Any WAV → 8 kHz 16-bit mono samples: read directly when it already is, else converted by sox."""
    try:
        samples, rate = read_wav(path)
        if rate == SAMPLE_RATE:
            return samples
    except (ValueError, wave.Error):
        pass
    done = subprocess.run(
        ["sox", str(path), "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
         "-L", "-"],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise ValueError(f"sox could not convert {path}: {done.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(done.stdout, dtype="<i2").astype(np.int16)


def tone(hz: float, ms: int, dbfs: float = -12.0) -> Samples:
    """A pure sine tone at 8 kHz."""
    n = SAMPLE_RATE * ms // 1000
    amplitude = 32767 * 10 ** (dbfs / 20)
    return (np.sin(2 * np.pi * hz * np.arange(n) / SAMPLE_RATE) * amplitude).astype(np.int16)


def frame_dbfs(samples: Samples) -> NDArray[np.float64]:
    """RMS level of each 20 ms frame, in dBFS (−120 for digital silence)."""
    n = len(samples) // FRAME_SAMPLES
    frames = samples[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    result: NDArray[np.float64] = 20 * np.log10(np.maximum(rms, 1e-6) / 32768.0)
    return np.maximum(result, -120.0)


def audible_seconds(samples: Samples, threshold_dbfs: float = SILENCE_DBFS) -> float:
    """Total duration of the 20 ms frames louder than the threshold."""
    return float(np.count_nonzero(frame_dbfs(samples) > threshold_dbfs)) * FRAME_MS / 1000


def longest_silence_seconds(samples: Samples, threshold_dbfs: float = SILENCE_DBFS) -> float:
    """The longest run of silent frames, in seconds."""
    longest = run = 0
    for loud in frame_dbfs(samples) > threshold_dbfs:
        run = 0 if loud else run + 1
        longest = max(longest, run)
    return longest * FRAME_MS / 1000


def tone_seconds(samples: Samples, hz: float, threshold_dbfs: float = SILENCE_DBFS) -> float:
    """How long a pure tone of `hz` is heard: frames that are audible and carry most energy near `hz`."""
    n = len(samples) // FRAME_SAMPLES
    if n == 0:
        return 0.0
    frames = samples[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(FRAME_SAMPLES), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME_SAMPLES, 1 / SAMPLE_RATE)
    band = np.abs(freqs - hz) <= TONE_BAND_HZ
    share = spectrum[:, band].sum(axis=1) / np.maximum(spectrum.sum(axis=1), 1e-9)
    hits = (share >= TONE_BAND_SHARE) & (frame_dbfs(samples)[:n] > threshold_dbfs)
    return float(np.count_nonzero(hits)) * FRAME_MS / 1000


ANCHOR_PIECES = 3  # the needle is placed by the best match among its first pieces


def find_in(haystack: Samples, needle: Samples) -> tuple[float, float]:
    """Where `needle` best lines up inside `haystack`: (offset in seconds, normalised correlation 0-1 there).

    1.0 means the very samples (e.g. a prompt file in what a caller heard, both through G.711); speech that
    merely sounds alike scores far lower. FFT cross-correlation, so minutes of audio take milliseconds.
    """
    a, b = haystack.astype(np.float64), needle.astype(np.float64)
    if len(b) == 0 or len(a) < len(b):
        return 0.0, 0.0
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    raw = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)[: len(a) - len(b) + 1]
    lag = int(np.argmax(np.abs(raw)))
    window = a[lag : lag + len(b)]
    norm = float(np.sqrt(np.dot(window, window) * np.dot(b, b)))
    return lag / SAMPLE_RATE, (abs(float(np.dot(window, b))) / norm if norm else 0.0)


def find_pieces_in(haystack: Samples, needle: Samples, piece_s: float = 0.5) -> tuple[float, list[float]]:
    """`needle` cut in `piece_s` pieces, each found in `haystack` near where the needle lies: (offset of the
    needle's start in seconds, each piece's correlation). A delivery stall of a few packets (silence put into
    the heard time line) spoils one piece, not the whole match: the needle is placed by the best of its first
    pieces, so a stall in the very first one does not misplace the rest."""
    piece = int(piece_s * SAMPLE_RATE)
    cuts = [needle[i : i + piece] for i in range(0, len(needle) - piece + 1, piece)] or [needle]
    anchors = [(find_in(haystack, cut), k) for k, cut in enumerate(cuts[:ANCHOR_PIECES])]
    (anchor_at, _), k_best = max(anchors, key=lambda found: found[0][1])
    start = max(0, int(anchor_at * SAMPLE_RATE) - k_best * piece)
    slack = SAMPLE_RATE  # a stall shifts what follows it by up to this much
    matches = []
    for k, cut in enumerate(cuts):
        lo = max(0, start + k * piece - slack)
        _, match = find_in(haystack[lo : start + (k + 1) * piece + slack], cut)
        matches.append(match)
    return start / SAMPLE_RATE, matches


@dataclass(frozen=True)
class Heard:
    """A summary of a recording, for assertions and messages."""

    seconds: float
    audible_seconds: float
    longest_silence_seconds: float
    peak_dbfs: float

    @classmethod
    def of(cls, samples: Samples) -> Heard:
        levels = frame_dbfs(samples)
        return cls(
            seconds=len(samples) / SAMPLE_RATE,
            audible_seconds=audible_seconds(samples),
            longest_silence_seconds=longest_silence_seconds(samples),
            peak_dbfs=float(levels.max()) if len(levels) else -120.0,
        )

    def __str__(self) -> str:
        return (
            f"{self.seconds:.1f} s, {self.audible_seconds:.1f} s audible, longest silence "
            f"{self.longest_silence_seconds:.1f} s, loudest frame {self.peak_dbfs:.0f} dBFS"
        )


def first_audible_after(samples: Samples, after_s: float, threshold_dbfs: float = SILENCE_DBFS) -> float | None:
    """When the first audible 20 ms frame at or after `after_s` starts (seconds on the recording), or None."""
    levels = frame_dbfs(samples)
    start = max(0, int(after_s * 1000) // FRAME_MS)
    loud = np.nonzero(levels[start:] > threshold_dbfs)[0]
    return None if len(loud) == 0 else (start + int(loud[0])) * FRAME_MS / 1000
