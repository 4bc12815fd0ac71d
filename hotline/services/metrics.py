"""Prometheus metrics at /metrics: counters and histograms fed by the events of this process, gauges read
from the supervisor's snapshot at scrape time.

Names carry the `hotline_` prefix and their unit; counters end in `_total`. Labels take only bounded values
(outcomes, KB topics, states, results): never a phone number, a transcript or a person's name. Counters and
histograms count from this process's start (Prometheus' rate() and increase() are made for that); the
day's figures from the database are the `*_ratio` gauges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hotline import bus as events
from hotline.bus import DomainEvent, EventBus
from hotline.domain.enums import AgentState, CallOutcome, QueueEntryState
from hotline.services.supervision import Wallboard

log = logging.getLogger(__name__)
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin of every counter and histogram: nothing here reads them

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NO_TOPIC = "aucun"  # the label of calls whose topic the IVR could not tell
WAIT_BUCKETS_S = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
TALK_BUCKETS_S = (30, 60, 120, 180, 300, 420, 600, 900, 1200, 1800, 3600)
WRAP_UP_BUCKETS_S = (5, 10, 20, 30, 45, 60, 90, 120, 300, 600)
TURN_BUCKETS_S = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
LEFT_QUEUE = {
    QueueEntryState.ANSWERED.value: "answered",
    QueueEntryState.ABANDONED.value: "abandoned",
    QueueEntryState.CALLBACK.value: "callback",
}
ENDED_OUTCOMES = [o.value for o in CallOutcome if o is not CallOutcome.IN_PROGRESS]
# Everything /metrics may export, name -> type: the dashboards and alert rules may use these only (a test checks
# both ways). Counters are named with their _total, as scraped.
METRICS: dict[str, str] = {
    "hotline_calls_offered_total": "counter",
    "hotline_ivr_self_served_total": "counter",
    "hotline_speech_turns_total": "counter",
    "hotline_speech_not_understood_total": "counter",
    "hotline_callback_attempts_total": "counter",
    "hotline_queue_wait_seconds": "histogram",
    "hotline_talk_seconds": "histogram",
    "hotline_wrap_up_seconds": "histogram",
    "hotline_speech_turn_latency_seconds": "histogram",
    "hotline_ivr_calls": "gauge",
    "hotline_queue_calls": "gauge",
    "hotline_queue_oldest_wait_seconds": "gauge",
    "hotline_agents": "gauge",
    "hotline_agents_logged_in": "gauge",
    "hotline_callbacks_pending": "gauge",
    "hotline_ari_connected": "gauge",
    "hotline_service_level_ratio": "gauge",
    "hotline_abandonment_ratio": "gauge",
    "hotline_self_service_ratio": "gauge",
    "hotline_staffing_agents_needed": "gauge",
    "hotline_service_level_goal_ratio": "gauge",
    "hotline_topic_surge": "gauge",
}


class HotlineMetrics:
    def __init__(
        self,
        snapshot: Callable[[], Wallboard] | None = None,
        ari_connected: Callable[[], bool] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls_offered = Counter(
            "hotline_calls_offered", "Calls ended, by how they ended.", ["outcome"], registry=r
        )
        self.self_served = Counter(
            "hotline_ivr_self_served", "Calls the knowledge base served to their end, by topic.", ["topic"], registry=r
        )
        self.speech_turns = Counter("hotline_speech_turns", "Caller turns the recogniser decoded.", registry=r)
        self.not_understood = Counter(
            "hotline_speech_not_understood", "Caller turns nothing in the knowledge base answered.", registry=r
        )
        self.callback_attempts = Counter(
            "hotline_callback_attempts", "Callback attempts, by result.", ["result"], registry=r
        )
        self.queue_wait = Histogram(
            "hotline_queue_wait_seconds",
            "Time callers waited in the queue, by how they left it.",
            ["outcome"],
            buckets=WAIT_BUCKETS_S,
            registry=r,
        )
        self.talk = Histogram("hotline_talk_seconds", "Agents' conversations.", buckets=TALK_BUCKETS_S, registry=r)
        self.wrap_up = Histogram(
            "hotline_wrap_up_seconds", "Agents' wrap-up after a call.", buckets=WRAP_UP_BUCKETS_S, registry=r
        )
        self.turn_latency = Histogram(
            "hotline_speech_turn_latency_seconds",
            "From the end of a caller's speech to the answer's playback accepted by Asterisk.",
            buckets=TURN_BUCKETS_S,
            registry=r,
        )
        for outcome in ENDED_OUTCOMES:
            self.calls_offered.labels(outcome)  # every outcome shows, at 0, from the start
        for left in LEFT_QUEUE.values():
            self.queue_wait.labels(left)
        self.snapshot = snapshot
        self.ari_connected = ari_connected  # set by the composition root once the IVR is built
        r.register(_LiveCollector(self))
        self._enqueued: dict[int, datetime] = {}  # queue entry -> when it was queued (seen by this process)
        self._in_state: dict[int, tuple[str, datetime]] = {}  # agent -> (state, since)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # --- what happens
    def on_event(self, event: DomainEvent) -> None:
        match event:
            case events.CallEnded(outcome=outcome, topic=topic):
                self.calls_offered.labels(outcome).inc()
                if outcome == CallOutcome.SELF_SERVED.value:
                    self.self_served.labels(topic or NO_TOPIC).inc()
            case events.QueueChanged(entry_id=entry_id, state=state, at=at):
                self._on_queue(entry_id, state, at)
            case events.AgentStateChanged(agent_id=agent_id, to_state=to_state, at=at):
                self._on_agent(agent_id, to_state, at)
            case events.CallbackChanged(result=result) if result:
                self.callback_attempts.labels(result).inc()

    def _on_queue(self, entry_id: int, state: str, at: datetime) -> None:
        if state == QueueEntryState.WAITING.value:
            self._enqueued.setdefault(entry_id, at)
        elif state in LEFT_QUEUE and (since := self._enqueued.pop(entry_id, None)) is not None:
            self.queue_wait.labels(LEFT_QUEUE[state]).observe(max(0.0, (at - since).total_seconds()))

    def _on_agent(self, agent_id: int, to_state: str, at: datetime) -> None:
        before = self._in_state.get(agent_id)
        self._in_state[agent_id] = (to_state, at)
        if before is None:
            return
        state, since = before
        seconds = max(0.0, (at - since).total_seconds())
        if state == AgentState.ON_CALL.value:
            self.talk.observe(seconds)
        elif state == AgentState.WRAP_UP.value:
            self.wrap_up.observe(seconds)

    def on_call_step(self, kind: str, data: dict[str, Any]) -> None:
        """A step of a call's timeline (the IVR hands every one here)."""
        if kind == "speech_turn":
            self.speech_turns.inc()
        elif kind == "speech_answer_sent" and isinstance(data.get("ms"), int | float):
            self.turn_latency.observe(data["ms"] / 1000)
        elif kind == "speech_not_understood":
            self.not_understood.inc()

    async def follow(self, bus: EventBus) -> None:
        """Count the bus's events for as long as the process runs."""
        subscription = bus.subscribe()
        try:
            async for event in subscription:
                try:
                    self.on_event(event)
                except Exception:
                    log.exception("metrics: counting %s failed", event.kind)
        finally:
            subscription.close()


class _LiveCollector(Collector):
    """The gauges, read from the supervisor's snapshot when Prometheus scrapes."""

    def __init__(self, metrics: HotlineMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter(())  # described only by collecting: the snapshot is not read at registration

    def collect(self) -> Iterator[Metric]:
        ari_connected, snapshot = self._metrics.ari_connected, self._metrics.snapshot
        if ari_connected is not None:
            yield _gauge("hotline_ari_connected", "1 while the IVR is connected to Asterisk (ARI).",
                         1.0 if ari_connected() else 0.0)  # fmt: skip
        if snapshot is None:
            return
        try:
            board = snapshot()
        except Exception:
            log.exception("metrics: the supervisor's snapshot failed")
            return
        live, today = board.live, board.today
        yield _gauge("hotline_ivr_calls", "Calls in the IVR now (not waiting nor with an agent).", live.calls_in_ivr)
        yield _gauge("hotline_queue_calls", "Callers waiting for an agent now.", live.waiting)
        yield _gauge("hotline_queue_oldest_wait_seconds", "How long the longest-waiting caller has waited.",
                     live.oldest_wait_s or 0.0)  # fmt: skip
        agents = GaugeMetricFamily("hotline_agents", "Agents by state now.", labels=["state"])
        for state in AgentState:
            agents.add_metric([state.value], live.agents_in(state.value))
        yield agents
        yield _gauge("hotline_agents_logged_in", "Agents signed in (not offline).", live.logged_in)
        yield _gauge("hotline_callbacks_pending", "Callbacks promised and not done.", live.callbacks_pending)
        for name, help_text, value in (
            ("hotline_service_level_ratio", "Today: answered within the target / answered.", today.service_level),
            (
                "hotline_abandonment_ratio",
                "Today: abandons / queued (short abandons left out).",
                today.abandonment_rate,
            ),
            ("hotline_self_service_ratio", "Today: calls self-served / calls ended.", today.self_service_rate),
        ):
            if value is not None:  # no answered call yet: no ratio, rather than a false 0
                yield _gauge(name, help_text, value)
        yield _gauge("hotline_service_level_goal_ratio", "The service level the staffing advice aims for.",
                     board.sl_goal)  # fmt: skip
        needed = board.staffing.agents_needed
        if needed is not None:
            yield _gauge("hotline_staffing_agents_needed",
                         "Erlang C: agents needed for the goal at the last 30 minutes' load.", needed)  # fmt: skip
        surge = GaugeMetricFamily("hotline_topic_surge", "1 while a topic comes in far over its usual rate.",
                                  labels=["topic"])  # fmt: skip
        surging = {s.topic for s in board.surges}
        for topic in sorted(surging | set(today.by_topic) - {""}):
            surge.add_metric([topic], 1.0 if topic in surging else 0.0)
        yield surge


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=float(value))
