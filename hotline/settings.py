"""One Settings object for the whole service, read from HOTLINE_* environment variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KB_PATH = PACKAGE_ROOT / "kb" / "content"
DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Every tunable of the service. Environment: HOTLINE_<NAME>, e.g. HOTLINE_DATABASE_URL."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder for the SQLite file, caches and recordings.")
    database_url: str = Field(
        "", description="SQLAlchemy URL. Empty means SQLite in WAL mode at <data_dir>/hotline.db."
    )

    # Web
    host: str = Field("127.0.0.1", description="Address the web app and API listen on.")
    port: int = Field(8000, description="Port of the web app and API.")

    # Telephony (Asterisk ARI)
    ari_url: str = Field("http://127.0.0.1:8088/ari", description="Base URL of Asterisk's ARI.")
    ari_user: str = Field("hotline", description="ARI user (ari.conf).")
    ari_password: SecretStr = Field(SecretStr("hotline"), description="ARI password (ari.conf).")
    ari_app: str = Field("hotline", description="Stasis application name used in the dialplan.")
    toll_free_number: str = Field("0800123456", description="The numéro vert the dialplan routes to the app.")

    # Knowledge base
    kb_path: Path = Field(DEFAULT_KB_PATH, description="Folder of KB YAML files, one file per topic.")
    match_threshold: float | None = Field(
        None, description="Override of the calibrated fused-score threshold (0-1); empty uses the calibrated one."
    )

    # Speech
    vosk_model_path: Path | None = Field(None, description="Folder of a Vosk model; empty uses the embedded default.")
    whisper_model_path: Path | None = Field(
        None, description="Folder of a CTranslate2 Whisper model (embedded French default)."
    )

    # Locale
    timezone: str = Field("Europe/Paris", description="Time zone for opening hours, reports and dashboards.")

    def effective_database_url(self) -> str:
        """The database URL in use: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own Settings instead)."""
    return Settings()
