"""Recommendations and the click log: how well "you may also need" predicts a person's next
service on the demo's history, against a popularity baseline; and what the click log costs a
request, beside the machine's own cost of the same bookkeeping.

**History.** The demo's own generator (``apps.enterprise.synthetic``, seed 2026: 1,000
enterprises with their industries and business scopes, and their legal representatives) gives
each enterprise a journey through the published services, following the domain's rules:

1. registration (``start_business``: 有限责任公司设立登记) — except for the few registered before
   the one-stop service existed (``P_REGISTERED``);
2. the permits its industry and scope need (``permits.permits_for``), in a plausible order —
   those needed to trade (``start_business``) before those needed to open premises
   (``open_premises``), then building works (``construction_project``); shuffled within each
   stage; each one skipped with ``P_SKIP`` (obtained elsewhere, or not yet); a filing the rules
   name is made with ``P_FILING`` only;
3. noise: 0, 1 or 2 extra services drawn uniformly from everything published (``EXTRA``),
   inserted anywhere after the first service;
4. for some (``P_CLOSE``) the deregistration at the end (``close_business``), simplified or
   ordinary (``P_SIMPLIFIED``).

The parameters were fixed before the first run and are not tuned to the result. Each person's
last service is held out; the model is built as the portal builds it, from other people's
whole sequences (5 folds by person: nobody is scored by a model that saw them); the
recommender (``portal.recommend.recommend``, with the enterprise's industry and scope) and the
baseline (``portal.recommend.popular``: the most used services the person has not used) each
suggest 5. Reported: hit rate@5 (the held-out service is among the 5) and MRR@5 (1/rank, 0
when not among them), and the recommender's relative improvement over the baseline (target
≥ 30 % on both); apart, the hit rates on held-out services that follow the domain's rules and
on noise, and the improvement in hit rate that finding every rule-following service (and noise
as often as the baseline) would give: what no method can foresee bounds the figure. The same
figures over a few other drawings of the journeys show how much they move by chance.

**Click log.** µs per ``ClickLog.record`` (the work a page request does: pseudonym, opt-out
check, timestamp, append) and per request through the recording middleware (session lookup,
classification and ``record``, around an application that answers at once), beside one
``time.time()`` and one dict appended to a list (the least such a log can cost). Target: the
middleware adds < 1 ms per request. The background writer's cost per batch is reported too.

Usage: ``python -m bench.recommend_bench [--enterprises N] [--seed S] [--records N] [--quick]``;
writes ``bench/results/recommend.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from bench.common import write_result
from govchain.apps.enterprise.permits import permits_for
from govchain.apps.enterprise.synthetic import SyntheticEnterprise, citizens, enterprises
from govchain.crypto import get_suite
from govchain.portal.clicklog import ClickLog
from govchain.portal.recommend import (
    Attributes,
    EnterpriseFacts,
    build_model,
    popular,
    recommend,
)
from govchain.portal.routes.me import ClickRecorder
from govchain.portal.sessions import COOKIE, PortalSession, SessionStore
from govchain.sdk import find_app
from govchain.storage.memory import MemoryStore

K = 5
"""Suggestions per person."""
FOLDS = 5
"""Folds by person (each person is scored by a model built without them)."""
TARGET_IMPROVEMENT = 0.30
"""The recommender must beat the baseline by this much (relative), on hit rate and MRR."""
TARGET_REQUEST_US = 1000.0
"""The click log may add at most this per request."""
P_REGISTERED = 0.95
"""Share of enterprises registered through the one-stop service."""
P_SKIP = 0.15
"""Chance that a needed permit is not applied for here."""
P_FILING = 0.6
"""Chance that a filing the rules name is made."""
EXTRA = ((0, 70), (1, 20), (2, 10))
"""Extra services (noise) per person, with their weights."""
P_CLOSE = 0.12
"""Share of enterprises deregistered at the end."""
P_SIMPLIFIED = 0.75
"""Share of deregistrations that are simplified."""
STAGES = ("start_business", "open_premises", "construction_project")
"""Order in which permits are applied for, by the life event they serve."""
REGISTRATION = "330100-DJ-0001"
SIMPLIFIED, ORDINARY = "330100-ZX-0001", "330100-ZX-0002"


# --- history ---------------------------------------------------------------------------------


def _stage(defn: Mapping[str, Any]) -> int:
    events = defn.get("life_events", [])
    return next((i for i, e in enumerate(STAGES) if e in events), len(STAGES))


def journey(
    e: SyntheticEnterprise, defs: Mapping[str, Mapping[str, Any]], rng: random.Random
) -> tuple[list[str], set[str]]:
    """One enterprise's services in order (see the module docstring), and which of them are
    noise."""
    out = [REGISTRATION] if rng.random() < P_REGISTERED else []
    noise: set[str] = set()
    needs = [n.code for n in permits_for(e.industry, e.business_scope) if n.code in defs]
    keyed = [(_stage(defs[c]), rng.random(), c) for c in needs]
    for _, _, code in sorted(keyed):
        if rng.random() < P_SKIP:
            continue
        if defs[code].get("category") == "filing" and rng.random() >= P_FILING:
            continue
        out.append(code)
    extra = rng.choices([n for n, _ in EXTRA], weights=[w for _, w in EXTRA])[0]
    for _ in range(extra):
        pool = sorted(set(defs) - set(out))
        where = rng.randint(min(1, len(out)), len(out))
        out.insert(where, rng.choice(pool))
        noise.add(out[where])
    if rng.random() < P_CLOSE:
        closing = SIMPLIFIED if rng.random() < P_SIMPLIFIED else ORDINARY
        if closing not in out:
            out.append(closing)
            noise.discard(closing)
    return out, noise


Journey = tuple[list[str], set[str]]
"""A person's services in order, and those that are noise."""


def history(
    count: int, seed: int, journey_seed: int | None = None
) -> tuple[list[dict[str, Any]], list[SyntheticEnterprise], list[Journey]]:
    """The published definitions, the enterprises (``seed``, as the demo draws them) and
    their journeys (drawn from ``journey_seed``, by default the same)."""
    definitions = find_app("enterprise").definitions()
    defs = {d["code"]: d for d in definitions}
    people = citizens(max(20, count * 4 // 5), seed)
    companies = enterprises(count, seed, people)
    rng = random.Random(seed if journey_seed is None else journey_seed)
    return definitions, companies, [journey(e, defs, rng) for e in companies]


def spread(count: int, seed: int, draws: int) -> dict[str, Any]:
    """The improvements over ``draws`` other drawings of the journeys (seeds ``seed + 1`` …)
    of the same enterprises: how much the figure moves by chance at this size."""
    found: dict[str, list[float]] = {"hit_rate_at_5": [], "mrr_at_5": []}
    for extra in range(1, draws + 1):
        definitions, companies, journeys = history(count, seed, seed + extra)
        imp = evaluate(definitions, companies, journeys)["improvement"]
        for m, values in found.items():
            values.append(imp[m])
    return {
        "journey_seeds": [seed + i for i in range(1, draws + 1)],
        **{
            m: {"min": min(v), "mean": round(statistics.fmean(v), 4), "max": max(v)}
            for m, v in found.items()
        },
    }


def evaluate(
    definitions: Sequence[Mapping[str, Any]],
    companies: Sequence[SyntheticEnterprise],
    journeys: Sequence[Journey],
) -> dict[str, Any]:
    """Hit rate@K and MRR@K of the recommender and of the baseline, holding out each
    person's last service. The model is built as the portal builds it, from other people's
    whole sequences: ``FOLDS`` folds by person, each person scored by a model that never saw
    them."""
    names = ("recommender", "popularity")
    hits = dict.fromkeys(names, 0)
    rr = dict.fromkeys(names, 0.0)
    # Hits on held-out services that follow the domain's rules, and on noise.
    parts = {f"{n}/{p}": 0 for n in names for p in ("rules", "noise")}
    totals: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    evaluated = 0
    seconds = 0.0
    for fold in range(FOLDS):
        others = [seq for i, (seq, _) in enumerate(journeys) if i % FOLDS != fold]
        model = build_model(definitions, others)
        started = time.perf_counter()
        for i, (e, (seq, noise)) in enumerate(zip(companies, journeys, strict=True)):
            if i % FOLDS != fold or len(seq) < 2:
                continue
            evaluated += 1
            seen, target = list(seq[:-1]), seq[-1]
            part = "noise" if target in noise else "rules"
            totals[part] += 1
            facts = Attributes((EnterpriseFacts(e.name, e.industry, e.business_scope),))
            mine = recommend(seen, facts, model, K)
            base = popular(seen, model, K)
            for name, ranked in zip(
                names, ([s.code for s in mine], [s.code for s in base]), strict=True
            ):
                if target in ranked:
                    hits[name] += 1
                    rr[name] += 1 / (ranked.index(target) + 1)
                    parts[f"{name}/{part}"] += 1
            methods.update(s.method for s in mine if s.code == target)
        seconds += time.perf_counter() - started
    out: dict[str, Any] = {"evaluated": evaluated, "folds": FOLDS, "hits_by_method": dict(methods)}
    for name in names:
        out[name] = {
            "hit_rate_at_5": round(hits[name] / evaluated, 4),
            "mrr_at_5": round(rr[name] / evaluated, 4),
            "hit_rate_rules": round(parts[f"{name}/rules"] / max(1, totals["rules"]), 4),
            "hit_rate_noise": round(parts[f"{name}/noise"] / max(1, totals["noise"]), 4),
        }
    out["held_out_rules"], out["held_out_noise"] = totals["rules"], totals["noise"]
    rec, pop = out["recommender"], out["popularity"]
    out["improvement"] = {
        m: round(rec[m] / pop[m] - 1, 4) if pop[m] else None for m in ("hit_rate_at_5", "mrr_at_5")
    }
    # A recommender that found every service that follows the rules and noise as often as
    # the baseline does would show this improvement: noise bounds the figure.
    bound = (totals["rules"] + totals["noise"] * pop["hit_rate_noise"]) / evaluated
    out["hit_rate_improvement_bound"] = round(bound / pop["hit_rate_at_5"] - 1, 4)
    out["us_per_person"] = round(seconds / max(1, evaluated) / 2 * 1e6, 1)
    return out


# --- click log -------------------------------------------------------------------------------


def _per_call_us(fn: Any, n: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs of ``n`` calls, in µs per call."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def clicklog_costs(records: int) -> dict[str, Any]:
    """µs per ``record`` and per request through the middleware, beside the machine limit."""
    suite = get_suite("intl")
    log = ClickLog(MemoryStore(), suite.hash, secrets.token_bytes(32), max_pending=10**9)
    users = [f"citizen/{i:016x}" for i in range(1000)]

    def limit(n: int) -> None:
        out: list[dict[str, Any]] = []
        for i in range(n):
            out.append({"t": time.time(), "who": users[i % 1000], "path": "/services"})

    def record(n: int) -> None:
        for i in range(n):
            log.record(users[i % 1000], "view", "/services/330100-XK-0001")

    limit_us = _per_call_us(limit, records)
    record_us = _per_call_us(record, records)
    pending = log.pending()
    started = time.perf_counter()
    head = log.flush()
    flush_s = time.perf_counter() - started
    request = middleware_costs(max(1000, records // 20))
    return {
        "records": records,
        "record_us": round(record_us, 3),
        "machine_limit_time_dict_append_us": round(limit_us, 3),
        "flush_events": pending,
        "flush_s": round(flush_s, 4),
        "flush_us_per_event": round(flush_s / max(1, pending) * 1e6, 2),
        "batch_root": head.root if head else "",
        **request,
    }


def middleware_costs(requests: int) -> dict[str, Any]:
    """µs per request of an application that answers at once, with and without the
    recording middleware (a logged-in person viewing a page they clicked to)."""
    suite = get_suite("intl")
    log = ClickLog(MemoryStore(), suite.hash, secrets.token_bytes(32), max_pending=10**9)
    sessions = SessionStore()
    session = PortalSession(
        "sid-1", "citizen/0123456789abcdef", "citizen", "王伟", "", "", "", "", ""
    )
    sessions.add(session)

    class State:
        clicklog = log
        portal = type("P", (), {"sessions": sessions})()

    class App:
        state = State()

    async def page(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": b"<p>ok</p>"})

    wrapped = ClickRecorder(page)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/services/330100-XK-0001",
        "query_string": b"",
        "app": App(),
        "headers": [
            (b"host", b"testserver"),
            (b"cookie", f"{COOKIE}=sid-1; govchain_lang=zh".encode()),
            (b"referer", b"https://testserver/services?q=%E9%A3%9F%E5%93%81"),
        ],
        "scheme": "https",
        "server": ("testserver", 443),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run(app: Any, n: int) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(n):
                await app(dict(scope), receive, send)
            best = min(best, time.perf_counter() - started)
        return best / n * 1e6

    async def both() -> tuple[float, float]:
        return await run(page, requests), await run(wrapped, requests)

    bare_us, with_us = anyio.run(both)
    recorded = log.pending()
    return {
        "requests": requests,
        "request_bare_us": round(bare_us, 2),
        "request_with_clicklog_us": round(with_us, 2),
        "clicklog_added_per_request_us": round(with_us - bare_us, 2),
        "requests_recorded": recorded,
        "target_added_us": TARGET_REQUEST_US,
    }


# --- main ------------------------------------------------------------------------------------


def run(count: int, seed: int, records: int, draws: int = 4) -> dict[str, Any]:
    """Run both parts; return the figures."""
    started = time.perf_counter()
    definitions, companies, journeys = history(count, seed)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    build_model(definitions, [seq for seq, _ in journeys])
    build_s = time.perf_counter() - started
    lengths = Counter(len(s) for s, _ in journeys)
    last = Counter(s[-1] for s, _ in journeys if len(s) >= 2)
    quality = evaluate(definitions, companies, journeys)
    others = spread(count, seed, draws)
    return {
        "enterprises": count,
        "seed": seed,
        "k": K,
        "services": len(definitions),
        "journey_lengths": {str(n): lengths[n] for n in sorted(lengths)},
        "held_out_services": dict(last.most_common()),
        "generate_s": round(generate_s, 3),
        "model_build_ms": round(build_s * 1000, 2),
        "target_improvement": TARGET_IMPROVEMENT,
        **quality,
        "other_drawings": others,
        "clicklog": clicklog_costs(records),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run and print the benchmark; write ``bench/results/recommend.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--enterprises", type=int, default=1000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--draws", type=int, default=4, help="other drawings of the journeys")
    p.add_argument("--quick", action="store_true", help="300 enterprises, 10,000 records")
    args = p.parse_args(argv)
    if args.quick:
        args.enterprises, args.records, args.draws = 300, 10_000, 1
    r = run(args.enterprises, args.seed, args.records, args.draws)
    rec, pop, imp = r["recommender"], r["popularity"], r["improvement"]
    c = r["clicklog"]
    print(
        f"[recommend] {r['enterprises']:,} enterprises of the demo (seed {r['seed']}), "
        f"{r['evaluated']:,} with a held-out last service; {r['services']} services; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"  recommender        hit rate@{K} {rec['hit_rate_at_5']:.3f}   "
        f"MRR@{K} {rec['mrr_at_5']:.3f}"
        f"   ({r['us_per_person']} µs per person; hits by method {r['hits_by_method']})"
    )
    print(
        f"  popularity         hit rate@{K} {pop['hit_rate_at_5']:.3f}   "
        f"MRR@{K} {pop['mrr_at_5']:.3f}"
        "   (baseline: the most used services the person has not used)"
    )
    print(
        f"  improvement        hit rate {imp['hit_rate_at_5']:+.1%}   MRR {imp['mrr_at_5']:+.1%}"
        f"   (target ≥ +{TARGET_IMPROVEMENT:.0%} on both; hit rate with every rule-following "
        f"service found: {r['hit_rate_improvement_bound']:+.1%})"
    )
    o = r["other_drawings"]
    print(
        f"  other drawings     hit rate {o['hit_rate_at_5']['min']:+.1%} … "
        f"{o['hit_rate_at_5']['max']:+.1%} (mean {o['hit_rate_at_5']['mean']:+.1%}),   MRR "
        f"{o['mrr_at_5']['min']:+.1%} … {o['mrr_at_5']['max']:+.1%}   (journey seeds "
        f"{o['journey_seeds'][0]}–{o['journey_seeds'][-1]}, same enterprises: chance at this size)"
    )
    print(
        f"  by held-out kind   rules ({r['held_out_rules']}): recommender "
        f"{rec['hit_rate_rules']:.3f}, popularity {pop['hit_rate_rules']:.3f};   noise "
        f"({r['held_out_noise']}): recommender {rec['hit_rate_noise']:.3f}, popularity "
        f"{pop['hit_rate_noise']:.3f}"
    )
    print(
        f"  click log record   {c['record_us']:8.3f} µs per call   (machine limit: "
        f"{c['machine_limit_time_dict_append_us']:.3f} µs for time.time() + a dict appended)"
    )
    print(
        f"  per request        {c['clicklog_added_per_request_us']:8.2f} µs added by the "
        "middleware "
        f"({c['request_bare_us']:.2f} → {c['request_with_clicklog_us']:.2f} µs; target "
        f"< {TARGET_REQUEST_US:.0f} µs)"
    )
    print(
        f"  batch write        {c['flush_s'] * 1000:8.1f} ms for {c['flush_events']:,} events "
        f"({c['flush_us_per_event']} µs per event, in the background writer)"
    )
    print(f"[recommend] wrote {write_result('recommend', r)}")
    return r


if __name__ == "__main__":
    main()
