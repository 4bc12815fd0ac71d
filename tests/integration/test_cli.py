"""The `hotline` command contract, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HOTLINE = [sys.executable, "-m", "hotline.cli"]


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
