"""scripts/enable-debian-non-free on sample APT configurations (APT_SOURCES_DIR points it at a copy)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "enable-debian-non-free"

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
THIRD_PARTY = "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n"
ONE_LINE = """\
# the mirror of this machine
deb http://ftp.fr.debian.org/debian/ trixie main contrib
deb [signed-by=/usr/share/keyrings/debian.gpg] http://security.debian.org/debian-security trixie-security main
deb-src http://ftp.fr.debian.org/debian/ trixie main
deb http://apt.example.org/ stable main
"""


def run(apt: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APT_SOURCES_DIR": str(apt)}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False)


def apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_deb822_entries_are_copied_with_non_free_only_for_debian(tmp_path: Path) -> None:
    apt = apt_dir(tmp_path, {"sources.list.d/debian.sources": DEB822, "sources.list.d/node.sources": THIRD_PARTY})
    r = run(apt)
    assert (r.returncode, r.stdout.strip()) == (0, "changed"), r.stderr
    written = (apt / "sources.list.d/hotline-non-free.sources").read_text(encoding="utf-8")
    stanzas = [s for s in written.split("\n\n") if "URIs:" in s]
    assert len(stanzas) == 2 and "nodesource" not in written and "snapshot" not in written
    for stanza, suites in zip(stanzas, ["bookworm bookworm-updates", "bookworm-security"], strict=True):
        assert f"Suites: {suites}" in stanza and stanza.rstrip().endswith("Components: non-free")
        assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in stanza and "main" not in stanza
    assert (apt / "sources.list.d/debian.sources").read_text(encoding="utf-8") == DEB822  # left as it was
    again = run(apt)
    assert (again.returncode, again.stdout) == (0, "")  # a second run only checks


def test_one_line_sources_list(tmp_path: Path) -> None:
    apt = apt_dir(tmp_path, {"sources.list": ONE_LINE})
    r = run(apt)
    assert (r.returncode, r.stdout.strip()) == (0, "changed"), r.stderr
    lines = (apt / "sources.list.d/hotline-non-free.list").read_text(encoding="utf-8").splitlines()[1:]
    assert lines == [
        "deb http://ftp.fr.debian.org/debian/ trixie non-free",
        "deb [signed-by=/usr/share/keyrings/debian.gpg] http://security.debian.org/debian-security"
        " trixie-security non-free",
    ]
    assert run(apt).stdout == ""


def test_already_enabled_writes_nothing_but_non_free_firmware_is_not_non_free(tmp_path: Path) -> None:
    enabled = apt_dir(tmp_path / "a", {"sources.list.d/debian.sources": DEB822.replace("main", "main non-free")})
    assert (run(enabled).returncode, run(enabled).stdout) == (0, "")
    assert not (enabled / "sources.list.d/hotline-non-free.sources").exists()
    firmware = apt_dir(
        tmp_path / "b", {"sources.list.d/debian.sources": DEB822.replace("main", "main non-free-firmware")}
    )
    assert run(firmware).stdout.strip() == "changed"


def test_no_debian_entry_is_an_error(tmp_path: Path) -> None:
    apt = apt_dir(tmp_path, {"sources.list.d/node.sources": THIRD_PARTY})
    r = run(apt)
    assert r.returncode == 1 and "no Debian archive entry" in r.stderr
    assert list((apt / "sources.list.d").iterdir()) == [apt / "sources.list.d/node.sources"]
