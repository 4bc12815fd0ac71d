"""Three sample calls to the running hotline, so the demo's database holds real calls and tickets.

Uses the same sipp caller as the end-to-end tests: a menu answer confirmed with 1, a request for a person
(key 0, then a callback ticket), and a caller who hangs up during the menu.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.sip.caller import place_call
from tests.e2e.sip.pcap import Dtmf, Silence

SCRIPTS = {
    "0610000001": ([Silence(1500), Dtmf("1"), Silence(50_000), Dtmf("1")], 90_000),  # the answer is about 45 s
    "0610000002": ([Silence(1500), Dtmf("0")], 40_000),
    "0610000003": ([Silence(8000)], 8_000),
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
