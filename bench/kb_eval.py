"""Knowledge-base evaluation: accuracy, the right outcome, threshold calibration, speed at scale.

    python bench/kb_eval.py                 # accuracy on the evaluation set, calibrated thresholds
    python bench/kb_eval.py --scale 10000   # plus speed and memory with 10,000 articles

The evaluation set is written for this product: the starter articles
(``knowledge/starter/articles_*.jsonl``, shipped as the demo knowledge base) and
user questions that do not copy them (``bench/kb_eval/questions_*.jsonl``):
paraphrases, colloquial speech, typos, abbreviations, extra context,
confusable articles, and questions that must be handed to a person (outages,
topics no article covers, near-misses, other hospitals' articles).

Everything runs through the product's own path: a fresh SQLite database,
``helpdesk migrate``'s migration, the demo data, the starter knowledge base
imported by ``knowledge.import_path`` and questions answered by
``knowledge.ask`` with the asker's hospital filter.

Right outcome: an answerable question is answered with its article, or its
article is among the suggestions; a hand-off question is handed off.
Targets (issue 4): top-1 ≥ 95%, right outcome ≥ 92%; with 10,000 articles
p95 ≤ 20 ms per question and index build ≤ 30 s.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import select  # noqa: E402

from admin.demo import load_demo, load_starter_knowledge  # noqa: E402
from admin.migrate import migrate  # noqa: E402
from admin.settings import Settings  # noqa: E402
from bot import looks_like_outage  # noqa: E402
from knowledge import Thresholds, ask, decide  # noqa: E402
from knowledge.embed import shared_embedder  # noqa: E402
from knowledge.index import Entry, Hit, KnowledgeIndex  # noqa: E402
from tickets import Database  # noqa: E402
from tickets.models import Hospital  # noqa: E402

QUESTIONS = sorted((ROOT / "bench" / "kb_eval").glob("questions_*.jsonl"))
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


@dataclass
class Asked:
    question: str
    hospital: str
    expect: str | None
    kind: str
    keys: list[str]  # top-3 article keys
    scores: list[float]
    seconds: float
    outage: bool = False  # the bot's triage sends it straight to a ticket, whatever the scores


def load_questions() -> list[dict[str, object]]:
    rows = []
    for path in QUESTIONS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def run_questions(db: Database, questions: list[dict[str, object]], thresholds: Thresholds) -> list[Asked]:
    out = []
    with db.session() as session:
        hospitals = {h.key: h.id for h in session.exec(select(Hospital))}
        ask(session, "预热", hospital_id=None, thresholds=thresholds)  # load the model and build the index
        for q in questions:
            started = time.perf_counter()
            result = ask(session, str(q["q"]), hospital_id=hospitals[str(q["hospital"])], thresholds=thresholds)
            seconds = time.perf_counter() - started
            out.append(Asked(str(q["q"]), str(q["hospital"]), q.get("expect"), str(q.get("kind", "")),  # type: ignore[arg-type]
                             [h.entry.key for h in result.hits], [h.score for h in result.hits], seconds,
                             looks_like_outage(str(q["q"]))))
    return out


# -- scoring and calibration --------------------------------------------------------------------


def outcome_right(a: Asked, decision: str) -> bool:
    if a.expect is None:
        return decision == "handoff"
    if decision == "answer":
        return bool(a.keys) and a.keys[0] == a.expect
    if decision == "suggest":
        return a.expect in a.keys
    return False


def decision_of(a: Asked, t: Thresholds) -> str:
    """What the bot does: an outage goes straight to a ticket; otherwise the thresholds decide."""
    if a.outage:
        return "handoff"
    return decide([Hit(Entry(0, k, "", ""), s) for k, s in zip(a.keys, a.scores, strict=True)], t)


@dataclass
class Figures:
    top1: float
    top3: float
    right: float
    wrong_answers: int
    handoff_right: float
    answered: int
    suggested: int
    handed_off: int


def figures(asked: list[Asked], t: Thresholds) -> Figures:
    answerable = [a for a in asked if a.expect is not None]
    handoffs = [a for a in asked if a.expect is None]
    decisions = [decision_of(a, t) for a in asked]
    right = sum(outcome_right(a, d) for a, d in zip(asked, decisions, strict=True))
    wrong_answers = sum(1 for a, d in zip(asked, decisions, strict=True)
                        if d == "answer" and (a.expect is None or a.keys[0] != a.expect))
    return Figures(
        top1=sum(bool(a.keys) and a.keys[0] == a.expect for a in answerable) / max(1, len(answerable)),
        top3=sum(a.expect in a.keys for a in answerable) / max(1, len(answerable)),
        right=right / max(1, len(asked)), wrong_answers=wrong_answers,
        handoff_right=sum(decision_of(a, t) == "handoff" for a in handoffs) / max(1, len(handoffs)),
        answered=decisions.count("answer"), suggested=decisions.count("suggest"),
        handed_off=decisions.count("handoff"),
    )


def calibrate(asked: list[Asked], slack: int = 2) -> Thresholds:
    """Thresholds for the most right outcomes; within ``slack`` questions of the best, the most answers.

    A direct answer saves the nurse a step, but a wrong one wastes her time: each
    wrong answer costs six right ones in the tie-break.
    """
    s1 = np.array([a.scores[0] if a.scores and not a.outage else -1.0 for a in asked])
    s2 = np.array([a.scores[1] if len(a.scores) > 1 else 0.0 for a in asked])
    handoff_q = np.array([a.expect is None for a in asked])
    top1_ok = np.array([a.expect is not None and bool(a.keys) and a.keys[0] == a.expect for a in asked])
    in3 = np.array([a.expect is not None and a.expect in a.keys for a in asked])
    grid = []
    for answer in np.arange(0.40, 1.0001, 0.01):
        for suggest in np.arange(0.20, answer + 0.0001, 0.01):
            for margin in np.arange(0.0, 0.2001, 0.01):
                is_answer = (s1 >= answer) & (s1 - s2 >= margin)
                is_suggest = (s1 >= suggest) & ~is_answer
                is_handoff = ~is_answer & ~is_suggest
                right = int(np.sum(np.where(handoff_q, is_handoff, (is_answer & top1_ok) | (is_suggest & in3))))
                good_answers = int(np.sum(is_answer & top1_ok))
                wrong = int(np.sum(is_answer & ~top1_ok))
                grid.append((right, good_answers - 6 * wrong, -wrong,
                             Thresholds(round(float(answer), 2), round(float(suggest), 2), round(float(margin), 2))))
    best_right = max(g[0] for g in grid)
    near = [g for g in grid if g[0] >= best_right - slack]
    return max(near, key=lambda g: (g[1], g[2], g[0]))[3]


def cross_validated(asked: list[Asked], folds: int = 2, seed: int = 7) -> float:
    """Right-outcome rate with thresholds calibrated on the other folds only (no peeking)."""
    order = list(range(len(asked)))
    random.Random(seed).shuffle(order)
    right = 0
    for f in range(folds):
        test = [asked[i] for i in order[f::folds]]
        train = [asked[i] for k, i in enumerate(order) if k % folds != f]
        t = calibrate(train)
        right += sum(outcome_right(a, decision_of(a, t)) for a in test)
    return right / len(asked)


# -- scale --------------------------------------------------------------------------------------


def synthetic_entries(base: list[Entry], n: int, rng: random.Random) -> list[Entry]:
    """``n`` articles: the real ones plus recombinations of them, spread over the same hospitals and systems."""
    entries = list(base)
    fillers = ["如何", "为什么", "在哪里", "怎样设置", "提示错误", "无法保存", "批量", "导出", "查询", "修改"]
    while len(entries) < n:
        a, b = rng.sample(base, 2)
        cut_a, cut_b = len(a.question) // 2, len(b.question) // 2
        question = a.question[:cut_a] + rng.choice(fillers) + b.question[cut_b:]
        answer = a.answer[: len(a.answer) // 2] + b.answer[len(b.answer) // 2:]
        entries.append(Entry(article_id=len(entries) + 100000, key=f"synthetic-{len(entries)}", question=question,
                             answer=answer, aliases=(), hospital_id=a.hospital_id, system_id=a.system_id))
    return entries


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_scale(db: Database, questions: list[dict[str, object]], n: int, t: Thresholds) -> dict[str, float]:
    from knowledge.service import build_index, systems_of_hospital

    embedder = shared_embedder()
    with db.session() as session:
        base = build_index(session, embedder).entries
        hospitals = {h.key: h.id for h in session.exec(select(Hospital))}
        systems = {hid: systems_of_hospital(session, hid) for hid in hospitals.values() if hid is not None}
    entries = synthetic_entries(base, n, random.Random(11))
    rss_before = rss_mib()
    started = time.perf_counter()
    vectors = embedder.encode([e.question for e in entries[len(base):]])
    embed_seconds = time.perf_counter() - started
    entries = entries[: len(base)] + [Entry(e.article_id, e.key, e.question, e.answer, e.aliases, e.hospital_id,
                                            e.system_id, vectors[i:i + 1])
                                      for i, e in enumerate(entries[len(base):])]
    started = time.perf_counter()
    index = KnowledgeIndex(entries, embedder=embedder)
    build_seconds = time.perf_counter() - started
    times, right = [], 0
    for q in questions:
        hid = hospitals[str(q["hospital"])]
        started = time.perf_counter()
        hits = index.search(str(q["q"]), hospital_id=hid, systems=systems.get(hid or 0))
        decision = "handoff" if looks_like_outage(str(q["q"])) else decide(hits, t)
        times.append(time.perf_counter() - started)
        a = Asked(str(q["q"]), str(q["hospital"]), q.get("expect"), "",  # type: ignore[arg-type]
                  [h.entry.key for h in hits], [h.score for h in hits], 0.0)
        right += outcome_right(a, decision)
    times.sort()
    return {"articles": len(entries), "embed_seconds": embed_seconds, "build_seconds": build_seconds,
            "p50_ms": statistics.median(times) * 1000, "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
            "max_ms": times[-1] * 1000, "right": right / len(questions), "rss_mib": rss_mib(),
            "rss_growth_mib": rss_mib() - rss_before}


# -- main ----------------------------------------------------------------------------------------


def percent(x: float) -> str:
    return f"{x * 100:.1f}%"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=int, default=0, help="also measure speed and memory with this many articles")
    p.add_argument("--show-misses", action="store_true", help="print every question with the wrong outcome")
    args = p.parse_args(argv)

    questions = load_questions()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/kb.db"
        migrate(url, NOW)
        db = Database(url)
        with db.session() as session:
            load_demo(session, Path(tmp), NOW)
        started = time.perf_counter()
        with db.session() as session:
            imported = load_starter_knowledge(session, NOW)
        import_seconds = time.perf_counter() - started
        if imported.errors:
            print(f"starter knowledge base has errors: {imported.errors}")
            return 1
        settings = Settings(var_dir=Path(tmp), database_url=url)
        current = Thresholds(settings.kb_answer, settings.kb_suggest, settings.kb_margin)
        asked = run_questions(db, questions, current)
        calibrated = calibrate(asked)
        now_f, cal_f = figures(asked, current), figures(asked, calibrated)
        answerable = sum(a.expect is not None for a in asked)
        false_outages = [a.question for a in asked if a.outage and a.expect is not None]
        times = sorted(a.seconds for a in asked)
        print(f"articles: {imported.added}  questions: {len(asked)} ({answerable} answerable, "
              f"{len(asked) - answerable} to hand off)  import with embeddings: {import_seconds:.1f} s")
        print(f"top-1: {percent(cal_f.top1)}   top-3: {percent(cal_f.top3)}   (target top-1 ≥ 95%)")
        for name, t, f in (("settings", current, now_f), ("calibrated", calibrated, cal_f)):
            print(f"{name:>10}: answer ≥ {t.answer:.2f}, margin ≥ {t.margin:.2f}, suggest ≥ {t.suggest:.2f} → "
                  f"right outcome {percent(f.right)} (target ≥ 92%), wrong answers {f.wrong_answers}, "
                  f"hand-offs handed off {percent(f.handoff_right)}; answered {f.answered}, "
                  f"suggested {f.suggested}, handed off {f.handed_off}")
        print(f"outage triage: {sum(a.outage for a in asked)} questions sent straight to a ticket, "
              f"{len(false_outages)} of them answerable {false_outages[:3]}")
        print(f"right outcome with thresholds calibrated on the other half (2-fold): {percent(cross_validated(asked))}")
        print(f"per question through knowledge.ask (DB, filters, index): p50 {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.1f} ms")
        print(f"set in helpdesk.toml or the environment: HELPDESK_KB_ANSWER={calibrated.answer} "
              f"HELPDESK_KB_SUGGEST={calibrated.suggest} HELPDESK_KB_MARGIN={calibrated.margin}")
        if args.show_misses:
            for a in asked:
                d = decision_of(a, calibrated)
                if not outcome_right(a, d):
                    print(f"  MISS [{a.kind}] {a.q if hasattr(a, 'q') else a.question} → {d} {a.keys[:3]} "
                          f"{[round(s, 3) for s in a.scores]} expected {a.expect}")
        ok = cal_f.top1 >= 0.95 and cal_f.right >= 0.92
        if args.scale:
            s = run_scale(db, questions, args.scale, calibrated)
            print(f"scale: {s['articles']:,} articles; embedding the synthetic ones {s['embed_seconds']:.1f} s "
                  f"(done once, when articles are saved); index build from stored vectors {s['build_seconds']:.1f} s "
                  f"(target ≤ 30 s)")
            print(f"scale: per question p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms (target ≤ 20 ms), "
                  f"max {s['max_ms']:.1f} ms; right outcome among 10k {percent(s['right'])}; "
                  f"peak RSS {s['rss_mib']:.0f} MiB (+{s['rss_growth_mib']:.0f} MiB for the scaled index)")
            ok = ok and s["p95_ms"] <= 20 and s["build_seconds"] <= 30
        db.dispose()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
