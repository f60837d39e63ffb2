"""Images stamped on the way out, through a real uvicorn server and through the real proxy: what a
client downloads carries ``plus:DataMining`` (read back by ExifTool), decodes to the same pixels,
has a right Content-Length and is byte for byte what ``noaiguard stamp`` makes of the file; what
must not change (ranges, HEAD, compressed, too large, other types) is sent exactly as it was."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from noaiguard import Guard, NoAIGuardMiddleware, parse_config
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.proxy import create_proxy_app
from noaiguard.stamping import DEFAULT_DATA_MINING, VOCABULARY, read_data_mining, stamp_bytes

from ..conftest import BROWSER_UA, live_server
from ..proxy.conftest import proxy_server_options

pytestmark = [pytest.mark.anyio, pytest.mark.server]

URI = VOCABULARY + DEFAULT_DATA_MINING
STAMPING = "signals:\n  stamp_images:\n    enabled: true\n"


def make_images(folder: Path) -> dict[str, bytes]:
    """A JPEG with Exif, a PNG with alpha and a lossy WebP, written into ``folder``."""
    picture = Image.new("RGB", (64, 48))
    for x in range(64):
        for y in range(48):
            picture.putpixel((x, y), (x * 4, y * 5, (x * y) % 256))
    exif = Image.Exif()
    exif[0x010F] = "Test Camera Co"  # Make
    files: dict[str, bytes] = {}
    for name, image, options in (
        ("photo.jpg", picture, {"format": "JPEG", "quality": 90, "exif": exif}),
        ("drawing.png", picture.convert("RGBA"), {"format": "PNG"}),
        ("sketch.webp", picture, {"format": "WEBP", "quality": 80}),
    ):
        out = io.BytesIO()
        image.save(out, **options)  # type: ignore[arg-type]
        files[name] = out.getvalue()
        (folder / name).write_bytes(out.getvalue())
    return files


def exiftool_value(data: bytes, tmp_path: Path) -> str | None:
    """What ExifTool, a reader noaiguard did not write, finds as XMP-plus:DataMining."""
    if shutil.which("exiftool") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("exiftool is missing in CI (.ci/run installs libimage-exiftool-perl)")
        pytest.skip("exiftool is not installed: apt-get install libimage-exiftool-perl")
    path = tmp_path / "downloaded"
    path.write_bytes(data)
    result = subprocess.run(
        ["exiftool", "-j", "-XMP-plus:DataMining", "-b", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    value = json.loads(result.stdout)[0].get("DataMining")
    return str(value) if value is not None else None


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGBA").tobytes()


def site(folder: Path) -> Starlette:
    async def streamed(request: Request) -> Response:
        data = (folder / "photo.jpg").read_bytes()

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 700):  # the header arrives in several pieces
                yield data[start : start + 700]

        return StreamingResponse(chunks(), media_type="image/jpeg")

    async def gzipped(request: Request) -> Response:
        data = gzip.compress((folder / "photo.jpg").read_bytes())
        return Response(data, media_type="image/jpeg", headers={"content-encoding": "gzip"})

    return Starlette(
        routes=[
            Route("/streamed.jpg", streamed),
            Route("/gzipped.jpg", gzipped),
            Mount("/img", StaticFiles(directory=folder)),
        ]
    )


def guarded(folder: Path, config: str = STAMPING) -> NoAIGuardMiddleware:
    return NoAIGuardMiddleware(
        site(folder), guard=Guard(parse_config(config), store=MemoryEventStore())
    )


async def fetch(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url, headers={"user-agent": BROWSER_UA, **headers})


async def test_each_image_type_is_stamped_as_it_passes(tmp_path: Path) -> None:
    files = make_images(tmp_path)
    async with live_server(guarded(tmp_path)) as url:
        for name, original in files.items():
            response = await fetch(f"{url}/img/{name}")
            assert response.status_code == 200
            body = response.content
            assert int(response.headers["content-length"]) == len(body) > len(original), name
            assert body == stamp_bytes(original, URI).data, name  # the same bytes as at rest
            assert exiftool_value(body, tmp_path) == URI, name
            assert pixels(body) == pixels(original), name
            assert response.headers["etag"].startswith("W/"), name  # no longer these bytes
            assert response.headers["x-robots-tag"] == "noai, noimageai"


async def test_a_streamed_image_without_length_is_stamped_too(tmp_path: Path) -> None:
    files = make_images(tmp_path)
    async with live_server(guarded(tmp_path)) as url:
        response = await fetch(f"{url}/streamed.jpg")
    assert response.content == stamp_bytes(files["photo.jpg"], URI).data
    assert read_data_mining(response.content) == URI


async def test_what_must_not_change_passes_byte_for_byte(tmp_path: Path) -> None:
    files = make_images(tmp_path)
    photo = files["photo.jpg"]
    async with live_server(guarded(tmp_path)) as url:
        part = await fetch(f"{url}/img/photo.jpg", range="bytes=0-99")
        assert part.status_code == 206 and part.content == photo[:100]
        async with httpx.AsyncClient() as http:
            head = await http.head(f"{url}/img/photo.jpg")
        assert head.headers["content-length"] == str(len(photo))  # HEAD: as the app said
        gzipped = await fetch(f"{url}/gzipped.jpg")
        assert gzipped.headers["content-encoding"] == "gzip"
        assert gzipped.content == photo  # decoded by the client: the image as it was
    async with live_server(guarded(tmp_path, STAMPING + "    max_mb: 0.001\n")) as url:
        large = await fetch(f"{url}/img/photo.jpg")
        assert large.content == photo and not large.headers["etag"].startswith("W/")


async def test_stamping_is_off_by_default_and_stamped_files_stay_as_they_are(
    tmp_path: Path,
) -> None:
    files = make_images(tmp_path)
    async with live_server(guarded(tmp_path, "")) as url:
        assert (await fetch(f"{url}/img/drawing.png")).content == files["drawing.png"]
    stamped = stamp_bytes(files["drawing.png"], URI).data
    assert stamped is not None
    (tmp_path / "drawing.png").write_bytes(stamped)
    async with live_server(guarded(tmp_path)) as url:
        assert (await fetch(f"{url}/img/drawing.png")).content == stamped


async def test_the_proxy_stamps_the_upstreams_images(tmp_path: Path) -> None:
    files = make_images(tmp_path)
    async with live_server(site(tmp_path)) as upstream:
        proxy = create_proxy_app(
            parse_config(STAMPING), upstream_url=upstream, store=MemoryEventStore()
        )
        async with live_server(proxy, **proxy_server_options()) as url:
            responses = {name: await fetch(f"{url}/img/{name}") for name in files}
    for name, original in files.items():
        response = responses[name]
        assert response.content == stamp_bytes(original, URI).data, name
        assert int(response.headers["content-length"]) == len(response.content)
        assert exiftool_value(response.content, tmp_path) == URI, name


async def test_a_stamped_image_revalidates_with_its_weak_etag(tmp_path: Path) -> None:
    make_images(tmp_path)
    async with live_server(guarded(tmp_path)) as url:
        first = await fetch(f"{url}/img/photo.jpg")
        again = await fetch(f"{url}/img/photo.jpg", **{"if-none-match": first.headers["etag"]})
    assert first.headers["etag"].startswith("W/")
    assert again.status_code == 304 and again.content == b""
