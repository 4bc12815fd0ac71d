"""The closed answers (ivr/speech/vocabulary.py) are one list: the grammar the engines get on a yes/no question
holds every one, whisper's snap can return each, and understanding reads each as what it means."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from ivr.flow.commands import Expect
from ivr.speech.listener import CallListener
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, Result, SpeechStream
from ivr.speech.understanding import wants_human, yes_or_no
from ivr.speech.vocabulary import NO, PERSON, UNKNOWN_WORD, YES, YES_NO_GRAMMAR
from ivr.speech.whisper_engine import snap_to_grammar

CLOSED = (*YES, *NO, *PERSON)
LISTENER_TIMEOUT_S = 5.0


class _Stream:
    sample_rate = TELEPHONE_RATE_HZ

    def feed(self, pcm16: bytes) -> None:
        pass

    def partial(self) -> str:
        return ""

    def final(self) -> Result:
        return Result("", None, 0.0)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class _GrammarSpy:
    """A recogniser that only records the grammar of each stream it is asked for."""

    name = "spy"
    sample_rate = TELEPHONE_RATE_HZ

    def __init__(self) -> None:
        self.grammars: list[tuple[str, ...] | None] = []
        self.yes_no_asked = threading.Event()

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        self.grammars.append(tuple(grammar) if grammar is not None else None)
        if grammar is not None:
            self.yes_no_asked.set()
        return _Stream()


def test_the_listener_gives_the_engines_every_closed_answer_on_a_yes_no_question() -> None:
    spy = _GrammarSpy()
    listener = CallListener(spy, None, lambda _event: None, name="test-vocabulary")
    listener.start()
    listener.listen_for(Expect.YES_NO)
    assert spy.yes_no_asked.wait(LISTENER_TIMEOUT_S)
    listener.close()
    listener.join(LISTENER_TIMEOUT_S)
    assert spy.grammars[0] is None  # free speech at the start of the call
    grammar = spy.grammars[-1]
    assert grammar is not None
    assert set(CLOSED) <= set(grammar) and UNKNOWN_WORD in grammar
    assert grammar == YES_NO_GRAMMAR


@pytest.mark.parametrize("phrase", CLOSED)
def test_whisper_snaps_each_closed_answer_to_itself(phrase: str) -> None:
    assert snap_to_grammar(f"Euh… {phrase.capitalize()}, merci.", YES_NO_GRAMMAR) == phrase


@pytest.mark.parametrize("phrase", YES)
def test_each_yes_of_the_grammar_is_read_as_yes(phrase: str) -> None:
    assert (yes_or_no(phrase), wants_human(phrase)) == (True, False)


@pytest.mark.parametrize("phrase", NO)
def test_each_no_of_the_grammar_is_read_as_no(phrase: str) -> None:
    assert (yes_or_no(phrase), wants_human(phrase)) == (False, False)


@pytest.mark.parametrize("phrase", PERSON)
def test_each_request_for_a_person_of_the_grammar_is_read_so(phrase: str) -> None:
    assert (yes_or_no(phrase), wants_human(phrase)) == (None, True)
