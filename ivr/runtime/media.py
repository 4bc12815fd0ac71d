"""The flow's media items as Asterisk media URIs, through the prompt resolver (recorded prompts, TTS cache)."""

from __future__ import annotations

import asyncio

from ivr.flow import commands as cmd
from ivr.prompts.resolver import PromptResolver


class PromptMedia:
    """MediaResolver over PromptResolver. Catalog prompts and answers are warmed at start-up, so resolving
    them is a file lookup done inline; free text (Say) may need synthesis, so it runs in a worker thread."""

    def __init__(self, resolver: PromptResolver) -> None:
        self.resolver = resolver

    async def resolve(self, item: cmd.Media) -> list[str]:
        match item:
            case cmd.Prompt(key=key):
                return self.resolver.prompt(key)
            case cmd.Say(text=text):
                return await asyncio.to_thread(self.resolver.say, text)
            case cmd.Digits(digits=digits):
                return self.resolver.digits(digits)
            case cmd.Number(n=n):
                return self.resolver.number(n)
            case cmd.FaqAnswer(faq_id=faq_id):
                return self.resolver.faq_answer(faq_id)
        raise TypeError(f"unknown media item {item!r}")
