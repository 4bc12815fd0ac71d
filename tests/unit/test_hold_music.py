"""Music on hold: the credited opsound recordings when installed, else the synthesised chords; never both."""

import wave
from pathlib import Path

from ivr.asterisk.fallback_audio import MOH_FILE, write_moh


def _wav(path: Path, frames: int = 800) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * frames)


def test_the_credited_recordings_replace_the_chords(tmp_path: Path) -> None:
    recordings = tmp_path / "usr-share-moh"
    recordings.mkdir()
    _wav(recordings / "macroform-cold_day.wav")
    _wav(recordings / "reno_project-system.wav")
    _wav(recordings / "someone-else.wav")  # not one of the credited pieces: not copied
    prompts = tmp_path / "prompts"
    assert [p.name for p in write_moh(prompts, recordings_dir=tmp_path / "absent")] == [MOH_FILE]
    copied = write_moh(prompts, recordings_dir=recordings)
    assert [p.name for p in copied] == ["macroform-cold_day.wav", "reno_project-system.wav"]
    assert sorted(p.name for p in (prompts / "moh").iterdir()) == ["macroform-cold_day.wav", "reno_project-system.wav"]


def test_without_the_package_the_chords_are_written(tmp_path: Path) -> None:
    [path] = write_moh(tmp_path, recordings_dir=tmp_path / "absent")
    with wave.open(str(path)) as audio:
        assert audio.getframerate() == 8000 and audio.getnframes() > 8000
