"""Secrets generated at first start when none is configured: kept in the data folder, readable by its owner only.

No known default credential exists anywhere: an ARI password that is not set (HOTLINE_ARI_PASSWORD) is drawn once
and written to `<data_dir>/secrets.json` (mode 0600); every later process with the same data folder (`hotline
asterisk up`, `hotline serve`, `hotline agent ...`) reads the same value.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

SECRETS_FILE = "secrets.json"
SECRET_BYTES = 24  # 32 URL-safe characters: far beyond guessing, and safe in every config file we write
SIP_PASSWORD_BYTES = 18  # 24 characters, typed once into a softphone


class SecretsError(RuntimeError):
    pass


def new_secret(nbytes: int = SECRET_BYTES) -> str:
    return secrets.token_urlsafe(nbytes)


def stored_secret(data_dir: Path, name: str) -> str:
    """The secret `name` of this data folder, drawn and kept on first use (two processes starting at once
    agree: the file is created exclusively, and a loser reads the winner's)."""
    path = data_dir / SECRETS_FILE
    values = _read(path)
    if name in values:
        return values[name]
    data_dir.mkdir(parents=True, exist_ok=True)
    values[name] = new_secret()
    _write(path, values)
    return _read(path)[name]


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SecretsError(f"{path} is not valid JSON ({exc}); fix or remove it") from exc
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise SecretsError(f"{path} must hold one JSON object of strings")
    return values


def _write(path: Path, values: dict[str, str]) -> None:
    """Write through a private temporary file, then rename: never a half-written or world-readable file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(values, out, indent=2, sort_keys=True)
            out.write("\n")
        if path.exists():
            os.replace(tmp, path)  # adding a name to an existing file
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # first creation: whoever links first wins
    finally:
        tmp.unlink(missing_ok=True)
    os.chmod(path, 0o600)
