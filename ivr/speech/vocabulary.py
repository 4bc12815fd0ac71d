"""The closed answers, written once: what a caller says for yes, for no, and to reach a person.

On a yes/no question the engines get `YES_NO_GRAMMAR` (Vosk decodes only its phrases; whisper's text is snapped
to them); understanding reads the same phrases, plus a few more, in every turn. Written French, accents and all:
a Vosk grammar must use the words of its model's vocabulary.
"""

from __future__ import annotations

UNKNOWN_WORD = "[unk]"  # the grammar's token for anything else (Vosk's; whisper's snap returns it too)

# In the grammar: what a closed question can hear.
YES = ("oui", "ouais", "d'accord", "exactement", "tout à fait", "c'est ça", "bien sûr")
NO = ("non", "pas du tout")
PERSON = ("conseiller", "conseillère")

# Understood too, in free speech, but not in the grammar.
YES_ALSO = ("ouai", "voui", "volontiers")
NO_ALSO = ("nan", "pas vraiment", "ce n'est pas ça", "c'est pas ça")
PERSON_ALSO = (
    "opérateur",
    "opératrice",
    "un agent",
    "une personne",
    "quelqu'un",
    "un humain",
    "une vraie personne",
)

YES_NO_GRAMMAR = (*YES, *NO, *PERSON, UNKNOWN_WORD)
