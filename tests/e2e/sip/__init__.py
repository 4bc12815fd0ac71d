"""SIP test peers for the end-to-end tests and benchmarks, built on sipp and tcpdump.

- `pcap`: the caller's RTP (speech from WAV files, tones, RFC 4733 DTMF, silences) as a pcap sipp replays.
- `audio`: measures of what was heard (non-silent seconds, tone detection).
- `caller`: `place_call(steps)` → `CallResult`, with what the caller received as a WAV file.
- `agent`: `AgentPhone`, a sipp UAS that REGISTERs with digest auth and auto-answers.
- `load`: N concurrent callers with sipp's -l/-m/-r; successful/failed counts and response times.
"""
