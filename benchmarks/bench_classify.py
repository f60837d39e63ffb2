"""Per-call cost of the User-Agent classifier, ``Guard().classifier.user_agent(ua)``.

Every request the middleware sees is classified by its User-Agent, so this is the one piece of
noaiguard whose cost is paid on every request. Two scenarios, one run:

repeated
    The corpus (``tests/data/user_agents.txt``: real browser and bot User-Agents) cycled many times
    through one guard. After the first pass every call is an LRU-cache hit, which is what a site
    sees from its regular visitors. Goal: median below 2 us.
unique
    Variants of the corpus in which no string repeats (browsers get other version and build
    numbers, bots a unique token), through a fresh guard whose cache has never seen them. Every
    call pays the Aho-Corasick scan and, for anything not in the crawler database, ua-parser's Rust
    resolver. This is the cost of a flood of never-repeating User-Agents. Goals: median below
    30 us, p99 below 100 us.

For comparison, and only for information, a sample of other unique variants goes through
``user_agents.parse``, the pure-Python parser the classifier avoids; it is timed in blocks
interleaved with the unique pass so that both see the same machine.

Each call is timed on its own with ``time.perf_counter_ns`` (the timer's own overhead, printed
first, is included in every figure), after a warm-up, with the garbage collector off. Timings are
printed, never asserted.

    python benchmarks/bench_classify.py [--rounds 200] [--unique 20000] [--parse-sample 400]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from noaiguard.config import Config, StoreConfig
from noaiguard.guard import Guard

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "user_agents.txt"

#: Goals, in nanoseconds.
REPEATED_MEDIAN_GOAL = 2_000
UNIQUE_MEDIAN_GOAL = 30_000
UNIQUE_P99_GOAL = 100_000


# -- corpus ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corpus:
    browsers: tuple[str, ...]
    bots: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.browsers + self.bots


def load_corpus(path: Path = CORPUS) -> Corpus:
    """Read the corpus; ``# [browsers]`` and ``# [bots]`` comment lines start the sections."""
    sections: dict[str, list[str]] = {"browsers": [], "bots": []}
    current = "browsers"
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            marker = line.lstrip("# ").rstrip()
            if marker in ("[browsers]", "[bots]"):
                current = marker[1:-1]
            continue
        if line:
            sections[current].append(line)
    return Corpus(tuple(sections["browsers"]), tuple(sections["bots"]))


# -- unique variants ------------------------------------------------------------------------------

#: ``Product/1.2.3``; products whose version every browser freezes are left alone.
_PRODUCT_VERSION = re.compile(r"(?P<product>[A-Za-z][\w-]*)/(?P<version>\d+(?:\.\d+)*)(?![\w+])")
_FROZEN_PRODUCTS = frozenset({"mozilla", "applewebkit", "safari", "gecko", "trident", "presto"})
_IOS_VERSION = re.compile(r"(?<=OS )(\d+)_(\d+)(?:_(\d+))?(?= like Mac OS X)")
_ANDROID_VERSION = re.compile(r"(?<=Android )(\d+(?:\.\d+)*)(?=[;)])")
_ANDROID_BUILD = re.compile(r"(?<=Build/)[\w.]+")
_DIGIT = re.compile(r"\d")
_ANDROID_RELEASES = ("4.4.2", "5.1.1", "6.0.1", "7.0", "8.1.0", "9", "10", "11", "12", "13", "14")
_GECKO_RV = re.compile(r"(?<=rv:)(\d+)(?=\.0\))")
#: Tokens old Windows browsers carried in their comment, in varying sets (installed software,
#: OEM builds); a random subset makes an old IE User-Agent new when no version can change.
_WINDOWS_TOKENS = (
    "InfoPath.2",
    "InfoPath.3",
    "MDDRJS",
    "MAAU",
    "MALNJS",
    "MANM",
    "LCJB",
    "BRI/2",
    "Zoom 3.6.0",
    "ms-office",
    "Tablet PC 2.0",
    ".NET CLR 1.1.4322",
    "GWX:QUALIFIED",
    "MASMJS",
)


def _new_version(version: str, rng: random.Random) -> str:
    """Another plausible version of the same shape: an older (or slightly newer) major, the same
    minor, other build and patch numbers."""
    major, *rest = version.split(".")
    number = int(major)
    if number >= 5:
        number = rng.randint(max(number // 2, number - 20), number + 2)
    parts = [str(number)]
    for index, part in enumerate(rest):
        if index == 0:
            # Minors are 0 in most browsers (keep them); Safari's move (17.2, 17.4...).
            parts.append(part if part == "0" else str(rng.randint(1, 9)))
        else:
            digits = max(len(part), 3 if index == 1 else 2)
            parts.append(str(rng.randrange(10 ** (digits - 1), 10**digits)))
    if len(parts) == 2 and parts[1] != "0" and rng.random() < 0.5:
        parts.append(str(rng.randint(1, 3)))  # Safari's point releases: 17.4.1
    return ".".join(parts)


def _mutate_browser(ua: str, rng: random.Random) -> str:
    def product(match: re.Match[str]) -> str:
        if match["product"].lower() in _FROZEN_PRODUCTS:
            return match[0]
        return f"{match['product']}/{_new_version(match['version'], rng)}"

    def ios(match: re.Match[str]) -> str:
        major = rng.randint(max(9, int(match[1]) - 4), int(match[1]))
        return f"{major}_{rng.randint(0, 7)}_{rng.randint(1, 9)}"

    def android(match: re.Match[str]) -> str:
        return rng.choice(_ANDROID_RELEASES)

    def build_id(match: re.Match[str]) -> str:
        return _DIGIT.sub(lambda _: str(rng.randint(0, 9)), match[0])

    def gecko_rv(match: re.Match[str]) -> str:
        return str(rng.randint(max(int(match[1]) // 2, int(match[1]) - 20), int(match[1])))

    ua = _PRODUCT_VERSION.sub(product, ua)
    ua = _IOS_VERSION.sub(ios, ua)
    if "Firefox/" in ua:
        ua = _GECKO_RV.sub(gecko_rv, ua)
    ua = _ANDROID_BUILD.sub(build_id, ua)
    return _ANDROID_VERSION.sub(android, ua)


def _add_windows_tokens(ua: str, rng: random.Random) -> str:
    """Old IE: the same browser with another set of installed-software tokens."""
    tokens = "; ".join(rng.sample(_WINDOWS_TOKENS, rng.randint(1, 5)))
    at = ua.find("; rv:")
    if at < 0:
        at = ua.find(")")
    return f"{ua[:at]}; {tokens}{ua[at:]}"


def unique_variants(
    corpus: Corpus, count: int, *, seed: int, avoid: Iterable[str] = ()
) -> tuple[list[str], list[str], int]:
    """``count`` distinct User-Agents derived from the corpus, none in ``avoid``.

    Returns the strings, their kind ("browser" or "bot") and how many browsers needed a made-up
    token because nothing plausible made them new (a PlayStation has no version that changes).
    """
    rng = random.Random(seed)
    seen = set(corpus.all) | set(avoid)
    bases = [(ua, "browser") for ua in corpus.browsers] + [(ua, "bot") for ua in corpus.bots]
    out: list[str] = []
    kinds: list[str] = []
    extra_tokens = 0
    serial = 0
    while len(out) < count:
        base, kind = bases[serial % len(bases)]
        serial += 1
        if kind == "bot":
            # Bots keep their text; a per-request id makes each one new, as some crawlers send.
            candidate = f"{base} id/{seed:x}{serial:06x}"
        else:
            for attempt in range(16):
                candidate = _mutate_browser(base, rng)
                if attempt >= 4 and "Windows NT" in base:
                    candidate = _add_windows_tokens(candidate, rng)
                if candidate not in seen:
                    break
            else:
                extra_tokens += 1
                head, sep, tail = base.partition(")")
                candidate = f"{head}; {seed:x}{serial:06x}{sep}{tail}"
        if candidate in seen:
            continue
        seen.add(candidate)
        out.append(candidate)
        kinds.append(kind)
    return out, kinds, extra_tokens


# -- timing ---------------------------------------------------------------------------------------


def time_calls(fn: Callable[[str], object], inputs: Sequence[str]) -> list[int]:
    """Nanoseconds of each ``fn(ua)`` call, one timer pair per call. The GC stays as it was."""
    clock = time.perf_counter_ns
    out = [0] * len(inputs)
    for index, ua in enumerate(inputs):
        start = clock()
        fn(ua)
        out[index] = clock() - start
    return out


def timer_overhead(samples: int = 20_000) -> int:
    clock = time.perf_counter_ns
    deltas = []
    for _ in range(samples):
        start = clock()
        deltas.append(clock() - start)
    return percentile(deltas, 50)


def percentile(values: Sequence[int], pct: float) -> int:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class GCDisabled:
    def __enter__(self) -> None:
        gc.collect()
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was_enabled:
            gc.enable()


def new_guard() -> Guard:
    """The default configuration, with events kept in memory (nothing is written anyway)."""
    return Guard(Config(store=StoreConfig(url="memory://")))


# -- scenarios ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    samples: list[int]

    @property
    def median(self) -> int:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> int:
        return percentile(self.samples, 99)


def bench_repeated(corpus: Corpus, rounds: int) -> Result:
    guard = new_guard()
    classify = guard.classifier.user_agent
    inputs = list(corpus.all) * rounds
    time_calls(classify, list(corpus.all) * 5)  # warm-up: fills the cache
    with GCDisabled():
        samples = time_calls(classify, inputs)
    info = classify.cache_info()
    if info.misses != len(corpus.all):
        print(f"note: {info.misses} cache misses in the repeated scenario", file=sys.stderr)
    guard.close()
    return Result("repeated UAs (cache warm)", samples)


def bench_unique(
    unique: list[str], warmup: list[str], parse_sample: list[str], block: int = 500
) -> tuple[Result, Result]:
    """The unique pass through a fresh guard, interleaved in blocks with user_agents.parse."""
    import user_agents

    guard = new_guard()
    classify = guard.classifier.user_agent
    time_calls(classify, warmup)
    time_calls(user_agents.parse, warmup[:20])
    hits_before = classify.cache_info().hits

    blocks = max(1, -(-len(unique) // block))
    per_block = -(-len(parse_sample) // blocks) if parse_sample else 0
    ours: list[int] = []
    theirs: list[int] = []
    with GCDisabled():
        for index in range(blocks):
            ours += time_calls(classify, unique[index * block : (index + 1) * block])
            theirs += time_calls(
                user_agents.parse, parse_sample[index * per_block : (index + 1) * per_block]
            )
    hits = classify.cache_info().hits - hits_before
    if hits:
        print(f"note: {hits} cache hits in the unique scenario (expected none)", file=sys.stderr)
    guard.close()
    return Result("unique UAs (cache cold)", ours), Result("user_agents.parse (info)", theirs)


# -- report ---------------------------------------------------------------------------------------


def _us(ns: int) -> str:
    return f"{ns / 1000:,.2f} us"


def _verdict(value: int, goal: int) -> str:
    return "PASS" if value < goal else "MISS"


def report(
    repeated: Result,
    unique: Result,
    parse: Result,
    kinds: list[str],
    overhead: int,
) -> None:
    rows: list[tuple[str, str, str, str, str, str]] = [
        (
            repeated.name,
            f"{len(repeated.samples):,}",
            _us(repeated.median),
            _us(repeated.p99),
            f"median < {_us(REPEATED_MEDIAN_GOAL)}",
            _verdict(repeated.median, REPEATED_MEDIAN_GOAL),
        ),
        (
            unique.name,
            f"{len(unique.samples):,}",
            _us(unique.median),
            _us(unique.p99),
            f"median < {_us(UNIQUE_MEDIAN_GOAL)}",
            _verdict(unique.median, UNIQUE_MEDIAN_GOAL),
        ),
        ("", "", "", "", f"p99 < {_us(UNIQUE_P99_GOAL)}", _verdict(unique.p99, UNIQUE_P99_GOAL)),
    ]
    for kind in ("browser", "bot"):
        part = [ns for ns, k in zip(unique.samples, kinds, strict=True) if k == kind]
        if part:
            rows.append(
                (
                    f"  of which {kind}s",
                    f"{len(part):,}",
                    _us(percentile(part, 50)),
                    _us(percentile(part, 99)),
                    "(info)",
                    "",
                )
            )
    if parse.samples:
        rows.append(
            (
                parse.name,
                f"{len(parse.samples):,}",
                _us(parse.median),
                _us(parse.p99),
                "(info)",
                "",
            )
        )
    header = ("scenario", "calls", "median", "p99", "goal", "result")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3}

    def line(row: Sequence[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))
    print()
    print(f"timer overhead included in every call: ~{overhead} ns")
    if parse.samples:
        ratio = parse.median / unique.median
        print(f"user_agents.parse / classifier, median on unique UAs: {ratio:,.0f}x")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=200, help="passes over the corpus, cache warm (200)"
    )
    parser.add_argument(
        "--unique", type=int, default=20_000, metavar="N", help="unique User-Agents (20000)"
    )
    parser.add_argument(
        "--parse-sample",
        type=int,
        default=400,
        metavar="N",
        help="unique User-Agents also timed through user_agents.parse, 0 to skip (400)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the unique variants (1)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.unique < 1 or args.parse_sample < 0:
        parser.error("--rounds and --unique must be at least 1, --parse-sample at least 0")

    corpus = load_corpus()
    print(
        f"corpus: {len(corpus.browsers)} browser and {len(corpus.bots)} bot User-Agents "
        f"({CORPUS.name}); Python {sys.version.split()[0]}"
    )
    new_guard().close()  # builds ua-parser's rule set (process-wide, ~0.15 s) outside the timing

    unique, kinds, extra = unique_variants(corpus, args.unique, seed=args.seed)
    others, _, _ = unique_variants(
        corpus, 1_000 + args.parse_sample, seed=args.seed + 1, avoid=unique
    )
    warmup, parse_sample = others[:1_000], others[1_000:]
    print(
        f"unique variants: {len(unique):,} ({kinds.count('browser'):,} browsers, "
        f"{kinds.count('bot'):,} bots; {extra} browsers needed a made-up token)"
    )
    print()

    overhead = timer_overhead()
    repeated = bench_repeated(corpus, args.rounds)
    unique_result, parse_result = bench_unique(unique, warmup, parse_sample)
    report(repeated, unique_result, parse_result, kinds, overhead)
    return 0


if __name__ == "__main__":
    sys.exit(main())
