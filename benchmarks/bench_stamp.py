"""Stamping throughput at rest, and what stamping image responses on the fly costs a server.

noaiguard writes the IPTC ``plus:DataMining`` opt-out into JPEG, PNG and WebP files
(:mod:`noaiguard.stamping`). The images are made with Pillow when the script starts, in a temporary
folder: pictures of soft colour fields, texture and fine grain from a seeded generator (the same
bytes every run), which compress as photographs do, with the metadata real files carry (Exif, an
sRGB ICC profile, and in the exported JPEGs a padded XMP packet as Lightroom writes it, which the
stamp is merged into).

**At rest.** ``stamp_bytes`` in this process, on each of a 12 MP camera JPEG (~5.3 MB, Exif with a
maker note, ICC), a 2 MP exported JPEG (with XMP), a PNG (~4 MB, ICC) and a WebP (~1 MB): after
three warm-up calls, ``--repeats`` calls per file, each timed alone; MB/s is input bytes (MB =
10^6 bytes) over the time of one call, median and best. For scale, the same for one copy of the
file (``data + b"\\0"``), since a stamped file is a new ``bytes`` object. Then the whole command,
``noaiguard stamp FOLDER --out OUT`` in a subprocess, on a folder of 200 files in year folders
(120 JPEGs of 1-4 MP, half with XMP, 40 PNGs, 40 WebPs), by wall time, including the interpreter's
start, the file reads and the writes (each file is written to a temporary name, fsynced and renamed,
as the command does): ``--command-runs`` runs into fresh output folders, alternating with the same
command on an empty folder (the fixed cost: start and imports), and, to split the time, the reads
and ``stamp_bytes`` over the same folder in this process with no writes. The files are in the page
cache (just written).

**On the fly (the headline).** Two uvicorn processes serve the same images with Starlette's
``StaticFiles`` behind ``NoAIGuardMiddleware`` (``_bench_stamp_app.py``: default configuration,
events in memory, behaviour limits out of wrk's reach): ``unstamped``, and ``stamped`` with
``signals.stamp_images.enabled: true``. Before any load, each image is fetched from both: the
stamped body must be exactly what ``stamp_bytes`` makes of the file and read back as
``DMI-PROHIBITED-AIMLTRAINING`` with a matching Content-Length, and the unstamped body must be the
file itself; otherwise the script exits with status 1, as a benchmark of a path that does not run
measures nothing. Scenarios:

- ``jpeg``: a 2048 x 1365 portfolio JPEG (~0.64 MB; Exif, ICC and XMP, so the stamp is merged);
- ``png``: a 1000 x 667 PNG (~1.1 MB);
- ``webp``: a 1600 x 1067 WebP (~0.28 MB; the VP8X chunk is inserted and XMP appended at the end);
- ``mixed``: the three in turn;
- ``thumbnail``: a 480 x 320 JPEG (~45 KB), for information: the worst case, where the fixed
  cost of planning the stamp is the largest share of a response.

wrk loads the two servers in interleaved rounds (unstamped first in round 1, stamped first in
round 2, and so on), every request with one of twenty real browser User-Agents so that every
request is allowed. Per run: requests/s, body MB/s (requests times the body size of each image as
that server sends it), wrk's p50 and p99, and the server's CPU time per request. The verdict per
scenario is the median over rounds of the stamped/unstamped requests/s ratio; goal >= 0.80 on
``jpeg``, ``png``, ``webp`` and ``mixed``. Timings are printed, never asserted. For information,
the CPU stamping adds per request (median of the per-round differences) and, measured in this
process, the Python the stamp itself adds to a response: a ``StreamStamper`` deciding on the first
64 KiB that StaticFiles sends, as the stamping ``send`` does.

On a machine with two or more CPUs the servers run on CPU 0 and wrk on CPU 1 (``taskset``). One
uvicorn worker, 127.0.0.1 only, no access log, uvloop and httptools when they are installed.

    python benchmarks/bench_stamp.py [--duration 10] [--rounds 5] [--connections 32]
        [--threads 2] [--warmup 3] [--scenario jpeg --scenario mixed ...]
        [--part at-rest --part on-the-fly] [--repeats 30] [--command-runs 3]

The on-the-fly part needs ``wrk`` (``apt-get install wrk``, ``brew install wrk``); without it the
script exits with status 2. It needs Pillow to make the images (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from _bench_stamp_app import DIRECTORY_ENVIRONMENT, MOUNT
from _loadgen import (
    USER_AGENTS,
    Load,
    fetch,
    free_port,
    have,
    ms,
    need_wrk,
    pct,
    pinning,
    run_wrk,
    table,
    write_lua,
)
from PIL import Image, ImageCms

from noaiguard.stamping import (
    DEFAULT_DATA_MINING,
    Outcome,
    StreamEdit,
    StreamStamper,
    data_mining_uri,
    image_kind,
    read_data_mining,
    stamp_bytes,
)

HERE = Path(__file__).resolve().parent
URI = data_mining_uri(DEFAULT_DATA_MINING)
MB = 1_000_000
PARTS = ("at-rest", "on-the-fly")
VARIANTS = ("unstamped", "stamped")
THROUGHPUT_GOAL = 0.80  # stamped/unstamped requests per second, at least

#: The images served on the fly, by the name of their scenario.
SERVED = {
    "jpeg": f"{MOUNT}/portfolio.jpg",
    "png": f"{MOUNT}/artwork.png",
    "webp": f"{MOUNT}/gallery.webp",
    "thumbnail": f"{MOUNT}/thumbnail.jpg",
}
SCENARIOS = {
    "jpeg": (SERVED["jpeg"],),
    "png": (SERVED["png"],),
    "webp": (SERVED["webp"],),
    "mixed": (SERVED["jpeg"], SERVED["png"], SERVED["webp"]),
    "thumbnail": (SERVED["thumbnail"],),
}
#: Scenarios printed for information only.
WORST_CASES = frozenset({"thumbnail"})
#: The body chunks StaticFiles sends (Starlette's FileResponse.chunk_size).
CHUNK = 64 * 1024

# -- images ---------------------------------------------------------------------------------------


def _canvas(width: int, height: int, seed: int, grain: float) -> Image.Image:
    """A picture that compresses like a photograph: per channel, soft colour fields, a mid-scale
    texture and fine grain (``grain`` is its share), all from a seeded generator."""
    rng = random.Random(seed)

    def noise(w: int, h: int) -> Image.Image:
        w, h = max(2, w), max(2, h)
        return Image.frombytes("L", (w, h), rng.randbytes(w * h))

    channels = []
    for _ in range(3):
        fields = noise(width // 64, height // 64).resize((width, height), Image.Resampling.BICUBIC)
        texture = noise(width // 8, height // 8).resize((width, height), Image.Resampling.BILINEAR)
        detail = Image.blend(fields, texture, 0.4)
        channels.append(Image.blend(detail, noise(width, height), grain))
    return Image.merge("RGB", channels)


_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
_PHOTOGRAPHER = "Mara Lind"


def _exif(*, maker_note: int = 0) -> bytes:
    """Exif as a camera or an export writes it; a camera's maker note makes its header large."""
    exif = Image.Exif()
    exif[0x010F] = "FUJIFILM"  # Make
    exif[0x0110] = "X-T5"  # Model
    exif[0x0131] = "Adobe Lightroom Classic 14.1"  # Software
    exif[0x0132] = "2026:05:14 18:32:05"  # DateTime
    exif[0x8298] = f"(c) 2026 {_PHOTOGRAPHER}"  # Copyright
    if maker_note:
        exif.get_ifd(0x8769)[0x927C] = random.Random(maker_note).randbytes(maker_note)
    return exif.tobytes()


def _xmp() -> bytes:
    """A packet as Lightroom exports it: creator, rights, and 2 KB of padding before the end."""
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"
   xmp:CreatorTool="Adobe Lightroom Classic 14.1 (Macintosh)"
   xmp:CreateDate="2026-05-14T18:32:05+01:00"
   photoshop:Credit="{_PHOTOGRAPHER}"
   xmpRights:Marked="True">
   <dc:creator><rdf:Seq><rdf:li>{_PHOTOGRAPHER}</rdf:li></rdf:Seq></dc:creator>
   <dc:rights><rdf:Alt>
    <rdf:li xml:lang="x-default">(c) 2026 {_PHOTOGRAPHER}. All rights reserved.</rdf:li>
   </rdf:Alt></dc:rights>
   <dc:subject><rdf:Bag><rdf:li>estuary</rdf:li><rdf:li>tide</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""
    padding = (" " * 99 + "\n") * 20
    return (packet + padding + '<?xpacket end="w"?>').encode()


def _jpeg(picture: Image.Image, quality: int, *, xmp: bool, maker_note: int = 0) -> bytes:
    out = io.BytesIO()
    extra = {"xmp": _xmp()} if xmp else {}
    exif = _exif(maker_note=maker_note)
    picture.save(out, "JPEG", quality=quality, exif=exif, icc_profile=_ICC, **extra)
    return out.getvalue()


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG", icc_profile=_ICC)
    return out.getvalue()


def _webp(picture: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=quality)
    return out.getvalue()


@dataclass(frozen=True)
class Sample:
    label: str
    data: bytes


def make_at_rest() -> list[Sample]:
    """The single files timed at rest."""
    return [
        Sample(
            "camera JPEG, 12 MP",
            _jpeg(_canvas(4000, 3000, 1, 0.18), 90, xmp=False, maker_note=24_000),
        ),
        Sample("exported JPEG, 2 MP, XMP", _jpeg(_canvas(1732, 1155, 2, 0.22), 90, xmp=True)),
        Sample("PNG, 1.9 MP", _png(_canvas(1700, 1100, 3, 0.12))),
        Sample("WebP, 3.8 MP", _webp(_canvas(2400, 1600, 4, 0.22), 75)),
    ]


def write_served(root: Path) -> None:
    """The images the servers send, by scenario."""
    root.mkdir(parents=True)
    files = {
        "jpeg": _jpeg(_canvas(2048, 1365, 11, 0.12), 82, xmp=True),
        "png": _png(_canvas(1000, 667, 12, 0.04)),
        "webp": _webp(_canvas(1600, 1067, 13, 0.12), 75),
        "thumbnail": _jpeg(_canvas(480, 320, 14, 0.2), 80, xmp=False),
    }
    for scenario, data in files.items():
        (root / SERVED[scenario].removeprefix(MOUNT + "/")).write_bytes(data)


def write_library(root: Path) -> list[Path]:
    """200 images in year folders: 120 JPEGs (half with XMP), 40 PNGs, 40 WebPs, each a different
    crop of two large canvases, so that every file has bytes of its own."""
    rng = random.Random(20)
    canvases = [_canvas(3000, 2000, 21, 0.22), _canvas(3000, 2000, 22, 0.12)]
    written: list[Path] = []
    for n in range(200):
        folder = root / str(2022 + n % 5)
        folder.mkdir(parents=True, exist_ok=True)
        if n % 5 < 3:
            width, kind = rng.randrange(1200, 2400, 8), "jpg"
        elif n % 5 == 3:
            width, kind = rng.randrange(600, 1000, 8), "png"
        else:
            width, kind = rng.randrange(1000, 2000, 8), "webp"
        height = width * 2 // 3
        canvas = canvases[n % 2]
        left, top = rng.randrange(3000 - width + 1), rng.randrange(2000 - height + 1)
        picture = canvas.crop((left, top, left + width, top + height))
        if kind == "jpg":
            data = _jpeg(picture, rng.choice((82, 85, 90, 92)), xmp=n % 2 == 0)
        elif kind == "png":
            data = _png(picture)
        else:
            data = _webp(picture, rng.choice((75, 80, 85)))
        path = folder / f"IMG_{4000 + n:04d}.{kind}"
        path.write_bytes(data)
        written.append(path)
    return written


# -- at rest --------------------------------------------------------------------------------------


def _timings(call: Callable[[], object], repeats: int) -> list[float]:
    for _ in range(3):
        call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def _check_stamp(label: str, data: bytes) -> None:
    result = stamp_bytes(data, URI)
    if result.outcome is not Outcome.STAMPED or result.data is None:
        raise SystemExit(f"{label}: {result.outcome} ({result.reason}), not stamped")
    if read_data_mining(result.data) != URI:
        raise SystemExit(f"{label}: stamped, but reads back {read_data_mining(result.data)!r}")


def bench_stamp_bytes(samples: Sequence[Sample], repeats: int) -> None:
    print(
        f"\n== at rest: stamp_bytes in this process, {repeats} calls per file after 3 warm-up "
        "calls (MB = 10^6 bytes of input)"
    )
    rows = []
    for sample in samples:
        data = sample.data
        _check_stamp(sample.label, data)
        stamping = _timings(partial(stamp_bytes, data, URI), repeats)
        copying = _timings(partial(bytes.__add__, data, b"\0"), repeats)
        size = len(data) / MB
        rows.append(
            (
                sample.label,
                image_kind(data) or "?",
                f"{size:.2f}",
                f"{statistics.median(stamping) * 1e3:.2f}",
                f"{size / statistics.median(stamping):,.0f}",
                f"{size / min(stamping):,.0f}",
                f"{size / statistics.median(copying):,.0f}",
            )
        )
    header = (
        "file",
        "format",
        "MB",
        "median ms",
        "median MB/s",
        "best MB/s",
        "1 copy MB/s",
    )
    table(header, rows)


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path``, from /proc/mounts ("?" elsewhere)."""
    best, kind = "", "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            mount = fields[1]
            inside = str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best):
                best, kind = mount, fields[2]
    return kind


def _run_command(folder: Path, out: Path, expected: int) -> float:
    command = [sys.executable, "-m", "noaiguard", "stamp", str(folder), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout.startswith(f"{expected} stamped,"):
        raise SystemExit(
            f"noaiguard stamp failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def bench_command(tmpdir: Path, runs: int) -> None:
    library = tmpdir / "library"
    files = write_library(library)
    empty = tmpdir / "empty"
    empty.mkdir()
    sizes = [path.stat().st_size for path in files]
    total = sum(sizes) / MB
    kinds = {
        kind: sum(1 for p in files if p.suffix == f".{kind}") for kind in ("jpg", "png", "webp")
    }
    print(
        f"\n== at rest: noaiguard stamp FOLDER --out OUT, {len(files)} files "
        f"({kinds['jpg']} JPEG, {kinds['png']} PNG, {kinds['webp']} WebP; "
        f"{min(sizes) / MB:.2f}-{max(sizes) / MB:.2f} MB each), {total:.1f} MB in all; "
        f"{runs} runs; wall time of the subprocess; files in the page cache, written to "
        f"{_filesystem(tmpdir)} (fsync per file)"
    )
    rows = []
    walls, startups = [], []
    for index in range(runs):
        startup = _run_command(empty, tmpdir / "out-empty", 0)
        wall = _run_command(library, tmpdir / f"out-{index}", len(files))
        startups.append(startup)
        walls.append(wall)
        rows.append(
            (
                str(index + 1),
                f"{wall:.2f}",
                f"{total / wall:,.1f}",
                f"{len(files) / wall:,.0f}",
                f"{startup:.2f}",
            )
        )
    table(("run", "wall s", "MB/s", "files/s", "empty folder s"), rows)
    wall, startup = statistics.median(walls), statistics.median(startups)
    print(
        f"median: {wall:.2f} s, {total / wall:,.1f} MB/s, {len(files) / wall:,.0f} files/s; "
        f"without the fixed {startup:.2f} s (start, imports): "
        f"{total / (wall - startup):,.1f} MB/s, {len(files) / (wall - startup):,.0f} files/s"
    )

    def read_and_stamp() -> None:
        for path in files:
            stamp_bytes(path.read_bytes(), URI)

    in_process = min(_timings(read_and_stamp, 3))
    print(
        f"reads and stamp_bytes alone over the same folder, in this process (best of 3): "
        f"{in_process:.2f} s, {total / in_process:,.0f} MB/s, {len(files) / in_process:,.0f} "
        f"files/s; so writing (temporary file, fsync, rename) takes about "
        f"{max(0.0, wall - startup - in_process):.2f} s of the command's {wall:.2f} s"
    )


# -- on the fly: servers --------------------------------------------------------------------------


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_server(variant: str, prefix: list[str], site: Path, log_dir: Path) -> Server:
    port = free_port()
    command = [
        *prefix,
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        "--factory",
        f"_bench_stamp_app:{variant}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        "uvloop" if have("uvloop") else "asyncio",
        "--http",
        "httptools" if have("httptools") else "h11",
    ]
    log = log_dir / f"{variant}.log"
    env = {**os.environ, DIRECTORY_ENVIRONMENT: str(site)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent, env=env
        )
    return Server(variant, port, process, log)


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError):
            if fetch(server.port, SERVED["thumbnail"], USER_AGENTS[0])[0].status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(
        f"the {server.variant} server did not start; its output:\n{server.log.read_text()}"
    )


@contextlib.contextmanager
def running_servers(prefix: list[str], site: Path, log_dir: Path) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    try:
        for variant in VARIANTS:
            servers[variant] = start_server(variant, prefix, site, log_dir)
        for server in servers.values():
            wait_ready(server)
        yield servers
    finally:
        for server in servers.values():
            server.process.terminate()
        for server in servers.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def check_stamping(servers: dict[str, Server], site: Path) -> dict[str, dict[str, int]]:
    """The stamped server stamps every image as ``stamp_bytes`` would and the unstamped one sends
    the files as they are; else the comparison is void. Returns the body sizes sent, by variant
    and path."""
    sizes: dict[str, dict[str, int]] = {variant: {} for variant in VARIANTS}
    for path in SERVED.values():
        original = (site / path.removeprefix(MOUNT + "/")).read_bytes()
        expected = {"unstamped": original, "stamped": stamp_bytes(original, URI).data}
        for variant, server in servers.items():
            response, body = fetch(server.port, path, USER_AGENTS[0])
            value = read_data_mining(body)
            length = response.getheader("content-length")
            problems = []
            if response.status != 200:
                problems.append(f"status {response.status}")
            if response.getheader("x-robots-tag") is None:
                problems.append("no X-Robots-Tag: the guard is not in front")
            if body != expected[variant]:
                want = "the file" if variant == "unstamped" else "what stamp_bytes makes of it"
                problems.append(
                    f"{len(body)} bytes that are not {want} ({len(expected[variant] or b'')} bytes)"
                )
            if (value == URI) != (variant == "stamped"):
                problems.append(f"plus:DataMining is {value!r}")
            if length != str(len(body)):
                problems.append(f"Content-Length {length} for {len(body)} bytes")
            if problems:
                raise SystemExit(
                    f"{variant} {path}: {'; '.join(problems)}: not what the benchmark expects"
                )
            sizes[variant][path] = len(body)
    return sizes


# -- on the fly: load and report ------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    rps: dict[str, float]
    mbps: dict[str, float]
    p99_us: dict[str, float]
    rps_ratio: float
    p99_ratio: float
    added_cpu_us: float | None


def report(rounds: list[dict[str, Load]], body_bytes: dict[str, float]) -> Summary:
    """Per-round table and the medians; ``body_bytes`` is each variant's mean body size."""
    rows: list[tuple[str, ...]] = []
    for index, loads in enumerate(rounds, 1):
        order = VARIANTS if index % 2 else VARIANTS[::-1]
        for variant in order:
            load = loads[variant]
            per_request = load.cpu_us_per_request
            rows.append(
                (
                    str(index),
                    variant,
                    f"{load.rps:,.0f}",
                    f"{load.rps * body_bytes[variant] / MB:,.1f}",
                    ms(load.p50_us),
                    ms(load.p99_us),
                    pct(load.server_cpu_share),
                    "-" if per_request is None else f"{per_request:.1f}",
                    pct(load.wrk_cpu / load.seconds),
                )
            )
    header = (
        "round",
        "server",
        "req/s",
        "MB/s",
        "p50 ms",
        "p99 ms",
        "server CPU",
        "CPU us/req",
        "wrk CPU",
    )
    table(header, rows)
    median = statistics.median
    print()
    for variant in VARIANTS:
        runs = [r[variant] for r in rounds]
        rps = median(x.rps for x in runs)
        print(
            f"median {variant:<9} {rps:>7,.0f} req/s  {rps * body_bytes[variant] / MB:>7,.1f} MB/s"
            f"   p50 {ms(median(x.p50_us for x in runs))} ms"
            f"   p99 {ms(median(x.p99_us for x in runs))} ms"
        )
    rps_ratio = median(r["stamped"].rps / r["unstamped"].rps for r in rounds)
    p99_ratio = median(r["stamped"].p99_us / r["unstamped"].p99_us for r in rounds)
    print(f"throughput stamped/unstamped, median of rounds:  {rps_ratio:.3f}")
    print(f"p99 latency stamped/unstamped, median of rounds: {p99_ratio:.3f}")
    added: float | None = None
    cpu = [(r["unstamped"].cpu_us_per_request, r["stamped"].cpu_us_per_request) for r in rounds]
    if all(u is not None and s is not None for u, s in cpu):
        added = median(s - u for u, s in cpu if u is not None and s is not None)
        unstamped_us = median(u for u, _ in cpu if u is not None)
        print(
            f"server CPU per request (info): unstamped {unstamped_us:.1f} us, stamping adds "
            f"{added:+.1f} us (median of the per-round differences)"
        )
        share = median(r["unstamped"].server_cpu_share or 0.0 for r in rounds)
        if share < 0.9:
            print(
                f"note: the unstamped server used only {share:.0%} of its CPU, so something else "
                "(wrk, the kernel, other processes) set its pace: the throughput ratio may then "
                "understate the cost of stamping; compare the CPU per request too."
            )
    failed = sum(loads[v].errors + loads[v].non2xx for loads in rounds for v in VARIANTS)
    if failed:
        print(f"warning: {failed} socket errors or non-2xx responses during the rounds")
    return Summary(
        rps={v: median(r[v].rps for r in rounds) for v in VARIANTS},
        mbps={v: median(r[v].rps for r in rounds) * body_bytes[v] / MB for v in VARIANTS},
        p99_us={v: median(r[v].p99_us for r in rounds) for v in VARIANTS},
        rps_ratio=rps_ratio,
        p99_ratio=p99_ratio,
        added_cpu_us=added,
    )


def summarize(results: dict[str, Summary], planning: dict[str, float]) -> None:
    """One line per scenario; ``planning`` is the in-process cost of planning a stamp (us)."""
    print(
        f"\nsummary (medians over rounds; goal: stamped/unstamped throughput >= "
        f"{THROUGHPUT_GOAL:.2f})"
    )

    def verdict(name: str, summary: Summary) -> str:
        if name in WORST_CASES:
            return "worst case (info)"
        return "PASS" if summary.rps_ratio >= THROUGHPUT_GOAL else "MISS"

    rows = [
        (
            name,
            "",
            f"{s.rps['unstamped']:,.0f}",
            f"{s.rps['stamped']:,.0f}",
            f"{s.mbps['unstamped']:,.1f}",
            f"{s.mbps['stamped']:,.1f}",
            ms(s.p99_us["unstamped"]),
            ms(s.p99_us["stamped"]),
            f"{s.rps_ratio:.3f}",
            f"{s.p99_ratio:.3f}",
            "-" if s.added_cpu_us is None else f"{s.added_cpu_us:+.1f}",
            f"{planning[name]:.1f}",
            verdict(name, s),
        )
        for name, s in results.items()
    ]
    header = (
        "scenario",
        "",
        "unstamped req/s",
        "stamped req/s",
        "unstamped MB/s",
        "stamped MB/s",
        "unstamped p99 ms",
        "stamped p99 ms",
        "ratio",
        "p99 ratio",
        "added us/req",
        "plan us",
        "result",
    )
    table(header, rows)
    print(
        "(added us/req: stamped minus unstamped server CPU per request, median of the rounds; "
        "plan us: StreamStamper deciding on the first 64 KiB in this process, median)"
    )


def planning_times(site: Path, calls: int = 200) -> dict[str, float]:
    """Microseconds, median, that the stamping server's planner takes per response in this
    process: a ``StreamStamper`` fed the first chunk StaticFiles sends, as ``StampingSend`` does,
    until it decides (the Python the stamp adds to a response, without the server around it)."""
    times = {}
    for path in SERVED.values():
        data = (site / path.removeprefix(MOUNT + "/")).read_bytes()
        first = data[:CHUNK]

        def plan(data: bytes = data, first: bytes = first) -> object:
            stamper = StreamStamper(URI, total_size=len(data))
            decision = stamper.feed(first)
            return decision if decision is not None else stamper.finish()

        if not isinstance(plan(), StreamEdit):
            raise SystemExit(f"{path}: the planner does not stamp it")
        times[path] = statistics.median(_timings(plan, calls)) * 1e6
    return times


def bench_on_the_fly(args: argparse.Namespace, tmpdir: Path) -> dict[str, Summary]:
    server_cpu, wrk_cpu = pinning()
    print(
        f"\n== on the fly: wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s x {args.rounds} rounds per server; uvicorn 1 worker, "
        f"loop {'uvloop' if have('uvloop') else 'asyncio'}, "
        f"http {'httptools' if have('httptools') else 'h11'}; "
        + (
            f"servers on CPU {server_cpu[-1]}, wrk on CPU {wrk_cpu[-1]}"
            if server_cpu
            else "no CPU pinning (needs taskset and 2 CPUs)"
        )
    )
    site = tmpdir / "site"
    write_served(site)
    planning = planning_times(site)
    for scenario, path in SERVED.items():
        size = (site / path.removeprefix(MOUNT + "/")).stat().st_size
        print(
            f"  {scenario:<9} {path} {size / MB:.3f} MB; planning its stamp in this process: "
            f"{planning[path]:.1f} us"
        )
    print(f"{len(USER_AGENTS)} browser User-Agents in turn")

    def run(server: Server, script: Path, seconds: float) -> Load:
        return run_wrk(
            server.url,
            server.process.pid,
            script,
            wrk_cpu,
            threads=args.threads,
            connections=args.connections,
            seconds=seconds,
        )

    results: dict[str, Summary] = {}
    with running_servers(server_cpu, site, tmpdir) as servers:
        sizes = check_stamping(servers, site)
        print(
            "checked: the stamped server sends each image as stamp_bytes makes it, reading "
            f"{DEFAULT_DATA_MINING}; the unstamped one sends the files unchanged"
        )
        for name in args.scenario or list(SCENARIOS):
            paths = SCENARIOS[name]
            body_bytes = {v: statistics.fmean(sizes[v][p] for p in paths) for v in VARIANTS}
            print(f"\n== {name}: {', '.join(paths)}")
            script = tmpdir / "rotate.lua"
            write_lua(script, paths)
            if args.warmup:
                for variant in VARIANTS:
                    run(servers[variant], script, args.warmup)
            rounds: list[dict[str, Load]] = []
            for index in range(args.rounds):
                order = VARIANTS if index % 2 == 0 else VARIANTS[::-1]
                loads = {variant: run(servers[variant], script, args.duration) for variant in order}
                rounds.append(loads)
                print(
                    f"  round {index + 1}/{args.rounds}: "
                    + ", ".join(f"{v} {loads[v].rps:,.0f} req/s" for v in order),
                    flush=True,
                )
            print()
            results[name] = report(rounds, body_bytes)
    summarize(
        results, {name: statistics.fmean(planning[p] for p in SCENARIOS[name]) for name in results}
    )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (10)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each loads both (5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server (3)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="on the fly, run only this scenario (repeatable); default: all",
    )
    parser.add_argument(
        "--part",
        action="append",
        choices=PARTS,
        help="run only this part (repeatable); default: both",
    )
    parser.add_argument(
        "--repeats", type=int, default=30, help="stamp_bytes calls per file at rest (30)"
    )
    parser.add_argument(
        "--command-runs", type=int, default=3, help="runs of noaiguard stamp on the folder (3)"
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.rounds, args.connections, args.threads) < 1 or args.warmup < 0:
        parser.error("--duration, --rounds, --connections and --threads must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if min(args.repeats, args.command_runs) < 1:
        parser.error("--repeats and --command-runs must be at least 1")
    parts = args.part or list(PARTS)
    if "on-the-fly" in parts and not need_wrk():
        return 2

    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        f"writing {DEFAULT_DATA_MINING} ({URI})"
    )
    with tempfile.TemporaryDirectory(prefix="noaiguard-bench-stamp-") as tmp:
        tmpdir = Path(tmp)
        if "at-rest" in parts:
            bench_stamp_bytes(make_at_rest(), args.repeats)
            bench_command(tmpdir, args.command_runs)
        if "on-the-fly" in parts:
            bench_on_the_fly(args, tmpdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
