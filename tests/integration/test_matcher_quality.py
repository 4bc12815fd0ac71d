"""The real matcher (real sentence encoder, shipped KB) on the labelled set: a guard against regressions.

The product targets are ≥ 92 % top-1 on in-scope utterances and ≤ 5 % false accepts out of scope. The
guard is on the held-out half, which calibration never sees, and on the independent out-of-scope set
(kb/eval/independent_out_of_scope.yaml, written without seeing the KB), which nothing is fitted on. The goal
of 95 % / 3 % is not reached on every set yet (README, "Matching"): these guards hold the measured figures.
"""

from __future__ import annotations

import pytest

from hotline.settings import DEFAULT_KB_PATH
from kb import calibrate, evaluation
from kb.loader import load_kb
from kb.matcher import Matcher, build_matcher

TOP1_TARGET = 0.92
FALSE_ACCEPT_TARGET = 0.05
HALF_FALSE_ACCEPT_GUARD = 0.03  # measured 0.0 % on both halves with the scope model
INDEPENDENT_FALSE_ACCEPT_GUARD = 0.06  # measured 4.3 % (18.4 % before the scope model)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return build_matcher(load_kb(DEFAULT_KB_PATH), cache_dir=tmp_path_factory.mktemp("emb"))


@pytest.fixture(scope="module")
def utterances() -> list[evaluation.Utterance]:
    return evaluation.load_utterances()


def test_eval_set_shape(utterances: list[evaluation.Utterance]) -> None:
    in_scope = [u for u in utterances if u.expected]
    assert len(utterances) >= 400
    assert len(utterances) - len(in_scope) >= 60
    ids = load_kb(DEFAULT_KB_PATH).ids()
    assert all(u.expected in ids for u in in_scope)


def test_held_out_accuracy_and_false_accepts(matcher: Matcher, utterances: list[evaluation.Utterance]) -> None:
    held_out = [u for u in utterances if u.split == "held-out"]
    report = evaluation.summarise(evaluation.run(matcher, held_out))
    assert report.top1 >= TOP1_TARGET, f"top-1 {report.top1:.1%} on {report.in_scope} held-out utterances"
    assert report.false_accept_rate <= FALSE_ACCEPT_TARGET, f"false accepts {report.false_accept_rate:.1%}"


def test_calibration_keeps_false_accepts_under_target(matcher: Matcher, utterances: list[evaluation.Utterance]) -> None:
    half = [u for u in utterances if u.split == "calibration"]
    calibration, accuracy, false_accepts = calibrate.fit(matcher, half)
    assert false_accepts <= calibrate.TARGET_FALSE_ACCEPT
    assert abs(calibration.semantic_weight + calibration.lexical_weight + calibration.keyword_weight - 1) < 1e-6
    # The fitted calibration reproduces its own figures when the matcher uses it.
    matcher_before = matcher.calibration
    matcher.calibration = calibration
    try:
        report = evaluation.summarise(evaluation.run(matcher, half))
    finally:
        matcher.calibration = matcher_before
    assert report.top1 == pytest.approx(accuracy)
    assert report.false_accept_rate == pytest.approx(false_accepts)


def test_false_accepts_on_both_halves_with_the_scope_model(
    matcher: Matcher, utterances: list[evaluation.Utterance]
) -> None:
    assert matcher.calibration.scope is not None, "kb/calibration.json has no scope model: hotline kb calibrate"
    for half in ("calibration", "held-out"):
        report = evaluation.summarise(evaluation.run(matcher, [u for u in utterances if u.split == half]))
        assert report.false_accept_rate <= HALF_FALSE_ACCEPT_GUARD, (half, report)
        assert report.top1 >= TOP1_TARGET, (half, report)


def test_the_independent_out_of_scope_set(matcher: Matcher) -> None:
    independent = evaluation.load_independent_out_of_scope()
    assert len(independent) >= 200 and len({u.tags[2] for u in independent}) >= 10
    outcomes = evaluation.run(matcher, independent)
    accepted = [(o.predicted, o.utterance.text) for o in outcomes if o.predicted is not None]
    assert len(accepted) / len(outcomes) <= INDEPENDENT_FALSE_ACCEPT_GUARD, accepted


def test_the_scope_model_is_fitted_on_the_calibration_half_and_the_groups_only(
    matcher: Matcher, utterances: list[evaluation.Utterance]
) -> None:
    half = [u for u in utterances if u.split == "calibration"]
    model, report = calibrate.fit_scope(matcher, half)
    groups = sum(len(g.examples) for g in matcher.out_of_scope)
    assert report.rows == len(half) + groups  # never the held-out half, never the independent set
    assert report.false_accepts <= calibrate.SCOPE_TARGET_FALSE_ACCEPT
    # The shipped weights are these (refit after any KB change: hotline kb calibrate).
    shipped = matcher.calibration.scope
    assert shipped is not None and model.threshold == shipped.threshold
    assert model.coef == pytest.approx(shipped.coef, abs=1e-3)


@pytest.mark.parametrize(
    ("said", "pinned", "answered"),
    [
        # close between the two cuts: the water cut the supervisor pinned wins
        ("je voudrais des informations sur la coupure", "eau.coupure", "eau.coupure"),
        ("je voudrais des informations sur la coupure", None, None),  # without the pin: too close to tell
        ("les horaires de la mairie", "eau.coupure", "mairie.horaires"),  # a clear answer elsewhere stays
        ("où est la poste la plus proche", "etat-civil.deces", None),  # another body named: never the pin
    ],
)
def test_crisis_modes_pinned_entry_wins_only_when_close(
    matcher: Matcher, said: str, pinned: str | None, answered: str | None
) -> None:
    assert matcher.match(said, pinned).faq_id == answered
