"""The prompt catalog: every key the flow plays with Prompt(key), and its French text.

Another tool turns these texts into audio (recorded by staff, or TTS cached on disk). The callers are often
elderly or stressed: short sentences, one instruction each, the key to press said last.
"""

from __future__ import annotations

from hotline.domain.enums import TicketStatus
from ivr.flow.menu import DEFAULT_MENU_FILE, read_menu_prompt

TICKET_STATUS_PREFIX = "ticket_status."


def ticket_status_key(status: TicketStatus) -> str:
    """The prompt key of the sentence that tells a caller where a ticket stands."""
    return f"{TICKET_STATUS_PREFIX}{status.value}"


_TICKET_STATUS_TEXTS: dict[TicketStatus, str] = {
    TicketStatus.OPEN: "Votre demande a bien été enregistrée. Elle sera traitée prochainement.",
    TicketStatus.IN_PROGRESS: "Votre demande est en cours de traitement.",
    TicketStatus.WAITING_CALLBACK: "Votre demande est enregistrée. Un conseiller va vous rappeler.",
    TicketStatus.RESOLVED: "Votre demande a été traitée.",
    TicketStatus.ESCALATED: "Votre demande a été transmise au service concerné de la ville, qui s'en occupe.",
    TicketStatus.CLOSED: "Votre demande est terminée, et son dossier est fermé.",
}

PROMPT_TEXTS: dict[str, str] = {
    "greeting": "Bienvenue au numéro vert de la ville d'Aurevault. Votre appel est gratuit.",
    "speech_hint": (
        "Dites-nous en quelques mots l'objet de votre appel, ou faites votre choix sur le clavier de votre téléphone."
    ),
    "menu": read_menu_prompt(DEFAULT_MENU_FILE),
    "call_resumed": "Veuillez nous excuser, nous reprenons votre appel.",
    "no_input": "Je n'ai pas reçu votre réponse.",
    "invalid": "Ce choix n'est pas valide.",
    "no_match": "Je n'ai pas bien compris votre demande.",
    "not_handled": "Je n'ai pas de réponse à cette question.",
    "not_handled_next": "Vous pouvez poser une autre question. Pour parler à un conseiller, tapez 0.",
    # "Si oui, tapez 1": "pour oui" runs together in a synthetic voice ("pourrouille"), "si oui" does not.
    "confirm": "Est-ce que cette réponse vous a aidé ? Si oui, tapez 1. Si non, tapez 2.",
    "confirm_speech": (
        "Est-ce que cette réponse vous a aidé ? Répondez oui, ou non. Ou bien, si oui, tapez 1. Si non, tapez 2."
    ),
    "yes_or_no": "Répondez oui, ou non. Ou bien, si oui, tapez 1. Si non, tapez 2.",
    "goodbye": "Merci de votre appel. Au revoir.",
    "dossier_enter": (
        "Tapez votre numéro de dossier à 8 chiffres, puis la touche dièse. Pour parler à un conseiller, tapez 0."
    ),
    "dossier_invalid": "Ce numéro de dossier n'est pas valide.",
    "dossier_incomplete": "Ce numéro de dossier est incomplet : il a 8 chiffres.",
    "dossier_not_found": "Nous ne trouvons aucune demande avec ce numéro de dossier.",
    "dossier_status_intro": "Pour le dossier numéro",
    **{ticket_status_key(status): text for status, text in _TICKET_STATUS_TEXTS.items()},
    "anything_else": (
        "Pour revenir au menu, tapez 1. Pour parler à un conseiller, tapez 0. Sinon, vous pouvez raccrocher."
    ),
    "human_stub": (
        "Tous nos conseillers sont occupés. Votre demande est enregistrée et un conseiller vous rappellera."
    ),
    "queue_joined": "Nous vous mettons en relation avec un conseiller. Merci de patienter.",
    "no_agent_now": "Aucun conseiller n'est disponible pour le moment.",
    "queue_callback_key": "Pour être rappelé par un conseiller, tapez 1.",
    "queue_long_wait": "Le temps d'attente est plus long que prévu.",  # "se prolonge" was heard "se proulonge"
    "queue_callback_taken": "C'est noté : un conseiller vous rappellera.",
    "queue_message_key": "Pour laisser un message, tapez 2.",
    # "puis tapez dièse" came back "fit à pédiaise" from whisper-base; the project's "appuyez sur la touche" is heard
    "message_intro": "Après le bip, laissez votre message. Quand vous avez fini, appuyez sur la touche dièse.",
    "message_kept": "Votre message est enregistré. Un conseiller le traitera.",
    "transfer_to_agent": "Je vous transfère à un autre conseiller. Merci de patienter.",
    "transfer_to_service": "Je vous mets en relation avec le service concerné. Merci de patienter.",
    "transfer_failed": "Le service ne répond pas. Un conseiller va reprendre votre appel, merci de patienter.",
    "your_dossier_is": "Votre numéro de dossier est le",
    "technical_problem": (
        "Nous rencontrons un problème technique et ne pouvons pas enregistrer votre demande. "
        "Merci de rappeler dans quelques minutes."
    ),
}


def queue_position_text(position: int, wait_minutes: int | None) -> str:
    """The waiting caller's position, and the expected wait when one has been measured ("3e" is read
    "troisième" by the text preparation)."""
    where = "Vous êtes le prochain." if position <= 1 else f"Vous êtes le {position}e dans la file d'attente."
    if wait_minutes is None:
        return where
    unit = "minute" if wait_minutes == 1 else "minutes"
    return f"{where} Votre attente est estimée à {wait_minutes} {unit}."


# Catalog keys the flow plays together as one playback: one voice per playback means each is synthesised as
# one sentence, so they are warmed at start-up like the single prompts. A reprompt is the failure's prompt,
# then the state's prompt again (CallFlow._fail and _reprompt_media).
_MENUS: tuple[tuple[str, ...], ...] = (("menu",), ("speech_hint", "menu"))
_REPROMPTS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("no_input", "invalid", "no_match"), ("menu",)),
    (("no_input", "invalid", "no_match"), ("speech_hint", "menu")),
    (("no_input", "invalid", "no_match"), ("confirm",)),
    (("no_input", "invalid", "no_match"), ("confirm_speech",)),
    (("no_input", "invalid", "dossier_invalid", "dossier_incomplete", "dossier_not_found"), ("dossier_enter",)),
    (("no_input", "invalid"), ("anything_else",)),
)
PLAYED_TOGETHER: tuple[tuple[str, ...], ...] = (
    ("speech_hint", "menu"),
    *(("call_resumed", *menu) for menu in _MENUS),
    *((failure, *tail) for failures, tail in _REPROMPTS for failure in failures),
    ("technical_problem", "goodbye"),
    ("not_handled", "not_handled_next"),
    ("queue_long_wait", "queue_callback_key", "queue_message_key"),
    ("no_agent_now", "queue_callback_key", "queue_message_key"),
    *((failure, "queue_callback_key", "queue_message_key") for failure in ("no_input", "invalid", "no_match")),
)
