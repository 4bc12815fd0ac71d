"""Prompt audio: recorded French prompts where a human recording exists, cached TTS for the rest.

- `french_text`: French text written out for a synthesiser (times, phone numbers, euros, acronyms…).
- `tts`: the TTS engine interface, the Pico (default) and espeak-ng French engines (8 kHz 16-bit mono WAV out).
- `cache`: the on-disk TTS cache, keyed by (engine, voice, prepared text), written atomically; gives Asterisk
  media URIs.
- `recorded`: the asterisk-core-sounds-fr catalog (transcripts), to prefer a human voice on exact matches.
- `resolver`: turns the flow's media items (prompt key, free text, digits, number, FAQ answer) into URIs.
"""
