"""Asterisk: configuration rendered from Settings, fallback audio, and the local sandbox (a Debian sid chroot).

- `config`: `AsteriskConfig.from_settings(...)` and `render_config(...)`, the files of /etc/asterisk.
- `fallback_audio`: the French prompts and music on hold the dialplan plays when the ARI app is down.
- `sandbox`: `hotline asterisk up | down | status`.
"""
