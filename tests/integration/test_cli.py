"""The `hotline` command contract, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def test_kb_match_json_one_text(tmp_path: Path) -> None:
    r = run(["kb", "match", "--json", "le camion poubelle n'est pas passé ce matin"], tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"text", "faq_id", "score", "alternatives"}
    assert data["faq_id"] == "dechets.collecte"
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
        assert set(o) == {"text", "faq_id", "score", "alternatives"} and len(o["alternatives"]) <= 3


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
