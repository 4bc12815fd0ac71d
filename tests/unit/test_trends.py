import pytest

from hotline.domain.trends import SurgeRule, surges

RULE = SurgeRule()  # 30 min against the 7 days before, ×3, at least 5 calls, floor 1 call/h
WEEK_H = 7 * 24


def test_ten_water_calls_in_half_an_hour_on_a_quiet_topic_surge() -> None:
    [surge] = surges({("eau", None): 10}, {("eau", None): 2 * WEEK_H})  # usually 2 an hour
    assert (surge.topic, surge.commune, surge.recent_calls) == ("eau", None, 10)
    assert surge.recent_per_h == pytest.approx(20) and surge.usual_per_h == pytest.approx(2)
    assert surge.factor == pytest.approx(10)


def test_a_busy_topic_at_its_usual_rate_does_not_surge() -> None:
    # 40 calls in 30 min is 80 an hour: a lot, but it is what état civil always gets
    assert surges({("etat-civil", None): 40}, {("etat-civil", None): 70 * WEEK_H}) == []


def test_a_rate_just_under_three_times_usual_is_no_surge_and_at_three_it_is() -> None:
    baseline = {("dechets", None): 4 * WEEK_H}  # 4 an hour usually: a surge needs 12 an hour, 6 in 30 min
    assert surges({("dechets", None): 5}, baseline) == []
    assert [s.topic for s in surges({("dechets", None): 6}, baseline)] == ["dechets"]


def test_a_new_topic_needs_the_minimum_count() -> None:
    assert surges({("crise", None): 4}, {}) == []  # 8 an hour against the floor of 1, but only 4 calls
    assert [s.topic for s in surges({("crise", None): 5}, {})] == ["crise"]


def test_a_surge_names_the_commune_most_calls_came_from() -> None:
    recent = {("eau", "Villeroux"): 8, ("eau", "Fontclaire"): 1, ("eau", None): 1}
    [surge] = surges(recent, {("eau", None): WEEK_H})
    assert (surge.commune, surge.recent_calls) == ("Villeroux", 10)


def test_a_surge_in_one_commune_shows_even_when_the_topic_overall_is_usual() -> None:
    # the agglomeration usually gets 30 water calls an hour (15 in 30 min); 7 from Villeroux, which has none
    recent = {("eau", None): 12, ("eau", "Villeroux"): 7}
    [surge] = surges(recent, {("eau", None): 30 * WEEK_H})
    assert (surge.topic, surge.commune, surge.recent_calls) == ("eau", "Villeroux", 7)


def test_the_rule_is_stated_in_french() -> None:
    assert "3 fois plus vite que d'habitude" in RULE.describe() and "30 dernières minutes" in RULE.describe()
