"""Two real proxy instances share rate counters through Redis and see one client's combined
traffic: an image downloader that spreads its requests over both is caught, while with local
counters alone neither instance would have seen enough."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.proxy.test_memory import free_port, process

from .services import OwnRedis
from .test_faults import site

pytestmark = pytest.mark.slow
NOAIGUARD = str(Path(sys.executable).parent / "noaiguard")
IMG2DATASET_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:72.0) Gecko/20100101 Firefox/72.0"


def spread_downloads(counters_url: str, folder: Path) -> list[int]:
    """30 image requests to each of two proxies, in turn; the statuses, in order."""
    statuses: list[int] = []
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        upstream = stack.enter_context(site())
        ports = []
        for name in ("a", "b"):
            config = folder / f"{name}.yaml"
            config.write_text(
                "agents: {verify: false}\n"
                "store:\n"
                f"  url: sqlite:///{folder}/{name}.db\n"
                f"  spill_dir: {folder}/spill-{name}\n"
                f"  counters_url: {counters_url}\n"
                "  counters_sync_seconds: 0.05\n"
                "behaviour:\n"
                "  image_burst: {images: 40}\n"
            )
            port = free_port()
            command = [NOAIGUARD, "proxy", "--upstream", upstream, "--port", str(port)]
            stack.enter_context(process([*command, "--config", str(config)], port))
            ports.append(port)
        with httpx.Client(headers={"user-agent": IMG2DATASET_UA}, timeout=10) as http:
            for n in range(60):
                port = ports[n % 2]
                statuses.append(http.get(f"http://127.0.0.1:{port}/img/dawn.png?n={n}").status_code)
                time.sleep(0.03)  # a few merges happen meanwhile
    return statuses


def test_two_instances_with_redis_see_one_clients_combined_rate(tmp_path: Path) -> None:
    redis = OwnRedis()
    redis.start()
    try:
        shared = spread_downloads(redis.url, tmp_path / "shared")
    finally:
        redis.stop()
    first_block = shared.index(403)
    assert 40 <= first_block < 50  # 40 images in all, about half through each instance
    assert set(shared[:first_block]) == {200} and set(shared[first_block:]) == {403}
    assert {n % 2 for n in range(first_block, 60)} == {0, 1}  # both instances refuse it


def test_with_local_counters_each_instance_sees_only_its_share(tmp_path: Path) -> None:
    assert set(spread_downloads("memory://", tmp_path / "local")) == {200}
