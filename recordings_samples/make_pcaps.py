"""Regenerate recordings_samples/pcaps/: one caller pcap per `use: kb_question` recording of manifest.yaml.

Each pcap is a caller who stays silent 3 s (while the greeting plays), says the phrase, then stays silent 4 s:
G.711 μ-law RTP (payload type 0, 20 ms packets) in an Ethernet/IPv4/UDP pcap, written by the project's own
maker (tests/e2e/sip/pcap.py, `write_caller_pcap`) for sipp's `play_pcap_audio`. The output is deterministic:
the same WAV always gives the same bytes.

    .venv/bin/python -m recordings_samples.make_pcaps           # (re)write the pcaps
    .venv/bin/python recordings_samples/make_pcaps.py --check   # exit 1 if a pcap is missing or differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script: the pcap maker is imported from the repository root
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.e2e.sip.pcap import Audio, Silence, Step, build_rtp, pcap_bytes, write_caller_pcap  # noqa: E402

MANIFEST = HERE / "manifest.yaml"
AUDIO_DIR = HERE / "fr"
PCAP_DIR = HERE / "pcaps"
KB_QUESTION = "kb_question"
LEAD_SILENCE_MS = 3000  # the caller listens to the greeting
TAIL_SILENCE_MS = 4000  # then waits for the answer


def manifest_files(manifest: Path = MANIFEST) -> list[dict[str, object]]:
    """The `files` list of manifest.yaml."""
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    files = data["files"] if isinstance(data, dict) else data
    if not isinstance(files, list):
        raise ValueError(f"{manifest}: expected a 'files' list")
    return [dict(f) for f in files]


def kb_question_wavs(manifest: Path = MANIFEST) -> list[Path]:
    """The recordings used as spoken knowledge-base questions, in manifest order."""
    return [AUDIO_DIR / str(f["file"]) for f in manifest_files(manifest) if f.get("use") == KB_QUESTION]


def caller_steps(wav: Path) -> list[Step]:
    return [Silence(LEAD_SILENCE_MS), Audio(wav), Silence(TAIL_SILENCE_MS)]


def pcap_path(wav: Path) -> Path:
    return PCAP_DIR / f"{wav.stem}.pcap"


def expected_pcap(wav: Path) -> bytes:
    """The bytes `write_caller_pcap` writes for this recording (same builder, in memory)."""
    return pcap_bytes(build_rtp(caller_steps(wav)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="Write nothing; exit 1 if a pcap is missing or differs.")
    args = parser.parse_args(argv)
    wavs = kb_question_wavs()
    if not wavs:
        print(f"no '{KB_QUESTION}' file in {MANIFEST}", file=sys.stderr)
        return 1
    stale = 0
    if not args.check:
        PCAP_DIR.mkdir(exist_ok=True)
    for wav in wavs:
        out = pcap_path(wav)
        if args.check:
            ok = out.is_file() and out.read_bytes() == expected_pcap(wav)
            stale += not ok
            print(f"{'ok' if ok else 'STALE'}  {out.relative_to(ROOT)}")
            continue
        info = write_caller_pcap(caller_steps(wav), out)
        print(f"{out.relative_to(ROOT)}: {info.packets} packets, {info.duration_ms} ms")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
