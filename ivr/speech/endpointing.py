"""Voice activity and endpointing on 20 ms telephone frames: when the caller starts speaking, when the turn ends.

Pure and synchronous: frames in, turn events out. The thresholds are named in `TurnThresholds`; the no-input
timeout (nothing said at all after a prompt) belongs to the call flow, which owns the clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ivr.speech.audio import BYTES_PER_SAMPLE, PCM16_MAX

FRAME_MS = 20  # one RTP packet of telephone audio


@dataclass(frozen=True)
class TurnThresholds:
    # A frame louder than this is voice: telephone speech sits around -25 dBFS, line noise below -50.
    speech_dbfs: float = -40.0
    # Voice must last this long before it counts as speech (and cuts the prompt): a click or a cough does not.
    min_speech_ms: int = 120
    # This much silence after speech ends the turn: shorter cuts callers who pause mid-sentence.
    end_silence_ms: int = 600
    # A turn is closed after this even if the caller keeps talking (or the line is noisy).
    max_utterance_ms: int = 12_000
    # Audio kept from before the speech started, so the first syllable reaches the recogniser.
    preroll_ms: int = 300


DEFAULT_THRESHOLDS = TurnThresholds()


class TurnEventKind(StrEnum):
    SPEECH_STARTED = "speech_started"
    TURN_ENDED = "turn_ended"  # end-of-turn silence after speech
    TURN_CUT = "turn_cut"  # the maximum utterance length was reached


@dataclass(frozen=True)
class TurnEvent:
    kind: TurnEventKind
    at_ms: int  # on the stream's time line (frames pushed so far), where the event applies
    speech_end_ms: int | None = None  # for TURN_ENDED: when the last voiced frame ended


def frame_dbfs(pcm16: bytes) -> float:
    """Loudness of a frame of 16-bit PCM, in dB relative to full scale (-inf for digital silence)."""
    usable = len(pcm16) - len(pcm16) % BYTES_PER_SAMPLE
    if usable == 0:
        return -math.inf
    samples = np.frombuffer(pcm16[:usable], dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20.0 * math.log10(rms / PCM16_MAX) if rms > 0 else -math.inf


class Endpointer:
    """Follows one caller's audio. `push` takes one frame and says whether a turn started or ended."""

    def __init__(self, thresholds: TurnThresholds = DEFAULT_THRESHOLDS, frame_ms: int = FRAME_MS) -> None:
        self.t = thresholds
        self.frame_ms = frame_ms
        self.now_ms = 0
        self.in_speech = False
        self._voiced_run_ms = 0  # consecutive voiced time while waiting for speech
        self._speech_start_ms = 0
        self._last_voiced_end_ms = 0

    @property
    def silence_ms(self) -> int:
        """In a turn: how long since the last voiced frame ended (0 outside a turn)."""
        return self.now_ms - self._last_voiced_end_ms if self.in_speech else 0

    def reset(self) -> None:
        """Wait for a new turn (the time line carries on)."""
        self.in_speech = False
        self._voiced_run_ms = 0

    def push(self, pcm16: bytes) -> TurnEvent | None:
        voiced = frame_dbfs(pcm16) >= self.t.speech_dbfs
        self.now_ms += self.frame_ms
        if not self.in_speech:
            self._voiced_run_ms = self._voiced_run_ms + self.frame_ms if voiced else 0
            if self._voiced_run_ms >= self.t.min_speech_ms:
                self.in_speech = True
                self._speech_start_ms = self.now_ms - self._voiced_run_ms
                self._last_voiced_end_ms = self.now_ms
                return TurnEvent(TurnEventKind.SPEECH_STARTED, self.now_ms)
            return None
        if voiced:
            self._last_voiced_end_ms = self.now_ms
        if self.now_ms - self._last_voiced_end_ms >= self.t.end_silence_ms:
            self.reset()
            return TurnEvent(TurnEventKind.TURN_ENDED, self.now_ms, self._last_voiced_end_ms)
        if self.now_ms - self._speech_start_ms >= self.t.max_utterance_ms:
            self.reset()
            return TurnEvent(TurnEventKind.TURN_CUT, self.now_ms, self._last_voiced_end_ms)
        return None
