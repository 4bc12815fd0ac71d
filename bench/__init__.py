"""Benchmarks (dev only, not installed): they print figures and assert nothing. Run from a source checkout.

- `bench_kb`: match latency and memory at 100, 1,000 and 10,000 variants (`hotline bench kb`).
- `bench_asr`: the speech engines offline: WER, real-time factors, streams, ready times, memory
  (`hotline bench asr`); with `speech_samples` (the audio), `speech_passes` (what is timed), `measure` and `tables`.
- `bench_turns`: turn latency through the real Asterisk with sipp callers (`python -m bench.bench_turns`, and
  `hotline bench asr --calls N`).
- `bench_calls`: load through the menu, N concurrent callers (`python -m bench.bench_calls`).

The product (hotline, ivr, kb) never imports this package, except `hotline bench`, lazily. The Asterisk ones need
root and drive the SIP test harness (tests/e2e/sip).
"""
