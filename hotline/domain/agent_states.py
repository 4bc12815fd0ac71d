"""Which agent state changes are allowed, and which of them an agent may ask for.

offline ⇄ available ⇄ paused; available → ringing (offered a caller) → on_call (answered) → wrap_up → available.
A phone not answered puts the agent in paused ("appel manqué"). An agent cannot leave a call by a state change
(they hang up), and wrap-up ends by its timer or on request.
"""

from __future__ import annotations

from hotline.domain.enums import AgentState

A = AgentState
ALLOWED: dict[AgentState, frozenset[AgentState]] = {
    A.OFFLINE: frozenset({A.AVAILABLE, A.PAUSED}),
    A.AVAILABLE: frozenset({A.RINGING, A.PAUSED, A.OFFLINE}),
    A.RINGING: frozenset({A.ON_CALL, A.AVAILABLE, A.PAUSED, A.OFFLINE}),
    A.ON_CALL: frozenset({A.WRAP_UP}),
    A.WRAP_UP: frozenset({A.AVAILABLE, A.PAUSED, A.OFFLINE, A.RINGING}),
    A.PAUSED: frozenset({A.AVAILABLE, A.OFFLINE}),
}
# What an agent may ask for from the console or the API (the others follow the calls).
REQUESTABLE = frozenset({A.AVAILABLE, A.PAUSED, A.OFFLINE})
MISSED_CALL_REASON = "appel manqué"
DEFAULT_PAUSE_REASONS = ("pause", "réunion", "formation", "tâche administrative", MISSED_CALL_REASON)


class AgentStateError(ValueError):
    """A change the rules refuse; the message says why, in terms an agent understands."""


def check_transition(current: AgentState, new: AgentState) -> None:
    if new is current:
        return
    if new not in ALLOWED[current]:
        raise AgentStateError(f"impossible de passer de « {FRENCH_STATES[current]} » à « {FRENCH_STATES[new]} »")


def check_request(current: AgentState, new: AgentState, reason: str | None, pause_reasons: tuple[str, ...]) -> None:
    """An agent's own request: only available, paused (with a known reason) or offline, never during a call."""
    if new not in REQUESTABLE:
        raise AgentStateError(
            f"« {FRENCH_STATES[new]} » ne se demande pas : choisissez disponible, en pause ou hors ligne"
        )
    if current in (A.RINGING, A.ON_CALL):
        raise AgentStateError(f"pas pendant un appel ({FRENCH_STATES[current]}) : terminez-le d'abord")
    if new is A.PAUSED and reason not in pause_reasons:
        raise AgentStateError(f"une pause demande un motif parmi : {', '.join(pause_reasons)}")
    if new is not A.PAUSED and reason is not None:
        raise AgentStateError("seule une pause prend un motif")
    check_transition(current, new)


# How the console and the wallboard name each state.
FRENCH_STATES: dict[AgentState, str] = {
    AgentState.OFFLINE: "hors ligne",
    AgentState.AVAILABLE: "disponible",
    AgentState.RINGING: "appel en présentation",
    AgentState.ON_CALL: "en communication",
    AgentState.WRAP_UP: "en fin d'appel",
    AgentState.PAUSED: "en pause",
}
