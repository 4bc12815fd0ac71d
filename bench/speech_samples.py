"""The speech bench's audio: human French samples at the telephone rate, and the same as one caller's RTP
(G.711 mu-law 20 ms payloads with line noise around each utterance)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hotline.settings import PACKAGE_ROOT
from ivr.speech.audio import BYTES_PER_SAMPLE, read_wav, resample, to_pcm16
from ivr.speech.endpointing import DEFAULT_THRESHOLDS, FRAME_MS
from ivr.speech.g711 import ULAW_SILENCE, pcm16_to_ulaw, ulaw_to_pcm16
from ivr.speech.recognizer import TELEPHONE_RATE_HZ

RECORDINGS_DIR = PACKAGE_ROOT / "recordings_samples"  # human recordings with manifest.yaml, when present
TEST_SPEECH_DIR = PACKAGE_ROOT / "tests" / "data" / "speech"  # 5 Asterisk French prompts, always present
MANIFEST = "manifest.yaml"
TRANSCRIPTS = "transcripts.txt"

FRAME_BYTES_PCM = TELEPHONE_RATE_HZ * FRAME_MS // 1000 * BYTES_PER_SAMPLE  # 20 ms of 16-bit PCM: one RTP packet
FRAME_BYTES_ULAW = TELEPHONE_RATE_HZ * FRAME_MS // 1000  # the same 20 ms as G.711 mu-law (one byte per sample)
LEAD_PAD_MS = 400  # line noise before each utterance fed to the listener
TRAIL_PAD_MS = DEFAULT_THRESHOLDS.end_silence_ms + 200  # after it: the endpointer closes the turn within this
NOISE_DBFS = -60.0  # padding level: telephone line noise, well under the endpointer's speech threshold
NOISE_SEED = 20  # fixed: the padding is the same on every run
ULAW_MIN_SNR_DB = 30.0  # G.711 gives about 38 dB on speech; less means the encoder is wrong


@dataclass(frozen=True)
class Sample:
    name: str
    pcm: bytes  # 16-bit little-endian mono PCM at 8 kHz
    transcript: str

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (BYTES_PER_SAMPLE * TELEPHONE_RATE_HZ)


class SamplesError(ValueError):
    """The sample folder has neither a manifest.yaml nor a transcripts.txt, or names missing files."""


def default_samples_dir() -> Path:
    """recordings_samples/ when its manifest is there, else the five prompts under tests/data/speech."""
    return RECORDINGS_DIR if (RECORDINGS_DIR / MANIFEST).is_file() else TEST_SPEECH_DIR


def _telephone_pcm(path: Path) -> bytes:
    audio = read_wav(path)
    return to_pcm16(resample(audio.samples, audio.rate, TELEPHONE_RATE_HZ))


def _used(entry: dict[str, Any]) -> bool:
    use = entry.get("use", True)
    if isinstance(use, str):
        return use.strip().lower() not in ("", "no", "false", "skip", "0")
    return bool(use)


def _manifest_entries(folder: Path) -> list[tuple[str, Path, str]]:
    data = yaml.safe_load((folder / MANIFEST).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("samples", data.get("entries", data.get("files")))
    if not isinstance(data, list):
        raise SamplesError(f"{folder / MANIFEST}: expected a list of {{file, transcript, ...}} entries")
    out = []
    for entry in data:
        if not isinstance(entry, dict) or not _used(entry):
            continue
        file, transcript = str(entry.get("file", "")), str(entry.get("transcript") or "").strip()
        if not file or not transcript:
            continue
        path = folder / file
        if not path.is_file() and (folder / "fr" / file).is_file():
            path = folder / "fr" / file
        out.append((Path(file).stem, path, transcript))
    return out


def _transcript_entries(folder: Path) -> list[tuple[str, Path, str]]:
    out = []
    for line in (folder / TRANSCRIPTS).read_text(encoding="utf-8").splitlines():
        if ": " in line:
            name, text = line.split(": ", 1)
            out.append((name.strip(), folder / f"{name.strip()}.wav", text.strip()))
    return out


def load_samples(folder: Path) -> list[Sample]:
    """The samples of a folder with manifest.yaml ({file, transcript, use, ...} entries) or transcripts.txt."""
    if (folder / MANIFEST).is_file():
        entries = _manifest_entries(folder)
    elif (folder / TRANSCRIPTS).is_file():
        entries = _transcript_entries(folder)
    else:
        raise SamplesError(f"{folder}: no {MANIFEST} and no {TRANSCRIPTS}")
    missing = [str(path) for _, path, _ in entries if not path.is_file()]
    if missing:
        raise SamplesError(f"{folder}: missing audio files: {', '.join(missing[:5])}")
    if not entries:
        raise SamplesError(f"{folder}: no usable sample (with a transcript and use not false)")
    return [Sample(name, _telephone_pcm(path), text) for name, path, text in entries]


def first_seconds(samples: Sequence[Sample], seconds: float) -> list[Sample]:
    """The first samples, up to about `seconds` of audio (at least one)."""
    out: list[Sample] = []
    total = 0.0
    for s in samples:
        if out and total + s.seconds > seconds:
            break
        out.append(s)
        total += s.seconds
    return out


def audio_seconds(pcms: Sequence[bytes]) -> float:
    return sum(len(p) for p in pcms) / (BYTES_PER_SAMPLE * TELEPHONE_RATE_HZ)


# ---- G.711 mu-law ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UlawCheck:
    levels_exact: int  # of the 256 mu-law levels, how many survive decode -> encode -> decode unchanged
    snr_db: float  # on the samples: signal over the error of encode -> decode


def check_ulaw(samples: Sequence[Sample]) -> UlawCheck:
    """Round trip of the G.711 codec on the samples; raises if it is not G.711."""
    levels = ulaw_to_pcm16(bytes(range(256)))
    exact = int(np.sum(np.frombuffer(ulaw_to_pcm16(pcm16_to_ulaw(levels)), "<i2") == np.frombuffer(levels, "<i2")))
    pcm = b"".join(s.pcm for s in samples)
    ref = np.frombuffer(pcm, "<i2").astype(np.float64)
    err = np.frombuffer(ulaw_to_pcm16(pcm16_to_ulaw(pcm)), "<i2").astype(np.float64) - ref
    snr = 10 * math.log10(float(np.sum(ref * ref)) / max(float(np.sum(err * err)), 1.0))
    if exact != 256 or snr < ULAW_MIN_SNR_DB:
        raise RuntimeError(f"mu-law codec is not G.711: {exact}/256 levels, SNR {snr:.1f} dB")
    return UlawCheck(exact, snr)


def _noise_ulaw(ms: int, rng: np.random.Generator) -> bytes:
    n = TELEPHONE_RATE_HZ * ms // 1000
    noise = rng.standard_normal(n) * (10 ** (NOISE_DBFS / 20))
    return pcm16_to_ulaw(to_pcm16(noise.astype(np.float32)))


def call_payloads(samples: Sequence[Sample]) -> list[bytes]:
    """The samples as one caller's RTP stream: 20 ms mu-law payloads, line noise around each utterance."""
    rng = np.random.default_rng(NOISE_SEED)
    stream = bytearray()
    for s in samples:
        stream += _noise_ulaw(LEAD_PAD_MS, rng)
        stream += pcm16_to_ulaw(s.pcm)
        stream += _noise_ulaw(TRAIL_PAD_MS, rng)
    stream += bytes([ULAW_SILENCE]) * (-len(stream) % FRAME_BYTES_ULAW)
    return [bytes(stream[i : i + FRAME_BYTES_ULAW]) for i in range(0, len(stream), FRAME_BYTES_ULAW)]
