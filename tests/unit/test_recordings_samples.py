"""recordings_samples/ stays consistent: the WAVs its manifest lists, the transcripts, the caller pcaps and the
speech KB they are matched against (tests/e2e/kb_speech). No recogniser runs here: it only reads files."""

from __future__ import annotations

import csv
import struct
import wave
from pathlib import Path

import pytest
import yaml

from ivr.flow.menu import DEFAULT_MENU_FILE, load_menu
from kb.loader import load_kb
from recordings_samples import make_pcaps

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "recordings_samples"
AUDIO = SAMPLES / "fr"
SPEECH_KB = ROOT / "tests" / "e2e" / "kb_speech"
USES = {"wer", "kb_question", "answer_yes_no"}
KB_QUESTIONS = 4


def manifest() -> list[dict[str, object]]:
    data = yaml.safe_load((SAMPLES / "manifest.yaml").read_text(encoding="utf-8"))
    return list(data["files"])


def of_use(use: str) -> list[dict[str, object]]:
    return [f for f in manifest() if f["use"] == use]


def test_manifest_entries_are_complete() -> None:
    files = manifest()
    names = [str(f["file"]) for f in files]
    assert len(names) == len(set(names)), "a file is listed twice"
    for f in files:
        assert {"file", "transcript", "seconds", "whisper_text", "use"} <= f.keys(), f
        assert f["use"] in USES, f
        assert str(f["transcript"]).strip() and str(f["whisper_text"]).strip(), f
    assert len(of_use("kb_question")) == KB_QUESTIONS


@pytest.mark.parametrize("entry", manifest(), ids=lambda f: str(f["file"]))
def test_every_wav_is_8khz_mono_16bit_and_as_long_as_listed(entry: dict[str, object]) -> None:
    path = AUDIO / str(entry["file"])
    assert path.is_file(), path
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
    assert abs(seconds - float(str(entry["seconds"]))) <= 0.006, (seconds, entry["seconds"])


def test_no_wav_outside_the_manifest() -> None:
    assert sorted(p.name for p in AUDIO.glob("*.wav")) == sorted(str(f["file"]) for f in manifest())


def test_transcripts_tsv_agrees_with_the_manifest() -> None:
    with (SAMPLES / "transcripts.tsv").open(encoding="utf-8", newline="") as tsv:
        rows = list(csv.reader(tsv, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["file", "transcript"]
    assert all(len(row) == 2 for row in rows[1:]), rows
    assert [(r[0], r[1]) for r in rows[1:]] == [(str(f["file"]), str(f["transcript"])) for f in manifest()]


@pytest.mark.parametrize("entry", of_use("kb_question"), ids=lambda f: str(f["file"]))
def test_every_kb_question_has_its_caller_pcap(entry: dict[str, object]) -> None:
    wav = AUDIO / str(entry["file"])
    pcap = make_pcaps.pcap_path(wav)
    assert pcap.is_file() and pcap.stat().st_size > 24, pcap
    data = pcap.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4  # classic little-endian pcap, microseconds
    # Up to date with the recording and the maker: `python -m recordings_samples.make_pcaps` rewrites it.
    assert data == make_pcaps.expected_pcap(wav), f"{pcap.name} is stale: run python -m recordings_samples.make_pcaps"


def test_speech_kb_loads_and_holds_each_kb_question_in_one_entry() -> None:
    kb = load_kb(SPEECH_KB)
    for f in of_use("kb_question"):
        holders = [e.id for e in kb.entries if str(f["transcript"]) in e.questions]
        assert holders == [f["kb_entry"]], (f["file"], holders)
        entry = kb.get(str(f["kb_entry"]))
        assert entry is not None and entry.action == "answer"


def test_the_main_menu_accepts_the_speech_kb() -> None:
    # A hotline started on kb_speech loads the main menu, whose choices must all be entries of that KB.
    load_menu(DEFAULT_MENU_FILE, load_kb(SPEECH_KB).ids())
