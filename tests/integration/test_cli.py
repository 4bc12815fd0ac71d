"""The `hotline` command contract, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

HOTLINE = [sys.executable, "-m", "hotline.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], tmp_path: Path, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), **env}
    return subprocess.run(
        [*HOTLINE, *args], input=stdin, capture_output=True, text=True, env=environ, timeout=120, check=False
    )


def test_kb_validate_ok(tmp_path: Path) -> None:
    r = run(["kb", "validate"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK: ")


def test_kb_validate_reports_errors(tmp_path: Path) -> None:
    (tmp_path / "eau.yaml").write_text("topic: eau\nentries: []\n", encoding="utf-8")
    r = run(["kb", "validate", "--kb", str(tmp_path)], tmp_path)
    assert r.returncode == 2
    assert "eau.yaml › entries: List should have at least 1 item" in r.stderr


def test_kb_validate_reports_a_bad_referrals_file(tmp_path: Path) -> None:
    bad = tmp_path / "referrals.yaml"
    bad.write_text("referrals:\n  - id: caf\n    name: la caf\n    phrases: [caf]\n", encoding="utf-8")
    r = run(["kb", "validate"], tmp_path, HOTLINE_REFERRALS_PATH=str(bad))
    assert r.returncode == 2
    assert "referrals.yaml › referral 1 (caf) › says: expected the French sentence the caller hears" in r.stderr
    r = run(["kb", "validate"], tmp_path, HOTLINE_REFERRALS_PATH=str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "cannot read the referrals file" in r.stderr


def test_kb_match_names_the_body_a_question_belongs_to(tmp_path: Path) -> None:
    r = run(["kb", "match", "--json", "la caf m'a rien versé ce mois-ci"], tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["faq_id"] is None and data["out_of_scope"] is True and data["referral"] == "caf"


def test_kb_match_json_one_text(tmp_path: Path) -> None:
    r = run(["kb", "match", "--json", "le camion poubelle n'est pas passé ce matin"], tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) >= {"text", "faq_id", "score", "alternatives"}  # the original contract, kept
    assert data["faq_id"] == "dechets.collecte" and data["referral"] is None and data["out_of_scope"] is False
    assert isinstance(data["score"], float)
    assert 1 <= len(data["alternatives"]) <= 3


@pytest.mark.parametrize("cached", [False, True])
def test_kb_match_json_stdin_lines(tmp_path: Path, cached: bool) -> None:
    if cached:  # the second run reads the variant embeddings from the disk cache
        run(["kb", "match", "--json", "bonjour"], tmp_path)
        assert list((tmp_path / "cache" / "hotline" / "embeddings").glob("*.npy"))
    lines = ["je veux parler à un conseiller", "quel temps fait-il à Marseille", "la piscine", ""] * 50
    r = run(["kb", "match", "--json", "-"], tmp_path, stdin="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(out) == 200
    assert [o["text"] for o in out[:4]] == lines[:4]
    assert out[0]["faq_id"] == "accueil.conseiller"
    assert out[1]["faq_id"] is None  # out of scope: offer a human
    assert out[2]["faq_id"] == "sport.piscine"
    assert out[3]["faq_id"] is None and out[3]["score"] == 0.0
    for o in out:
        assert set(o) >= {"text", "faq_id", "score", "alternatives"} and len(o["alternatives"]) <= 3


def _without_pythonpath(**env: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **env}


def test_bench_without_the_checkout_says_so(tmp_path: Path) -> None:
    """An installed product (hotline, ivr and kb, no checkout around them): `hotline bench` has no bench/ package
    to run, says so and exits 2, without a traceback."""
    site = tmp_path / "site"
    for package in ("hotline", "ivr", "kb"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    for args in (["bench", "kb"], ["bench", "asr", "--calls", "0"]):
        r = subprocess.run(
            [*HOTLINE, *args],
            cwd=tmp_path,
            env=_without_pythonpath(PYTHONPATH=str(site)),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert r.returncode == 2, r.stderr
        assert f"no bench/ package next to {site}" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert r.stdout == ""


def test_bench_found_next_to_hotline_when_the_checkout_is_not_on_sys_path(tmp_path: Path) -> None:
    """The `hotline` console script's sys.path holds the installed packages, not the checkout (an editable install
    maps hotline, ivr and kb only): bench/ is still found next to them. The empty samples folder makes bench asr
    stop at once, with bench's own message."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from hotline.cli.main import main; sys.path.remove(sys.argv[1]); "
        "sys.argv = ['hotline', 'bench', 'asr', '--samples', sys.argv[2], '--calls', '0']; main()"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), str(empty)],
        cwd=tmp_path,
        env=_without_pythonpath(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2, r.stderr
    assert "no manifest.yaml and no transcripts.txt" in r.stderr, r.stderr


# ---- hotline say


def _wav_params(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes() / wav.getframerate()


def test_say_renders_a_sentence_as_a_caller_hears_it_through_the_cache(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    out = tmp_path / "preview.wav"
    r = run(["say", "Une crue est annoncée ce soir.", "--out", str(out)], tmp_path, HOTLINE_PROMPTS_DIR=str(prompts))
    assert r.returncode == 0, r.stderr
    rate, channels, width, seconds = _wav_params(out)
    assert (rate, channels, width) == (8000, 1, 2) and 1.0 < seconds < 5.0
    assert r.stdout.strip() == f"{out}: {seconds:.1f} s, pico fr-FR/s90/b250/n"
    [cached] = (prompts / "tts").glob("*.wav")  # the IVR's own cache: a call saying it plays this very file
    assert cached.read_bytes() == out.read_bytes()
    again = tmp_path / "again.wav"
    r = run(["say", "Une crue est annoncée ce soir.", "-o", str(again)], tmp_path, HOTLINE_PROMPTS_DIR=str(prompts))
    assert r.returncode == 0, r.stderr
    assert list((prompts / "tts").glob("*.wav")) == [cached] and again.read_bytes() == out.read_bytes()


def test_say_with_espeak_and_the_engine_setting(tmp_path: Path) -> None:
    prompts = str(tmp_path / "prompts")
    pico, espeak, configured = tmp_path / "pico.wav", tmp_path / "espeak.wav", tmp_path / "configured.wav"
    assert run(["say", "Bonjour.", "--out", str(pico)], tmp_path, HOTLINE_PROMPTS_DIR=prompts).returncode == 0
    r = run(["say", "Bonjour.", "--out", str(espeak), "--engine", "espeak"], tmp_path, HOTLINE_PROMPTS_DIR=prompts)
    assert r.returncode == 0 and "espeak-ng fr-fr" in r.stdout, r.stderr
    r = run(
        ["say", "Bonjour.", "--out", str(configured)],
        tmp_path,
        HOTLINE_PROMPTS_DIR=prompts,
        HOTLINE_TTS_ENGINE="espeak",
    )
    assert r.returncode == 0, r.stderr
    assert configured.read_bytes() == espeak.read_bytes() != pico.read_bytes()
    assert _wav_params(espeak)[:3] == (8000, 1, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["say", "   ", "--out", "{tmp}/x.wav"], "say: nothing to say: the text is empty"),
        (["say", "Bonjour.", "--out", "{tmp}/missing/x.wav"], "say: cannot write {tmp}/missing/x.wav"),
        (["say", "Bonjour.", "--out", "{tmp}"], "say: cannot write {tmp}: it is a folder"),
        (["say", "Bonjour.", "--out", "{tmp}/x.wav", "--engine", "festival"], "unknown TTS engine 'festival'"),
    ],
)
def test_say_rejects_bad_input_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    r = run([a.format(tmp=tmp_path) for a in args], tmp_path, HOTLINE_PROMPTS_DIR=str(tmp_path / "prompts"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message.format(tmp=tmp_path) in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x.wav").exists()
