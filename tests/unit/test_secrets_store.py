"""Secrets generated at first start: drawn once, kept 0600 in the data folder, the same for every process."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from hotline.secrets_store import SECRETS_FILE, SecretsError, stored_secret
from hotline.settings import Settings


def test_a_secret_is_drawn_once_and_kept_private(tmp_path: Path) -> None:
    data = tmp_path / "var"  # does not exist yet
    first = stored_secret(data, "ari_password")
    assert len(first) >= 32
    path = data / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_secret(data, "ari_password") == first
    other = stored_secret(data, "another")
    assert other != first and stored_secret(data, "ari_password") == first
    assert not list(data.glob(".*.tmp")), "no temporary file left"


def test_two_data_folders_have_different_secrets(tmp_path: Path) -> None:
    assert stored_secret(tmp_path / "a", "ari_password") != stored_secret(tmp_path / "b", "ari_password")


def test_a_broken_secrets_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / SECRETS_FILE).write_text("{not json")
    with pytest.raises(SecretsError, match="not valid JSON"):
        stored_secret(tmp_path, "ari_password")


def test_settings_use_the_configured_ari_password_or_the_generated_one(tmp_path: Path) -> None:
    configured = Settings(_env_file=None, data_dir=tmp_path, ari_password=SecretStr("from-env"))
    assert configured.ari_secret() == "from-env"
    assert not (tmp_path / SECRETS_FILE).exists(), "nothing generated when one is set"
    generated = Settings(_env_file=None, data_dir=tmp_path)
    assert generated.ari_password is None
    assert generated.ari_secret() == Settings(_env_file=None, data_dir=tmp_path).ari_secret()
    assert generated.ari_secret() not in ("hotline", "")
