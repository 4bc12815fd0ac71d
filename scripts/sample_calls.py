"""Four sample calls to the running hotline, so the demo's database holds real calls and tickets.

Uses the same sipp caller as the end-to-end tests: a menu answer confirmed with 1, a request for a person
(key 0, then a callback ticket), a caller who hangs up during the menu, and a caller who speaks (a human
French recording, "Aucune conférence n'est libre pour l'instant") over the welcome: no entry answers it and
the scope model finds it no city question, so the hotline says it has no answer and offers a person; the
caller presses 2 (the identity card answer) and hangs up during it; the utterance is kept for KB review.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.e2e.sip.caller import place_call
from tests.e2e.sip.pcap import Audio, Dtmf, Silence

SPOKEN = Path(__file__).resolve().parents[1] / "recordings_samples" / "fr" / "conf-noempty.wav"

SCRIPTS = {
    "0610000001": ([Silence(1500), Dtmf("1"), Silence(50_000), Dtmf("1")], 90_000),  # the answer is about 45 s
    "0610000002": ([Silence(1500), Dtmf("0")], 40_000),
    "0610000003": ([Silence(8000)], 8_000),
    "0610000004": ([Silence(2500), Audio(SPOKEN), Silence(8000), Dtmf("2"), Silence(4000)], 18_000),
}


def main() -> None:
    with ThreadPoolExecutor(len(SCRIPTS)) as pool:
        futures = {
            caller: pool.submit(place_call, steps, from_user=caller, hold_ms=hold, timeout=150)
            for caller, (steps, hold) in SCRIPTS.items()
        }
        for caller, future in futures.items():
            result = future.result()
            print(f"sample call from {caller}: answered {result.answered}, heard {result.heard.audible_seconds:.0f} s")


if __name__ == "__main__":
    main()
