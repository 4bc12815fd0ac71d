"""`hotline bench asr`, run as a user runs it (a subprocess), on two human French samples per engine.

The benchmark prints figures and asserts nothing about them; these tests check that every table is there and that
the real-time factors are positive numbers, never how fast anything is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.speech_samples import check_ulaw, load_samples
from bench.tables import Column, Table, format_table
from ivr.speech.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from ivr.speech.models import install_whisper_model

HOTLINE = [sys.executable, "-m", "hotline.cli"]
DATA = Path(__file__).resolve().parent.parent / "data" / "speech"
TWO = ("conf-full", "agent-loginok")
TABLE_TITLES = ("Word error rate", "Real-time factor", "Concurrent streams", "Ready time", "Memory")


@pytest.fixture(scope="module")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_whisper_model(tmp_path_factory.mktemp("models") / "whisper-base")


@pytest.fixture
def two_samples_manifest(tmp_path: Path) -> Path:
    """The recordings_samples/ layout: manifest.yaml with {file, transcript, use} entries, WAVs under fr/."""
    transcripts = dict(line.split(": ", 1) for line in (DATA / "transcripts.txt").read_text("utf-8").splitlines())
    (tmp_path / "fr").mkdir()
    lines = ["files:"]
    for name in TWO:
        shutil.copyfile(DATA / f"{name}.wav", tmp_path / "fr" / f"{name}.wav")
        lines += [f"- file: {name}.wav", f'  transcript: "{transcripts[name]}"', "  use: wer"]
    lines += ["- file: conf-full.wav", "  transcript: ignored", "  use: false"]
    (tmp_path / "manifest.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def two_samples_transcripts(tmp_path: Path) -> Path:
    """The tests/data/speech layout: transcripts.txt ("name: text") next to the WAVs."""
    kept = [line for line in (DATA / "transcripts.txt").read_text("utf-8").splitlines() if line.split(":")[0] in TWO]
    for name in TWO:
        shutil.copyfile(DATA / f"{name}.wav", tmp_path / f"{name}.wav")
    (tmp_path / "transcripts.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return tmp_path


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [*HOTLINE, "bench", "asr", *args],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=150,
        check=False,
    )


def _section(text: str, title: str) -> list[str]:
    """The lines of one printed table: title, header, rows and notes, up to the blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_manifest_and_transcripts_layouts_load(two_samples_manifest: Path, two_samples_transcripts: Path) -> None:
    from_manifest = load_samples(two_samples_manifest)  # the "use: false" entry is left out
    from_transcripts = load_samples(two_samples_transcripts)
    assert [s.name for s in from_manifest] == list(TWO)
    assert sorted(s.name for s in from_transcripts) == sorted(TWO)
    assert all(s.seconds > 1 and s.transcript for s in from_manifest)


def test_ulaw_encoder_is_the_listeners_inverse() -> None:
    samples = load_samples(DATA)
    assert check_ulaw(samples).levels_exact == 256
    levels = ulaw_to_pcm16(bytes(range(256)))
    assert ulaw_to_pcm16(pcm16_to_ulaw(levels)) == levels


def test_table_printer_aligns_columns() -> None:
    table = Table("t", "A title", (Column("name", "name"), Column("value", "value", ".2f")))
    table.add("short", 1.0)
    table.add("a longer name", 12.345)
    table.notes.append("a note")
    assert format_table(table).splitlines() == [
        "A title",
        "name           value",
        "short           1.00",
        "a longer name  12.35",
        "  a note",
    ]
    assert table.as_json()["rows"][1] == {"name": "a longer name", "value": 12.345}


def test_bench_asr_vosk_tables(two_samples_manifest: Path) -> None:
    r = run(["--engine", "vosk", "--samples", str(two_samples_manifest), "--streams", "1", "--calls", "0"])
    assert r.returncode == 0, r.stderr
    for title in TABLE_TITLES:
        assert title in r.stdout, title
    assert "KOREAN" in r.stdout  # the only Vosk model here is Korean, and the WER table says so
    rtf = _section(r.stdout, "Real-time factor")
    header = re.split(r"\s{2,}", rtf[1])
    assert header[:5] == ["engine", "measure", "audio s", "CPU s", "RTF CPU"]
    rows = [re.split(r"\s{2,}", line) for line in rtf[2:] if line.startswith("vosk")]
    measures = [row[1] for row in rows]
    assert any(m.startswith("raw") for m in measures) and any(m.startswith("pipeline") for m in measures)
    for row in rows:
        assert float(row[header.index("RTF CPU")]) > 0, row
        assert float(row[header.index("RTF wall")]) > 0, row
    assert re.search(r"pipeline / raw, CPU per audio second .*: \d+\.\d\d first pass", r.stdout)
    streams = _section(r.stdout, "Concurrent streams")
    assert [line.split()[:2] for line in streams[2:] if line.startswith("vosk")] == [["vosk", "1"], ["vosk", "1"]]


def test_bench_asr_whisper_json(two_samples_transcripts: Path, whisper_dir: Path) -> None:
    r = run(
        ["--engine", "whisper", "--samples", str(two_samples_transcripts), "--json", "--calls", "0"],
        HOTLINE_WHISPER_MODEL_PATH=str(whisper_dir),
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    tables = data["tables"]
    assert set(tables) == {"wer", "rtf", "streams", "ready", "memory"}
    (wer_row,) = tables["wer"]["rows"]
    assert wer_row["engine"] == "whisper" and wer_row["samples"] == 2 and wer_row["wer_pct"] >= 0
    (rtf_row,) = tables["rtf"]["rows"]
    assert rtf_row["rtf_cpu"] > 0 and rtf_row["rtf_wall"] > 0
    (streams_row,) = tables["streams"]["rows"]
    assert streams_row["utterances_per_s"] > 0 and streams_row["streams_per_core"] > 0
    events = [row["event"] for row in tables["ready"]["rows"]]
    assert events[0] == "model load" and any(e.startswith("first decode after load") for e in events)
    assert all(row["peak_rss_mb"] > 0 for row in tables["memory"]["rows"])


def test_bench_asr_bad_samples_folder(tmp_path: Path) -> None:
    r = run(["--engine", "whisper", "--samples", str(tmp_path), "--calls", "0"])
    assert r.returncode == 2
    assert "no manifest.yaml and no transcripts.txt" in r.stderr
    assert r.stdout == ""
