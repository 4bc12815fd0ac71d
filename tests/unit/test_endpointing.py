"""The endpointer on synthetic 20 ms frames: when a turn starts, ends, or is cut."""

from __future__ import annotations

import numpy as np

from ivr.speech.endpointing import FRAME_MS, Endpointer, TurnEventKind, TurnThresholds, frame_dbfs

RATE = 8000
T = TurnThresholds(speech_dbfs=-40.0, min_speech_ms=120, end_silence_ms=600, max_utterance_ms=3000)


def frame(dbfs: float) -> bytes:
    """A 20 ms 400 Hz tone at `dbfs` RMS (-inf: digital silence)."""
    n = RATE * FRAME_MS // 1000
    if dbfs == -np.inf:
        return bytes(2 * n)
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    tone = amplitude * np.sin(2 * np.pi * 400 * np.arange(n) / RATE)
    return tone.astype("<i2").tobytes()


def run(endpointer: Endpointer, frames: list[bytes]) -> list[tuple[TurnEventKind, int, int | None]]:
    out = []
    for f in frames:
        event = endpointer.push(f)
        if event is not None:
            out.append((event.kind, event.at_ms, event.speech_end_ms))
    return out


def ms(n: int, dbfs: float) -> list[bytes]:
    return [frame(dbfs)] * (n // FRAME_MS)


def test_frame_level() -> None:
    assert abs(frame_dbfs(frame(-20.0)) - -20.0) < 0.5
    assert frame_dbfs(frame(-np.inf)) == -np.inf
    assert frame_dbfs(b"") == -np.inf


def test_a_turn_starts_after_the_minimum_speech_and_ends_after_the_silence() -> None:
    events = run(Endpointer(T), ms(400, -np.inf) + ms(1000, -20) + ms(1000, -70))
    assert events == [
        (TurnEventKind.SPEECH_STARTED, 400 + 120, None),
        (TurnEventKind.TURN_ENDED, 400 + 1000 + 600, 1400),
    ]


def test_a_click_or_a_cough_is_not_speech() -> None:
    assert run(Endpointer(T), ms(100, -10) + ms(1000, -np.inf) + ms(60, -10) + ms(500, -60)) == []


def test_a_pause_shorter_than_the_end_silence_keeps_the_turn() -> None:
    events = run(Endpointer(T), ms(500, -20) + ms(400, -70) + ms(500, -20) + ms(700, -70))
    assert [e[0] for e in events] == [TurnEventKind.SPEECH_STARTED, TurnEventKind.TURN_ENDED]
    assert events[1][2] == 1400


def test_a_turn_is_cut_at_the_maximum_length_and_a_new_one_can_start() -> None:
    events = run(Endpointer(T), ms(3500, -20) + ms(700, -70))
    assert [e[0] for e in events] == [
        TurnEventKind.SPEECH_STARTED,
        TurnEventKind.TURN_CUT,
        TurnEventKind.SPEECH_STARTED,
        TurnEventKind.TURN_ENDED,
    ]
    assert events[1][1] == 3000


def test_quiet_line_noise_below_the_threshold_never_starts_a_turn() -> None:
    assert run(Endpointer(T), ms(5000, -50)) == []
