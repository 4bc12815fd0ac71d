"""PCM helpers for the recognisers: read any WAV file, mix it to mono, resample it with numpy."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

PCM16_MAX = 32768.0  # full scale of 16-bit signed PCM, to map samples to [-1, 1)
BYTES_PER_SAMPLE = 2  # the recognisers take 16-bit little-endian mono PCM


class AudioFileError(ValueError):
    """The file is missing, or is not a PCM WAV file we can read."""


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1) at `rate` Hz."""

    samples: npt.NDArray[np.float32]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def read_wav(path: Path) -> Audio:
    """Read a PCM WAV file (8, 16, 24 or 32-bit, any rate, any channel count) as mono float32."""
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"{path}: not a PCM WAV file ({exc})") from exc
    samples = _decode(raw, width)
    if channels > 1:
        samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels).mean(axis=1)
    return Audio(samples.astype(np.float32), rate)


def _decode(raw: bytes, width: int) -> npt.NDArray[np.float64]:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64) / PCM16_MAX
    if width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        return ints.astype(np.float64) / float(1 << 23)
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    raise AudioFileError(f"unsupported sample width: {width} bytes")


def resample(samples: npt.NDArray[np.float32], src_rate: int, dst_rate: int) -> npt.NDArray[np.float32]:
    """Band-limited resampling of a whole signal through the FFT (no aliasing when downsampling)."""
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.float32)
    out_len = round(len(samples) * dst_rate / src_rate)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    keep = min(len(spectrum), out_len // 2 + 1)
    resized = np.zeros(out_len // 2 + 1, dtype=np.complex128)
    resized[:keep] = spectrum[:keep]
    out = np.fft.irfft(resized, n=out_len) * (out_len / len(samples))
    return out.astype(np.float32)


def to_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1) to 16-bit little-endian PCM (clipped)."""
    return np.clip(np.round(samples * PCM16_MAX), -PCM16_MAX, PCM16_MAX - 1).astype("<i2").tobytes()


def from_pcm16(pcm: bytes) -> npt.NDArray[np.float32]:
    """16-bit little-endian PCM to float32 samples in [-1, 1)."""
    usable = len(pcm) - len(pcm) % BYTES_PER_SAMPLE
    return (np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / np.float32(PCM16_MAX)).astype(np.float32)
