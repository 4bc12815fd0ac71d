"""`hotline kb ...`: validate the knowledge base, match utterances, evaluate and calibrate the matcher."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from hotline.settings import get_settings
from kb.loader import KbInvalid, KnowledgeBase, load_kb

app = typer.Typer(no_args_is_help=True, help="The FAQ knowledge base and its matcher.")

FileOption = Annotated[Path | None, typer.Option(help="Labelled utterances (default: kb/eval/utterances.yaml).")]
KbPathOption = Annotated[Path | None, typer.Option("--kb", help="Folder of KB YAML files (default: HOTLINE_KB_PATH).")]


def _load(kb_path: Path | None) -> KnowledgeBase:
    folder = kb_path or get_settings().kb_path
    try:
        return load_kb(folder)
    except KbInvalid as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command()
def validate(kb_path: KbPathOption = None) -> None:
    """Check every KB file; print each problem with its file, entry, field and reason."""
    from kb.referrals import ReferralsError, load_referrals

    kb = _load(kb_path)
    questions = sum(len(e.questions) for e in kb.entries)
    topics = len({e.topic for e in kb.entries})
    path = get_settings().referrals_path
    try:
        referrals = load_referrals(path)
    except ReferralsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except OSError as exc:
        typer.echo(f"{path}: cannot read the referrals file ({exc.strerror})", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"OK: {len(kb.entries)} entries in {topics} topics, {questions} question variants; "
        f"{len(referrals.all)} referrals."
    )


@app.command()
def match(
    text: Annotated[str, typer.Argument(help="What the caller said, or '-' to read one utterance per line.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object per line with '-').")] = False,
    kb_path: KbPathOption = None,
) -> None:
    """Match an utterance (or each line of stdin with '-') to a KB entry."""
    from kb.matcher import build_matcher

    matcher = build_matcher(
        _load(kb_path), get_settings().match_threshold, referrals_path=get_settings().referrals_path
    )
    lines = (line.rstrip("\n") for line in sys.stdin) if text == "-" else iter([text])
    for line in lines:
        result = matcher.match(line)
        if as_json:
            sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        else:
            alternatives = ", ".join(f"{c.faq_id} {c.score:.2f}" for c in result.alternatives)
            typer.echo(f"{result.faq_id or '(no match: offer a human)'}  {result.score:.3f}  [{alternatives}]")
        sys.stdout.flush()


@app.command("eval")
def evaluate(
    file: FileOption = None,
    errors: Annotated[bool, typer.Option("--errors", help="List every wrong answer.")] = False,
    kb_path: KbPathOption = None,
) -> None:
    """Print top-1 accuracy on in-scope utterances, false accepts on out-of-scope ones, p50/p99 latency."""
    from kb import evaluation
    from kb.matcher import build_matcher

    matcher = build_matcher(
        _load(kb_path), get_settings().match_threshold, referrals_path=get_settings().referrals_path
    )
    utterances = evaluation.load_utterances(file or evaluation.EVAL_FILE)
    outcomes = evaluation.run(matcher, utterances)
    independent = evaluation.run(matcher, evaluation.load_independent_out_of_scope()) if file is None else []
    c = matcher.calibration
    typer.echo(
        f"matcher: {len(matcher.ids)} entries, {matcher.variant_count} variants; weights semantic "
        f"{c.semantic_weight:.2f} lexical {c.lexical_weight:.2f} keyword {c.keyword_weight:.2f}, "
        f"threshold {c.threshold:.3f}"
    )
    header = f"{'subset':<22}{'in-scope':>9}{'top-1':>9}{'out-scope':>10}{'false acc.':>11}"
    typer.echo(header + f"{'p50 ms':>8}{'p99 ms':>8}")
    subsets = {
        "all": outcomes,
        "held-out half": [o for o in outcomes if o.utterance.split == "held-out"],
        "calibration half": [o for o in outcomes if o.utterance.split == "calibration"],
        "tag asr": [o for o in outcomes if "asr" in o.utterance.tags or o.utterance.expected is None],
        "tag clean": [o for o in outcomes if "clean" in o.utterance.tags or o.utterance.expected is None],
    }
    if independent:
        subsets["independent out-scope"] = independent
    for name, subset in subsets.items():
        r = evaluation.summarise(subset)
        typer.echo(
            f"{name:<22}{r.in_scope:>9}{r.top1:>9.1%}{r.out_of_scope:>10}{r.false_accept_rate:>11.1%}"
            f"{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}"
        )
    if errors:
        for o in outcomes + independent:
            if not o.correct:
                expected, got = o.utterance.expected or "-", o.predicted or "-"
                typer.echo(f"  {expected} <- {got} ({o.score:.3f}): {o.utterance.text}")


@app.command()
def calibrate(
    file: FileOption = None,
    write: Annotated[bool, typer.Option("--write/--dry-run", help="Save kb/calibration.json.")] = True,
    kb_path: KbPathOption = None,
) -> None:
    """Fit fusion weights and threshold on the calibration half of the labelled set."""
    from kb import calibrate as calibration_fit
    from kb import evaluation
    from kb.matcher import build_matcher

    matcher = build_matcher(
        _load(kb_path), get_settings().match_threshold, referrals_path=get_settings().referrals_path
    )
    utterances = [u for u in evaluation.load_utterances(file or evaluation.EVAL_FILE) if u.split == "calibration"]
    calibration, accuracy, false_accept = calibration_fit.fit(matcher, utterances)
    typer.echo(f"fusion: {calibration}\ncalibration half: top-1 {accuracy:.1%}, false accepts {false_accept:.1%}")
    matcher.calibration = calibration  # the scope model reads the fused scores of these weights
    try:
        scope, report = calibration_fit.fit_scope(matcher, utterances)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    calibration = replace(
        calibration,
        scope=scope,
        fitted_on=f"calibration half of {len(utterances)} utterances, {len(matcher.out_of_scope)} out-of-scope groups",
    )
    by_source = ", ".join(f"{name} {rate:.1%}" for name, rate in report.false_accepts_by_source.items())
    typer.echo(
        f"scope model: threshold {scope.threshold:.2f}; cross-validated over {report.groups} groups "
        f"({report.rows} rows, each group scored by a model fitted without it): top-1 {report.top1:.1%}, "
        f"false accepts {report.false_accepts:.1%} ({by_source})"
    )
    if write:
        calibration.save()
        typer.echo("saved kb/calibration.json")
