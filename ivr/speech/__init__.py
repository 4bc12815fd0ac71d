"""Speech recognition: one recogniser interface over Vosk (streaming) and faster-whisper (embedded French default)."""
