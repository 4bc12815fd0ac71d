"""The call flow: a pure state machine. ARI events, timer firings and operation results go in; commands come out.

Nothing here does I/O, awaits, sleeps or reads a clock, so a whole call can be replayed in a unit test.
"""

from ivr.flow.call_flow import CallFlow, CallState, HandoffReason
from ivr.flow.menu import DEFAULT_MENU_FILE, DOSSIER_TARGET, Menu, MenuChoice, MenuInvalid, load_menu
from ivr.flow.prompts import PROMPT_TEXTS

__all__ = [
    "DEFAULT_MENU_FILE",
    "DOSSIER_TARGET",
    "PROMPT_TEXTS",
    "CallFlow",
    "CallState",
    "HandoffReason",
    "Menu",
    "MenuChoice",
    "MenuInvalid",
    "load_menu",
]
