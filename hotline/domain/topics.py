"""The knowledge base's topics by the names a French city gives them (the KB files are plain ASCII slugs)."""

from __future__ import annotations

TOPIC_LABELS: dict[str, str] = {
    "accueil": "Accueil",
    "animaux": "Animaux",
    "benevolat": "Bénévolat",
    "cimetiere": "Cimetière",
    "crise": "Crise",
    "culture": "Culture",
    "dechets": "Déchets",
    "eau": "Eau",
    "elections": "Élections",
    "etat-civil": "État civil",
    "logement": "Logement",
    "mairie": "Mairie",
    "nuisances": "Nuisances",
    "numerique": "Numérique",
    "participation": "Participation citoyenne",
    "petite-enfance": "Petite enfance",
    "proprete": "Propreté",
    "sante": "Santé",
    "scolaire": "Scolaire",
    "seniors": "Seniors",
    "social": "Social",
    "sport": "Sport",
    "stationnement": "Stationnement",
    "suivi": "Suivi de dossier",
    "transports": "Transports",
    "urbanisme": "Urbanisme",
    "voirie": "Voirie",
}


def topic(slug: str | None) -> str:
    if not slug:
        return "sans sujet"
    return TOPIC_LABELS.get(slug, slug.replace("-", " ").capitalize())
