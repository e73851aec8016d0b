"""Service catalogue search: build time of the index over 2,000 synthetic service definitions and
the latency (p50/p95/p99) of a realistic query mix, printed beside this machine's limits measured
in the same run: one uncached jieba word cut of a query, and a Python dict lookup.

Usage: ``python -m bench.catalogue_bench [--definitions N] [--queries N] [--seed S] [--quick]``;
writes ``bench/results/catalogue.json``. Target: search p95 < 20 ms over 2,000 definitions.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from typing import Any

from bench.common import peak_rss_mib, write_result
from govchain.procedures.catalogue import Catalogue
from govchain.sharing.search import tokens

# (zh, en, owning department, law the matter rests on): matters of a city's service catalogue.
OBJECTS = [
    ("食品", "food", "market", "食品安全法"),
    ("药品", "drug", "mpa", "药品管理法"),
    ("医疗器械", "medical device", "mpa", "医疗器械监督管理条例"),
    ("化妆品", "cosmetics", "mpa", "化妆品监督管理条例"),
    ("道路货物运输", "road freight transport", "transport", "道路运输条例"),
    ("道路旅客运输", "road passenger transport", "transport", "道路运输条例"),
    ("水路运输", "waterway transport", "transport", "国内水路运输管理条例"),
    ("建筑工程施工", "building construction", "housing", "建筑法"),
    ("燃气经营", "gas supply", "housing", "城镇燃气管理条例"),
    ("户外广告设施", "outdoor advertising", "housing", "城市市容和环境卫生管理条例"),
    ("消防设施", "fire protection facility", "fire", "消防法"),
    ("公共场所卫生", "public place hygiene", "health", "公共场所卫生管理条例"),
    ("放射诊疗", "radiological diagnosis", "health", "放射诊疗管理规定"),
    ("医疗机构", "medical institution", "health", "医疗机构管理条例"),
    ("烟草专卖零售", "tobacco retail", "tobacco", "烟草专卖法"),
    ("出版物经营", "publication distribution", "press", "出版管理条例"),
    ("排污", "pollutant discharge", "eco", "环境保护法"),
    ("危险废物经营", "hazardous waste", "eco", "固体废物污染环境防治法"),
    ("危险化学品经营", "hazardous chemicals", "emergency", "危险化学品安全管理条例"),
    ("特种设备使用", "special equipment", "market", "特种设备安全法"),
    ("农作物种子生产经营", "crop seed", "agri", "种子法"),
    ("兽药经营", "veterinary drug", "agri", "兽药管理条例"),
    ("渔业捕捞", "fishing", "agri", "渔业法"),
    ("林木采伐", "timber felling", "forestry", "森林法"),
    ("取水", "water abstraction", "water", "水法"),
    ("人力资源服务", "human resources service", "hrss", "人力资源市场暂行条例"),
    ("劳务派遣经营", "labour dispatch", "hrss", "劳动合同法"),
    ("民办学校办学", "private school", "edu", "民办教育促进法"),
    ("养老机构", "elderly care institution", "civil", "老年人权益保障法"),
    ("旅行社业务经营", "travel agency", "culture", "旅游法"),
    ("娱乐场所经营", "entertainment venue", "culture", "娱乐场所管理条例"),
    ("网络文化经营", "internet culture", "culture", "互联网文化管理暂行规定"),
    ("广播电视节目制作", "radio and television production", "radio", "广播电视管理条例"),
    ("增值电信业务", "value-added telecom services", "miit", "电信条例"),
    ("爆破作业", "blasting operations", "police", "民用爆炸物品安全管理条例"),
    ("典当", "pawn", "commerce", "典当管理办法"),
    ("拍卖", "auction", "commerce", "拍卖法"),
    ("粮食收购", "grain purchase", "grain", "粮食流通管理条例"),
    ("测绘资质", "surveying qualification", "nr", "测绘法"),
    ("建设用地规划", "construction land planning", "nr", "城乡规划法"),
]
# (zh, en, category)
ACTIONS = [
    ("许可", "permit", "permit"),
    ("许可证核发", "permit issue", "permit"),
    ("备案", "filing", "filing"),
    ("登记", "registration", "registration"),
    ("许可变更", "permit change", "change"),
    ("许可注销", "permit deregistration", "deregistration"),
    ("年检", "annual inspection", "inspection"),
    ("核准", "approval", "permit"),
    ("许可延续", "permit renewal", "permit"),
    ("资格认定", "qualification", "certification"),
]
SUBJECTS = [("", ""), ("企业", "enterprise "), ("个体工商户", "individual business ")]
SUBJECTS += [("分支机构", "branch "), ("外商投资企业", "foreign-invested enterprise ")]
MATERIALS = [
    ("营业执照", "Business licence"),
    ("法定代表人身份证明", "Identity document of the legal representative"),
    ("经营场所证明", "Proof of business premises"),
    ("安全管理制度", "Safety management rules"),
    ("专业技术人员资格证明", "Qualification certificates of technical staff"),
    ("主要设备清单", "List of main equipment"),
    ("检测报告", "Test report"),
    ("环境影响评价文件", "Environmental impact assessment"),
    ("消防验收合格证明", "Fire acceptance certificate"),
    ("场所平面图", "Floor plan of the premises"),
    ("授权委托书", "Power of attorney"),
    ("章程", "Articles of association"),
    ("从业人员健康证明", "Health certificates of the staff"),
    ("应急预案", "Emergency plan"),
    ("原许可证正副本", "Original permit"),
]
STEPS = [
    ("受理", "Acceptance"),
    ("审查", "Review"),
    ("现场核查", "On-site inspection"),
    ("专家评审", "Expert review"),
    ("决定", "Decision"),
    ("送达", "Delivery"),
]
NUMERALS = "一二三四五六七八九十"
CO_HANDLERS = ["tax", "hrss", "fire", "eco", "health", "market"]
NO_HIT = ["潜水艇", "月球车", "submarine", "quantum", "火星探测", "zebra crossing"]


def _article(rng: random.Random) -> str:
    n = rng.randint(1, 60)
    tens, units = divmod(n, 10)
    zh = (NUMERALS[tens - 1] if tens > 1 else "") + ("十" if tens else "")
    return zh + (NUMERALS[units - 1] if units else "")


def make_definitions(count: int, seed: int) -> list[dict[str, Any]]:
    """Return ``count`` service definitions built from the lists above (same seed, same set)."""
    rng = random.Random(seed)
    combos = [(o, a, s) for o in OBJECTS for a in ACTIONS for s in SUBJECTS]
    rng.shuffle(combos)
    out = []
    for i in range(count):
        # Past the number of combinations the same matter appears again at another level
        # of government, as it does in real catalogues.
        (zh, en, dept, law), (act_zh, act_en, category), (subj_zh, subj_en) = combos[
            i % len(combos)
        ]
        name_zh = f"{subj_zh}{zh}{act_zh}"
        name_en = f"{subj_en}{en} {act_en}".capitalize()
        mats = rng.sample(MATERIALS, rng.randint(2, 6))
        out.append(
            {
                "code": f"{330100 + i // len(combos)}-{category[:2].upper()}-{i:05d}",
                "version": 1,
                "category": category,
                "name": {"zh": name_zh, "en": name_en},
                "summary": {
                    "zh": f"申请{name_zh}，提交材料经审查符合条件的予以办理",
                    "en": f"Apply for {name_en.lower()}; granted when the materials qualify",
                },
                "owner": dept,
                "co_handlers": rng.sample(CO_HANDLERS, rng.randint(0, 2)),
                "keywords": rng.sample([zh, act_zh, f"{zh}{act_zh[:2]}"], rng.randint(0, 2)),
                "legal_basis": [f"《中华人民共和国{law}》第{_article(rng)}条"],
                "materials": [
                    {"id": "m0", "name": {"zh": f"{name_zh}申请书", "en": "Application form"}},
                    *(
                        {"id": f"m{j}", "name": {"zh": m_zh, "en": m_en}}
                        for j, (m_zh, m_en) in enumerate(mats, 1)
                    ),
                ],
                "steps": [
                    {"id": f"s{j}", "name": {"zh": s_zh, "en": s_en}, "dept": dept}
                    for j, (s_zh, s_en) in enumerate(rng.sample(STEPS, rng.randint(2, 5)))
                ],
            }
        )
    return out


def make_queries(defs: list[dict[str, Any]], count: int, seed: int) -> list[tuple[str, str]]:
    """Return ``count`` ``(kind, query)`` pairs: 30% one Chinese word, 25% two Chinese words,
    20% English, 15% clipped names (bigram fallback), 10% words no service has."""
    rng = random.Random(seed + 1)
    out: list[tuple[str, str]] = []
    for _ in range(count):
        r = rng.random()
        o_zh, o_en, _, _ = rng.choice(OBJECTS)
        a_zh, a_en, _ = rng.choice(ACTIONS)
        if r < 0.30:
            q = rng.choice([o_zh, a_zh, rng.choice(MATERIALS)[0], o_zh[:2]])
            out.append(("zh_word", q))
        elif r < 0.55:
            out.append(("zh_two_words", rng.choice([f"{o_zh}{a_zh}", f"{o_zh} {a_zh}"])))
        elif r < 0.75:
            q = rng.choice([f"{o_en} {a_en}", o_en, f"{a_en}s", rng.choice(MATERIALS)[1]])
            out.append(("english", q))
        elif r < 0.90:
            # Three characters from inside a name (路货运, 防安检): often no word jieba knows.
            name = rng.choice(defs)["name"]["zh"]
            start = rng.randint(1, max(1, len(name) - 4))
            out.append(("clipped", name[start : start + 3]))
        else:
            out.append(("no_hit", rng.choice(NO_HIT)))
    return out


def _percentile(sorted_ms: list[float], p: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * p))]


def tokens_uncached_us(queries: list[str]) -> float:
    """Median µs of one jieba word cut of a query, bypassing the ``tokens`` cache."""
    cut = tokens.__wrapped__
    times = []
    for q in queries:
        t = time.perf_counter()
        cut(q)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def dict_lookup_ns(n: int = 1_000_000) -> float:
    """ns per lookup of a loop of string-keyed dict lookups (the inner loop a search runs)."""
    table = {f"330100-XK-{i:05d}": i for i in range(2000)}
    keys = list(table) * (n // 2000)
    rounds = []
    for _ in range(3):
        t = time.perf_counter()
        for k in keys:
            table[k]
        rounds.append((time.perf_counter() - t) / len(keys) * 1e9)
    return min(rounds)


def run(definitions: int, queries: int, seed: int) -> dict[str, Any]:
    """Build the catalogue, run the queries, measure the machine limits; return the figures."""
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    tokens("加载词典")  # jieba loads its dictionary on first use; not part of the build
    dictionary_s = time.perf_counter() - t
    defs = make_definitions(definitions, seed)
    rss_before = peak_rss_mib()
    t = time.perf_counter()
    catalogue = Catalogue(defs)
    build_s = time.perf_counter() - t
    rss_after = peak_rss_mib()

    mix = make_queries(defs, queries, seed)
    rng = random.Random(seed + 2)
    by_kind: dict[str, list[float]] = {}
    all_ms: list[float] = []
    cpu_ms: list[float] = []
    hits_returned = 0
    for kind, q in mix:
        # One query in ten narrows to a category, as the portal's filter does.
        category = rng.choice(ACTIONS)[2] if rng.random() < 0.1 else None
        cpu = time.thread_time()
        t = time.perf_counter()
        hits = catalogue.search(q, category=category)
        ms = (time.perf_counter() - t) * 1e3
        cpu_ms.append((time.thread_time() - cpu) * 1e3)
        hits_returned += len(hits)
        by_kind.setdefault(kind, []).append(ms)
        all_ms.append(ms)
    all_ms.sort()
    cpu_ms.sort()
    kinds = {
        kind: {
            "queries": len(ms),
            "p50_ms": round(statistics.median(ms), 3),
            "p95_ms": round(_percentile(sorted(ms), 0.95), 3),
        }
        for kind, ms in sorted(by_kind.items())
    }
    tok_us = tokens_uncached_us([q for _, q in mix[:1000]])
    lookup_ns = dict_lookup_ns()
    return {
        "loadavg_1m_before": round(load_before, 2),
        "definitions": definitions,
        "queries": queries,
        "seed": seed,
        "jieba_dictionary_load_s": round(dictionary_s, 3),
        "build_s": round(build_s, 3),
        "build_us_per_definition": round(build_s / definitions * 1e6, 1),
        "index_rss_growth_mib": round(rss_after - rss_before, 1),
        "search_p50_ms": round(_percentile(all_ms, 0.50), 3),
        "search_p95_ms": round(_percentile(all_ms, 0.95), 3),
        "search_p99_ms": round(_percentile(all_ms, 0.99), 3),
        "search_max_ms": round(all_ms[-1], 3),
        "search_cpu_p50_ms": round(_percentile(cpu_ms, 0.50), 3),
        "search_cpu_p95_ms": round(_percentile(cpu_ms, 0.95), 3),
        "search_cpu_p99_ms": round(_percentile(cpu_ms, 0.99), 3),
        "mean_hits": round(hits_returned / queries, 1),
        "by_kind": kinds,
        "target_p95_ms": 20,
        "machine_limit": {
            "tokens_uncached_us": round(tok_us, 1),
            "dict_lookup_ns": round(lookup_ns, 1),
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run and print the benchmark; write ``bench/results/catalogue.json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--definitions", type=int, default=2000)
    p.add_argument("--queries", type=int, default=5000)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--quick", action="store_true", help="300 definitions, 500 queries")
    args = p.parse_args(argv)
    if args.quick:
        args.definitions, args.queries = 300, 500
    r = run(args.definitions, args.queries, args.seed)
    lim = r["machine_limit"]
    print(
        f"[catalogue] {r['definitions']:,} service definitions, {r['queries']:,} queries "
        f"(one thread; load average {r['loadavg_1m_before']} on {os.cpu_count()} cores before)"
    )
    print(
        f"  build index        {r['build_s']:8.3f} s   ({r['build_us_per_definition']} µs per "
        f"definition; +{r['index_rss_growth_mib']} MiB peak RSS; jieba dictionary load "
        f"{r['jieba_dictionary_load_s']} s before)"
    )
    print(
        f"  search             {r['search_p50_ms']:8.3f} ms p50, {r['search_p95_ms']:.3f} ms p95, "
        f"{r['search_p99_ms']:.3f} ms p99, {r['search_max_ms']:.3f} ms max "
        f"(target p95 < {r['target_p95_ms']} ms; {r['mean_hits']} hits per query)"
    )
    print(
        f"  search CPU time    {r['search_cpu_p50_ms']:8.3f} ms p50, "
        f"{r['search_cpu_p95_ms']:.3f} ms p95, {r['search_cpu_p99_ms']:.3f} ms p99 (this "
        "thread's CPU time: the figure other jobs on the machine do not move)"
    )
    for kind, k in r["by_kind"].items():
        print(
            f"    {kind:<16} {k['p50_ms']:8.3f} ms p50, {k['p95_ms']:.3f} ms p95 ({k['queries']:,})"
        )
    print(
        f"  machine limit      {lim['tokens_uncached_us']:8.1f} µs  one uncached jieba cut of a "
        f"query; {lim['dict_lookup_ns']:.1f} ns per dict lookup "
        f"(p95 = {r['search_p95_ms'] * 1e6 / lim['dict_lookup_ns']:,.0f} lookups)"
    )
    print(f"[catalogue] wrote {write_result('catalogue', r)}")
    return r


if __name__ == "__main__":
    main()
