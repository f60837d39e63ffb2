"""End to end: the real img2dataset, with its default settings, against the site through the proxy.

img2dataset is the tool that built LAION-style image datasets. By default it sends a plain
Firefox User-Agent (nothing for a User-Agent check to catch) and honours ``X-Robots-Tag: noai``
on each image response. As a control it first runs against the site directly and saves every
image; through the proxy it must save none, while a browser still gets every image unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import BROWSER_UA
from tests.proxy.conftest import Proxy, Site
from tests.proxy.site import IMAGES

pytestmark = [pytest.mark.anyio, pytest.mark.server, pytest.mark.slow]

IMG2DATASET = Path(sys.executable).parent / "img2dataset"


async def run_img2dataset(base: str, folder: Path) -> tuple[int, dict[str, int]]:
    """Run img2dataset over the site's image URLs; return images saved and failure reasons."""
    folder.mkdir(parents=True)
    urls = folder / "urls.txt"
    urls.write_text("".join(f"{base}/img/{name}.png\n" for name in IMAGES))
    output = folder / "out"
    process = await asyncio.create_subprocess_exec(
        str(IMG2DATASET),
        "--url_list",
        str(urls),
        "--output_folder",
        str(output),
        cwd=folder,
        env={**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    saved = len(list(output.rglob("*.jpg")))
    reasons: dict[str, int] = {}
    for stats in output.glob("*_stats.json"):
        for reason, count in json.loads(stats.read_text()).get("status_dict", {}).items():
            reasons[reason] = reasons.get(reason, 0) + count
    return saved, reasons


@pytest.mark.skipif(not IMG2DATASET.exists(), reason="img2dataset is not installed")
async def test_img2dataset_saves_nothing_through_the_proxy(
    site: Site, proxy: Proxy, tmp_path: Path
) -> None:
    direct, _ = await run_img2dataset(site.url, tmp_path / "direct")
    assert direct == len(IMAGES)  # the control: without noaiguard it takes every image

    through, reasons = await run_img2dataset(proxy.url, tmp_path / "proxied")
    assert through == 0
    assert reasons == {"Use of image disallowed by X-Robots-Tag directive": len(IMAGES)}

    async with httpx.AsyncClient(headers={"user-agent": BROWSER_UA}) as http:
        for name, data in IMAGES.items():
            response = await http.get(f"{proxy.url}/img/{name}.png")
            assert response.content == data
    shutil.rmtree(tmp_path)
