"""The recorded-prompt catalog: transcript parsing and normalised exact matching, on a fake chroot."""

from __future__ import annotations

import gzip
import os
from pathlib import Path, PurePosixPath

import pytest

from ivr.prompts.recorded import (
    RecordedCatalog,
    normalise_sentence,
    parse_transcripts,
    read_transcripts,
    resolve_in_root,
)

TRANSCRIPTS = """\
; Core Asterisk Sounds in French

auth-thankyou: Merci.
privacy-thankyou: Merci
vm-goodbye: Au revoir.
goodbye: Aurevoir
conf-errormenu: Ce choix n'est pas valide
agent-incorrect: Échec à l'ouverture de session.
conf-adminmenu: “Pour quitter, appuyez sur 8.”
ascending-2tone: [ascending tones]
beeperr: (ahooga)
dir-welcome:
digits/1: un
not a transcript line
"""


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Au revoir !", "au revoir"),
        ("AU REVOIR.", "au revoir"),
        ("Échec à l'ouverture", "echec a l ouverture"),
        ("Ce choix n’est pas valide…", "ce choix n est pas valide"),
        ("« Merci »", "merci"),
        ("Tapez 1, puis dièse.", "tapez 1 puis diese"),
        ("  ", ""),
        ("?!", ""),
    ],
)
def test_normalise_sentence(sentence: str, expected: str) -> None:
    assert normalise_sentence(sentence) == expected


def test_parse_transcripts() -> None:
    parsed = parse_transcripts(TRANSCRIPTS)
    assert parsed["vm-goodbye"] == "Au revoir."
    assert parsed["conf-adminmenu"] == "Pour quitter, appuyez sur 8."  # typographic quotes dropped
    assert parsed["digits/1"] == "un"
    for skipped in ("ascending-2tone", "beeperr", "dir-welcome"):  # not speech, or no transcript
        assert skipped not in parsed
    assert len(parsed) == 8


@pytest.fixture
def catalog() -> RecordedCatalog:
    return RecordedCatalog(parse_transcripts(TRANSCRIPTS))


@pytest.mark.parametrize(
    ("sentence", "name"),
    [
        ("Au revoir.", "vm-goodbye"),
        ("au revoir", "vm-goodbye"),
        ("Au revoir !", "vm-goodbye"),
        ("Ce choix n'est pas valide.", "conf-errormenu"),
        ("ECHEC A L'OUVERTURE DE SESSION", "agent-incorrect"),
        # Two recordings say "Merci": the shortest name wins, every time.
        ("Merci.", "auth-thankyou"),
        ("Merci !", "auth-thankyou"),
    ],
)
def test_find_matches_whole_sentences_ignoring_case_accents_punctuation(
    catalog: RecordedCatalog, sentence: str, name: str
) -> None:
    assert catalog.find(sentence) == name


@pytest.mark.parametrize(
    "sentence",
    [
        "Merci de votre appel. Au revoir.",  # contains a recording, is not one
        "Revoir.",
        "Ce choix n'est plus valide.",
        "",
        "...",
    ],
)
def test_find_never_matches_part_of_a_sentence(catalog: RecordedCatalog, sentence: str) -> None:
    assert catalog.find(sentence) is None


def test_uri_and_unknown_name(catalog: RecordedCatalog) -> None:
    assert catalog.uri("vm-goodbye") == "sound:vm-goodbye"
    with pytest.raises(KeyError, match="nope"):
        catalog.uri("nope")


def test_empty_catalog_matches_nothing() -> None:
    assert RecordedCatalog.empty().find("Merci.") is None
    assert len(RecordedCatalog.empty()) == 0


# ---- A fake Asterisk chroot, with the packages' absolute symlinks


def _fake_root(tmp_path: Path, *, gz: bool = True) -> Path:
    root = tmp_path / "root"
    june = root / "usr/share/asterisk/sounds/fr_CA_f_June"
    (june / "digits").mkdir(parents=True)
    for name in ("vm-goodbye.wav", "auth-thankyou.gsm", "conf-errormenu.wav", "digits/1.wav"):
        (june / name).write_bytes(b"audio")
    # Not installed: privacy-thankyou, goodbye, agent-incorrect, conf-adminmenu. And a stray text file.
    (june / "goodbye.txt").write_text("not audio")
    (root / "etc/alternatives").mkdir(parents=True)
    os.symlink("/usr/share/asterisk/sounds/fr_CA_f_June", root / "etc/alternatives/asterisk-prompt-fr")
    os.symlink("/etc/alternatives/asterisk-prompt-fr", root / "usr/share/asterisk/sounds/fr")
    doc = root / "usr/share/doc/asterisk-core-sounds-fr"
    doc.mkdir(parents=True)
    if gz:
        (doc / "core-sounds-fr.txt.gz").write_bytes(gzip.compress(TRANSCRIPTS.encode("utf-8")))
    else:
        (doc / "core-sounds-fr.txt").write_text(TRANSCRIPTS, encoding="utf-8")
    return root


def test_resolve_in_root_follows_absolute_links_inside_the_chroot(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    resolved = resolve_in_root(root, PurePosixPath("/usr/share/asterisk/sounds/fr/vm-goodbye.wav"))
    assert resolved == root / "usr/share/asterisk/sounds/fr_CA_f_June/vm-goodbye.wav"
    assert resolved.is_file()


def test_resolve_in_root_detects_loops(tmp_path: Path) -> None:
    os.symlink("/b", tmp_path / "a")
    os.symlink("/a", tmp_path / "b")
    with pytest.raises(OSError, match="too many symbolic links"):
        resolve_in_root(tmp_path, PurePosixPath("/a/x"))


@pytest.mark.parametrize("gz", [True, False])
def test_read_transcripts_plain_or_gzipped(tmp_path: Path, gz: bool) -> None:
    assert read_transcripts(_fake_root(tmp_path, gz=gz))["vm-goodbye"] == "Au revoir."


def test_from_asterisk_root_keeps_only_installed_sounds(tmp_path: Path) -> None:
    catalog = RecordedCatalog.from_asterisk_root(_fake_root(tmp_path))
    assert set(catalog.texts) == {"vm-goodbye", "auth-thankyou", "conf-errormenu", "digits/1"}
    assert catalog.find("Merci") == "auth-thankyou"  # gsm only is fine: Asterisk picks the format
    assert catalog.find("Aurevoir") is None  # transcribed but not installed


def test_from_asterisk_root_without_the_packages_is_empty(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    catalog = RecordedCatalog.from_asterisk_root(tmp_path / "nowhere")
    assert len(catalog) == 0
    assert "asterisk-core-sounds-fr" in caplog.text


def test_resolve_in_root_follows_relative_links_and_never_leaves_the_root(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    sounds = root / "usr/share/asterisk/sounds"
    os.symlink("../sounds/fr_CA_f_June", sounds / "fr_CA")
    os.symlink("../../../../../../../../etc", sounds / "escape")
    assert resolve_in_root(root, PurePosixPath("/usr/share/asterisk/sounds/fr_CA/vm-goodbye.wav")).is_file()
    assert resolve_in_root(root, PurePosixPath("/usr/share/asterisk/sounds/escape")) == root / "etc"
