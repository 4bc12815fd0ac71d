"""The human French recordings Asterisk ships (asterisk-core-sounds-fr), found by what they say.

The Debian package asterisk-core-sounds-fr puts the transcripts in
/usr/share/doc/asterisk-core-sounds-fr/core-sounds-fr.txt.gz, one `name: text` line per sound (`;` starts a
comment), and asterisk-core-sounds-fr-wav/-gsm put the audio in /usr/share/asterisk/sounds/fr_CA_f_June,
which /usr/share/asterisk/sounds/fr points to (through /etc/alternatives). Asterisk plays them as
`sound:<name>` on a channel whose language is fr. Voice and licence: see README.md in this folder.

A catalog sentence is played from a recording only when the whole text matches a transcript, ignoring
case, accents and punctuation; never a recording for part of a sentence, as switching voices mid-sentence
confuses callers.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

SOUNDS_DIR = PurePosixPath("/usr/share/asterisk/sounds")
TRANSCRIPTS_DOC_DIR = PurePosixPath("/usr/share/doc/asterisk-core-sounds-fr")
TRANSCRIPTS_NAME = "core-sounds-fr.txt"
# Formats Asterisk can play that the core-sounds packages ship; any one present makes a sound available.
SOUND_EXTENSIONS = (".wav", ".gsm", ".ulaw", ".alaw", ".g722", ".sln16", ".g729")
MAX_SYMLINK_HOPS = 40  # the kernel's own limit; more means a loop

_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")
# Transcripts of sounds that are not speech: "[ascending tones]", "(ahooga)".
_NON_SPEECH = re.compile(r"^\s*[\[(].*[\])]\s*$")


def normalise_sentence(text: str) -> str:
    """Compare key: lower case, no accents, no punctuation, single spaces ("Au revoir !" → "au revoir")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    no_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.sub(r"[^\w]+", " ", no_accents).replace("_", " ")
    return " ".join(words.split())


def parse_transcripts(text: str) -> dict[str, str]:
    """`name: text` lines into name → text, skipping comments, empty transcripts and non-speech sounds."""
    catalog: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";") or ":" not in line:
            continue
        name, _, spoken = line.partition(":")
        name, spoken = name.strip(), spoken.strip().strip('“”"').strip()
        if not _NAME.match(name) or not spoken or _NON_SPEECH.match(spoken):
            continue
        catalog.setdefault(name, spoken)  # the first line wins, as in the package
    return catalog


def resolve_in_root(root: Path, path: PurePosixPath) -> Path:
    """The host path of `path` as seen inside the chroot `root`, following symlinks within the chroot.

    The packages' links are absolute (sounds/fr → /etc/alternatives/... → /usr/share/...): followed from
    the host they would leave the chroot.
    """
    parts = list(path.relative_to("/").parts)
    current = root
    hops = 0
    while parts:
        current = current / parts.pop(0)
        if current.is_symlink():
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise OSError(f"too many symbolic links under {root} at {path}")
            target = PurePosixPath(os.readlink(current))
            if target.is_absolute():
                parts = list(target.relative_to("/").parts) + parts
                current = root
            else:
                parts = list(target.parts) + parts
                current = current.parent
        elif current.name == "..":
            current = current.parent.parent if current.parent != root else root
    return current


def read_transcripts(root: Path) -> dict[str, str]:
    """The transcripts file of the chroot (plain or gzipped), parsed. Raises FileNotFoundError."""
    folder = resolve_in_root(root, TRANSCRIPTS_DOC_DIR)
    for candidate in (folder / TRANSCRIPTS_NAME, folder / f"{TRANSCRIPTS_NAME}.gz"):
        if candidate.is_file():
            raw = gzip.decompress(candidate.read_bytes()) if candidate.suffix == ".gz" else candidate.read_bytes()
            return parse_transcripts(raw.decode("utf-8", "replace"))
    raise FileNotFoundError(f"no {TRANSCRIPTS_NAME}[.gz] in {folder} (Debian package asterisk-core-sounds-fr)")


def available_sounds(sounds_dir: Path, names: Iterable[str]) -> set[str]:
    """The names among `names` with an audio file in `sounds_dir` in a format Asterisk plays."""
    return {name for name in names if any((sounds_dir / f"{name}{ext}").is_file() for ext in SOUND_EXTENSIONS)}


@dataclass(frozen=True)
class RecordedCatalog:
    """Recorded sounds by name, with what they say. Empty when the sounds are not installed."""

    texts: Mapping[str, str] = field(default_factory=dict)
    _index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        # Several sounds may say the same thing: the shortest name, then alphabetical, wins (stable choice).
        for name in sorted(self.texts, key=lambda n: (len(n), n)):
            key = normalise_sentence(self.texts[name])
            if key:
                index.setdefault(key, name)
        object.__setattr__(self, "_index", index)

    @classmethod
    def empty(cls) -> RecordedCatalog:
        return cls({})

    @classmethod
    def from_asterisk_root(cls, root: Path, language: str = "fr") -> RecordedCatalog:
        """The recordings installed in an Asterisk filesystem (`/` in production, the sandbox chroot here).

        Only sounds both transcribed and present in sounds/<language> are kept. Missing packages give an
        empty catalog and a warning: every sentence then goes to TTS, and calls still work.
        """
        try:
            texts = read_transcripts(root)
        except (OSError, UnicodeError) as exc:
            log.warning("no recorded French prompts, TTS for everything: %s", exc)
            return cls.empty()
        sounds_dir = resolve_in_root(root, SOUNDS_DIR / language)
        present = available_sounds(sounds_dir, texts)
        if not present:
            log.warning("no recorded French prompts in %s, TTS for everything", sounds_dir)
        return cls({name: texts[name] for name in sorted(present)})

    def __len__(self) -> int:
        return len(self.texts)

    def find(self, sentence: str) -> str | None:
        """The name of a recording saying exactly this sentence (case, accents, punctuation aside), or None."""
        key = normalise_sentence(sentence)
        return self._index.get(key) if key else None

    def uri(self, name: str) -> str:
        """The Asterisk media URI of a recording (played in the channel's language, fr)."""
        if name not in self.texts:
            raise KeyError(f"no recorded sound named {name!r}")
        return f"sound:{name}"
