"""The audio the dialplan plays on its own, when the ARI app is down: three French prompts and music on hold.

- Prompts: spoken by espeak-ng, converted by sox to what Asterisk's format_wav reads (8 kHz, 16-bit, mono), in
  <prompts dir>/fallback/<name>.wav with the text beside it in <name>.txt. If espeak-ng or sox is missing the
  dialplan still works: it falls back to recorded prompts of asterisk-core-sounds-fr (im-sorry, tt-allbusy,
  vm-intro, vm-msgsaved, vm-goodbye).
- Music on hold: the five instrumental pieces of Debian's `asterisk-moh-opsound-wav` (Asterisk's own opsound
  selection, CC BY-SA 3.0, credited in ivr/asterisk/README.md), copied into <prompts dir>/moh/; without that
  package, a calm chord progression synthesised here (numpy). It is the `default` class of musiconhold.conf,
  heard in the agents' queue and in the fallback queue.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.asterisk.config import FALLBACK_PROMPTS_SUBDIR, MOH_SUBDIR

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000  # what format_wav plays without transcoding on a G.711 call
PROMPT_TEXTS: dict[str, str] = {
    "apology": (
        "Bonjour, vous êtes bien au numéro vert de la ville. Notre service vocal est momentanément "
        "indisponible, veuillez nous en excuser. Nous vous mettons en relation avec un conseiller, "
        "merci de patienter."
    ),
    "leave-message": (
        "Aucun conseiller n'est disponible pour le moment. Après le bip, laissez votre nom, votre numéro "
        "de téléphone et votre message, puis raccrochez. Nous vous rappellerons."
    ),
    "goodbye": "Votre message a bien été enregistré. Merci de votre appel, et au revoir.",
}
ESPEAK_VOICE = "fr"
ESPEAK_WORDS_PER_MINUTE = 150  # slower than espeak's 175: many callers are elderly, and G.711 blurs speech
PROMPT_PEAK_DBFS = -3  # loud enough over a phone line, with headroom for the codec
PROMPT_PAD_S = (0.2, 0.3)  # lead-in so the first syllable survives the start of the RTP stream; short tail

OPSOUND_DIR = Path("/usr/share/asterisk/moh")  # where asterisk-moh-opsound-wav puts them (8 kHz, 16-bit, mono)
OPSOUND_ARTISTS = frozenset({"macroform", "manolo_camp", "reno_project"})  # its credited pieces, nothing else
MOH_FILE = "hotline-chords-v1.wav"  # versioned: a new synthesis gets a new name, old files are replaced
MOH_CHORD_S = 3.0  # one chord every 3 s: slow enough to be calm, fast enough to show the line is alive
MOH_LEVEL = 0.12  # peak amplitude (about -18 dBFS): background music, well under the prompts
# C major, A minor, F major, G major (Hz): a progression everyone has heard, played as soft sine chords
MOH_CHORDS: tuple[tuple[float, ...], ...] = (
    (261.63, 329.63, 392.00),
    (220.00, 261.63, 329.63),
    (174.61, 220.00, 261.63),
    (196.00, 246.94, 293.66),
)


class FallbackAudioError(RuntimeError):
    """A tool to make the prompts is missing or failed."""


@dataclass(frozen=True)
class FallbackAudio:
    """What was written, for the `up` report."""

    prompts: list[Path]
    moh: list[Path]
    skipped_reason: str | None = None


def _write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = np.clip(samples * 32767.0, -32768, 32767).astype("<i2")
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    tmp.replace(path)


def moh_samples(seconds_per_chord: float = MOH_CHORD_S) -> np.ndarray:
    """One loop of the hold music: each chord fades in and out over the next, so there is never a gap."""
    n = int(seconds_per_chord * SAMPLE_RATE)
    fade = int(0.25 * SAMPLE_RATE)
    t = np.arange(n + fade) / SAMPLE_RATE
    envelope = np.ones(n + fade)
    envelope[:fade] = np.linspace(0.0, 1.0, fade)
    envelope[-fade:] = np.linspace(1.0, 0.0, fade)
    total = np.zeros(n * len(MOH_CHORDS) + fade)
    for i, chord in enumerate(MOH_CHORDS):
        tone = sum(np.sin(2 * np.pi * f * t) * (0.8**k) for k, f in enumerate(chord))
        tone = tone / np.max(np.abs(tone))
        total[i * n : i * n + n + fade] += tone * envelope
    total[:fade] += total[-fade:]  # the tail of the last chord wraps onto the start: a seamless loop
    result: np.ndarray = total[: n * len(MOH_CHORDS)] * MOH_LEVEL
    return result


def write_moh(prompts_dir: Path, recordings_dir: Path = OPSOUND_DIR) -> list[Path]:
    """The default music-on-hold class's files: the credited recordings when installed, else the synthesised
    chords (written once; they are deterministic). Only one kind is left in the folder: Asterisk plays them all."""
    folder = prompts_dir / MOH_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    recordings = sorted(r for r in recordings_dir.glob("*.wav") if r.name.split("-")[0] in OPSOUND_ARTISTS)
    if not recordings:
        log.warning(
            "music on hold: %s has no recordings (Debian: asterisk-moh-opsound-wav); chords instead", recordings_dir
        )
        path = folder / MOH_FILE
        if not path.exists():
            _write_wav(path, moh_samples())
        return [path]
    (folder / MOH_FILE).unlink(missing_ok=True)
    copied = []
    for recording in recordings:
        target = folder / recording.name
        if not target.exists() or target.stat().st_size != recording.stat().st_size:
            shutil.copyfile(recording, target)
        copied.append(target)
    return copied


def _speak(text: str, out: Path) -> None:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        missing = " and ".join(name for name, tool in [("espeak-ng", espeak), ("sox", sox)] if tool is None)
        raise FallbackAudioError(f"{missing} not installed (Debian: apt-get install espeak-ng sox)")
    with tempfile.TemporaryDirectory(prefix="hotline-tts-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        steps = [
            [espeak, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_WORDS_PER_MINUTE), "-w", str(raw), text],
            [sox, str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(Path(tmp) / "out.wav"),
             "norm", str(PROMPT_PEAK_DBFS), "pad", str(PROMPT_PAD_S[0]), str(PROMPT_PAD_S[1])],
        ]  # fmt: skip
        for command in steps:
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
            if done.returncode != 0:
                raise FallbackAudioError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}")
        shutil.move(str(Path(tmp) / "out.wav"), out)


def write_prompts(prompts_dir: Path) -> list[Path]:
    """Speak the fallback prompts into <prompts_dir>/fallback/, skipping those whose text has not changed."""
    folder = prompts_dir / FALLBACK_PROMPTS_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in PROMPT_TEXTS.items():
        wav, transcript = folder / f"{name}.wav", folder / f"{name}.txt"
        current = transcript.read_text(encoding="utf-8").strip() if transcript.exists() else None
        if not wav.exists() or current != text:
            _speak(text, wav)
            transcript.write_text(text + "\n", encoding="utf-8")
        written.append(wav)
    return written


def write_fallback_audio(prompts_dir: Path) -> FallbackAudio:
    """Music on hold always; the spoken prompts when espeak-ng and sox are there (else the recorded ones play)."""
    moh = write_moh(prompts_dir)
    try:
        prompts = write_prompts(prompts_dir)
    except FallbackAudioError as exc:
        return FallbackAudio(prompts=[], moh=moh, skipped_reason=str(exc))
    return FallbackAudio(prompts=prompts, moh=moh)


def wav_seconds(path: Path) -> float:
    """Duration of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
