"""The shipped knowledge base: it loads, and the ids the IVR and the product rely on exist with their meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.settings import DEFAULT_KB_PATH
from kb.loader import KnowledgeBase, load_kb
from kb.schema import MIN_QUESTIONS, Action

REQUIRED_IDS = """
mairie.horaires mairie.adresse etat-civil.carte-identite etat-civil.passeport etat-civil.acte-naissance
etat-civil.mariage-pacs etat-civil.deces elections.inscription elections.procuration scolaire.inscription
scolaire.cantine-periscolaire petite-enfance.creche dechets.collecte dechets.encombrants dechets.decheterie
eau.coupure eau.facture eau.restrictions-secheresse voirie.signalement voirie.eclairage proprete.depot-sauvage
stationnement.tarifs-abonnement transports.bus-tram urbanisme.permis-construire social.ccas-aides
seniors.registre-canicule sante.vaccination crise.inondation crise.alertes-inscription crise.canicule-conseils
crise.coupure-electricite benevolat.missions participation.budget-participatif animaux.fourriere nuisances.bruit
logement.social cimetiere.concession sport.piscine culture.mediatheque numerique.aide-demarches suivi.demande
accueil.conseiller
""".split()


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb(DEFAULT_KB_PATH)


def test_every_required_id_exists(kb: KnowledgeBase) -> None:
    assert sorted(set(REQUIRED_IDS) - set(kb.ids())) == []


def test_more_entries_than_the_required_ones(kb: KnowledgeBase) -> None:
    assert len(kb.entries) > len(REQUIRED_IDS)


def test_special_actions(kb: KnowledgeBase) -> None:
    assert kb.get("suivi.demande").action is Action.TICKET_STATUS  # type: ignore[union-attr]
    assert kb.get("accueil.conseiller").action is Action.TRANSFER  # type: ignore[union-attr]


def test_crisis_entries_are_flagged(kb: KnowledgeBase) -> None:
    for entry_id in ("crise.inondation", "crise.canicule-conseils", "crise.coupure-electricite"):
        entry = kb.get(entry_id)
        assert entry is not None and entry.crisis, entry_id


def test_one_file_per_topic(kb: KnowledgeBase) -> None:
    files = {p.stem for p in Path(DEFAULT_KB_PATH).glob("*.yaml")}
    assert files == {e.topic for e in kb.entries}


def test_every_entry_is_complete(kb: KnowledgeBase) -> None:
    for e in kb.entries:
        assert len(e.questions) >= MIN_QUESTIONS, e.id
        assert e.keywords, f"{e.id} has no keywords"
        assert e.service, e.id
