"""Telephony: ARI client, call flow, media, speech, prompts."""
