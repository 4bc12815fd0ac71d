"""The crisis pre-announcement as staff prepare it: a typed sentence previewed in the hotline's own voice, or a
recording they upload, checked and converted to the phone format. Both land in the prompts folder that
Asterisk plays from, so what staff hear is what callers will hear."""

from __future__ import annotations

import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from ivr.prompts.cache import RECORDED_SUBDIR, WAV_SUFFIX, TtsCache
from ivr.prompts.tts import TtsError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ANNOUNCEMENT_S = 120.0  # a pre-announcement every caller hears before the menu must stay short
MIN_ANNOUNCEMENT_S = 0.5
MAX_PREVIEW_CHARS = 1000


class AnnouncementError(ValueError):
    """Why a text or a file cannot be the pre-announcement, in French for the supervisor."""


@dataclass(frozen=True)
class ImportedRecording:
    name: str  # as the flow names it: recorded/<key>
    seconds: float


def _seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as rendered:
        return rendered.getnframes() / rendered.getframerate()


class AnnouncementStudio:
    def __init__(self, cache: TtsCache) -> None:
        self.cache = cache

    def preview(self, text: str) -> bytes:
        """The WAV a caller will hear for `text` (8 kHz mono 16-bit, the IVR's cache and voice)."""
        if not text.strip():
            raise AnnouncementError("Le message est vide.")
        if len(text) > MAX_PREVIEW_CHARS:
            raise AnnouncementError(f"Le message dépasse {MAX_PREVIEW_CHARS} caractères.")
        try:
            self.cache.get(text)
            return self.cache.path_for(text).read_bytes()
        except TtsError as exc:
            raise AnnouncementError(f"La synthèse vocale a échoué : {exc}") from exc

    def import_recording(self, data: bytes, filename: str) -> ImportedRecording:
        """Check and convert an uploaded recording (WAV, MP3, FLAC, Ogg: what sox reads) to the phone format."""
        if not data:
            raise AnnouncementError("Le fichier est vide.")
        if len(data) > MAX_UPLOAD_BYTES:
            raise AnnouncementError(f"Le fichier dépasse {MAX_UPLOAD_BYTES // (1024 * 1024)} Mo.")
        suffix = Path(filename).suffix.lower() if Path(filename).suffix else ".wav"
        with tempfile.TemporaryDirectory(prefix="hotline-upload-") as work:
            source = Path(work) / f"upload{suffix}"
            source.write_bytes(data)
            try:
                uri = self.cache.import_audio(source)
            except TtsError as exc:
                raise AnnouncementError(
                    "Ce fichier n'est pas un enregistrement lisible (formats acceptés : WAV, MP3, FLAC, Ogg)."
                ) from exc
        key = uri.rsplit("/", 1)[-1]
        path = self.cache.folder / RECORDED_SUBDIR / f"{key}{WAV_SUFFIX}"
        seconds = _seconds(path)
        if not MIN_ANNOUNCEMENT_S <= seconds <= MAX_ANNOUNCEMENT_S:
            path.unlink(missing_ok=True)
            raise AnnouncementError(
                f"L'enregistrement dure {seconds:.1f} s : il doit durer entre {MIN_ANNOUNCEMENT_S:g} s "
                f"et {MAX_ANNOUNCEMENT_S:.0f} s."
            )
        return ImportedRecording(f"{RECORDED_SUBDIR}/{key}", round(seconds, 1))

    def recording(self, name: str) -> bytes | None:
        """An imported recording's WAV (None if there is none by that name), for the supervisor to listen."""
        folder, _, key = name.partition("/")
        if folder != RECORDED_SUBDIR or not key.isalnum():
            return None
        path = self.cache.folder / RECORDED_SUBDIR / f"{key}{WAV_SUFFIX}"
        return path.read_bytes() if path.is_file() else None
