"""The data dictionary of the calls' open data: what each column holds, the day, the suppression rule and the
licence, in French for the data's readers. Served as JSON and as an HTML page at /opendata/dictionnaire."""

from __future__ import annotations

from typing import Any, Final

from hotline.domain.opendata import (
    DATASET,
    OUTCOME_LABELS,
    SUPPRESSION_THRESHOLD,
    UNKNOWN_COMMUNE,
    UNKNOWN_TOPIC,
    UNKNOWN_TOPIC_LABEL,
)
from hotline.domain.topics import TOPIC_LABELS

LICENCE: Final = {
    "name": "Licence Ouverte / Open Licence version 2.0 (Etalab)",
    "spdx": "etalab-2.0",
    "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
}

COLUMNS: Final[list[dict[str, Any]]] = [
    {
        "name": "date",
        "type": "date",
        "format": "AAAA-MM-JJ",
        "description": "La journée de référence pendant laquelle les appels ont commencé (voir « journée »).",
    },
    {
        "name": "topic",
        "type": "string",
        "description": (
            "Le thème de la demande, reconnu par le serveur vocal ou choisi au clavier : un code stable. "
            f"« {UNKNOWN_TOPIC} » quand aucun thème n'a été identifié."
        ),
        "values": {**TOPIC_LABELS, UNKNOWN_TOPIC: UNKNOWN_TOPIC_LABEL},
    },
    {
        "name": "topic_label",
        "type": "string",
        "description": "Le nom du thème en français (le libellé du code de la colonne topic).",
    },
    {
        "name": "commune",
        "type": "string",
        "description": (
            "La commune du territoire que l'appelant a nommée (un hameau compte pour sa commune), sous son nom "
            f"officiel. « {UNKNOWN_COMMUNE} » quand l'appelant n'a nommé aucune commune. Ce n'est pas le lieu "
            "d'où l'on appelle : le numéro de l'appelant n'est jamais utilisé."
        ),
    },
    {
        "name": "outcome",
        "type": "string",
        "description": "L'issue de l'appel : un code stable. Seuls les appels terminés sont comptés.",
        "values": {outcome.value: label for outcome, label in OUTCOME_LABELS.items()},
    },
    {
        "name": "outcome_label",
        "type": "string",
        "description": "L'issue de l'appel en français (le libellé du code de la colonne outcome).",
    },
    {
        "name": "calls",
        "type": "integer",
        "description": (
            f"Le nombre d'appels de la cellule (date, thème, commune, issue), au moins {SUPPRESSION_THRESHOLD}. "
            "Vide en CSV et null en JSON quand le nombre est masqué (voir « secret statistique »)."
        ),
    },
    {
        "name": "suppressed",
        "type": "boolean",
        "description": (
            f"true quand la cellule compte de 1 à {SUPPRESSION_THRESHOLD - 1} appels et que leur nombre est masqué ; "
            "false sinon."
        ),
        "values": {"true": "nombre masqué", "false": "nombre publié"},
    },
]

DICTIONARY: Final[dict[str, Any]] = {
    "dataset": DATASET,
    "title": "Appels reçus par le numéro vert, par journée, thème, commune et issue",
    "description": (
        "Le nombre d'appels terminés reçus par le numéro vert de la collectivité, compté chaque journée par thème de "
        "la demande, commune nommée par l'appelant et issue de l'appel. Un fichier par journée, en CSV et en JSON."
    ),
    "files": {
        "csv": (
            "/opendata/appels-AAAA-MM-JJ.csv : UTF-8, séparateur virgule, fins de ligne \\n, une ligne d'en-tête "
            "avec le nom des colonnes."
        ),
        "json": (
            "/opendata/appels-AAAA-MM-JJ.json : un objet {dataset, date, timezone, day_start, suppression_threshold, "
            "rows, dictionary}, rows étant la liste des lignes avec les mêmes colonnes que le CSV."
        ),
    },
    "day": (
        "Une journée de référence commence à l'heure de début de journée (day_start, heure locale) dans le fuseau "
        "horaire de la collectivité (timezone), tous deux indiqués dans chaque fichier JSON, et finit à la même heure "
        "le lendemain (23 ou 25 heures aux changements d'heure). Un appel compte pour la journée où il a commencé. "
        "Une journée est publiée une fois terminée, jamais en cours ; un appel encore en cours n'est pas compté et "
        "l'est dès qu'il se termine."
    ),
    "columns": COLUMNS,
    "order": (
        "Les lignes sont triées par topic, puis commune, puis outcome (ordre des points de code Unicode, le même "
        "partout)."
    ),
    "absent_cells": "Une combinaison (thème, commune, issue) sans aucun appel n'a pas de ligne.",
    "suppression": {
        "threshold": SUPPRESSION_THRESHOLD,
        "rule": (
            f"Secret statistique : une cellule de 1 à {SUPPRESSION_THRESHOLD - 1} appels est publiée avec calls vide "
            "(null en JSON) et suppressed à true, jamais avec son nombre. Pour que ces nombres masqués ne puissent pas "
            "être retrouvés par soustraction, aucun total n'est publié : ni par journée, ni par thème, ni par commune, "
            "ni par issue. La somme des nombres publiés est donc inférieure au nombre réel d'appels de la journée ; "
            "ne la présentez pas comme un total."
        ),
    },
    "personal_data": (
        "Aucune donnée personnelle : ni numéro de téléphone, ni nom, ni parole ou transcription de l'appelant, ni "
        "heure de l'appel, ni agent, ni identifiant d'appel ou de dossier. Seuls des nombres d'appels agrégés par "
        "journée sont publiés, et les petits nombres sont masqués."
    ),
    "licence": LICENCE,
    "update": "Quotidienne : chaque journée est publiée dès qu'elle est terminée.",
}
