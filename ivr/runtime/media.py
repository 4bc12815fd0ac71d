"""The flow's media items as Asterisk media URIs, through the prompt resolver (recorded prompts, TTS cache)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ivr.flow import commands as cmd
from ivr.prompts.resolver import Part, PromptResolver


class PromptMedia:
    """MediaResolver over PromptResolver: one playback's items in one voice (see PromptResolver.one_voice).

    Catalog prompts, the flow's usual combinations and the answers are warmed at start-up, so resolving them
    is a file lookup done inline; anything else (free text, a dossier number) is synthesised in a worker thread.
    """

    def __init__(self, resolver: PromptResolver) -> None:
        self.resolver = resolver

    async def resolve_all(self, items: Sequence[cmd.Media]) -> list[str]:
        parts = [self._part(item) for item in items]
        ready = self.resolver.ready(parts)
        if ready is not None:
            return ready
        return await asyncio.to_thread(self.resolver.one_voice, parts)

    def _part(self, item: cmd.Media) -> Part:
        match item:
            case cmd.Prompt(key=key):
                return self.resolver.prompt_part(key)
            case cmd.Say(text=text):
                return self.resolver.say_part(text)
            case cmd.Digits(digits=digits):
                return self.resolver.digits_part(digits)
            case cmd.Number(n=n):
                return self.resolver.number_part(n)
            case cmd.FaqAnswer(faq_id=faq_id):
                return self.resolver.faq_answer_part(faq_id)
            case cmd.Sound(name=name):
                return self.resolver.sound_part(name)
        raise TypeError(f"unknown media item {item!r}")
