"""The e2e audio matcher: a needle cut in pieces, placed right even when a stall spoils its first piece."""

import numpy as np

from tests.e2e.sip.audio import SAMPLE_RATE, find_pieces_in


def _noise(seconds: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * 3000).astype(np.int16)


def test_a_stall_in_the_first_piece_does_not_misplace_the_needle() -> None:
    needle = _noise(3.0, 1)
    heard = np.zeros(10 * SAMPLE_RATE, np.int16)
    at = int(2.3 * SAMPLE_RATE)
    heard[at : at + len(needle)] = needle
    heard[at + 100 : at + 1500] = 0  # a few packets lost to a delivery stall
    offset, matches = find_pieces_in(heard, needle)
    assert abs(offset - 2.3) < 0.01
    assert matches[0] < 0.9 and all(m > 0.99 for m in matches[1:])


def test_other_audio_is_not_the_needle() -> None:
    offset, matches = find_pieces_in(_noise(10.0, 2), _noise(3.0, 3))
    assert max(matches) < 0.5, (offset, matches)
