"""The test site as a module-level app, for running it in a process of its own:
``python -m uvicorn tests.proxy.site_main:app``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.proxy.conftest import DOWNLOAD
from tests.proxy.site import SiteState, create_site

_files = Path(tempfile.mkdtemp(prefix="noaiguard-site-"))
(_files / "download.bin").write_bytes(DOWNLOAD)

app = create_site(SiteState(), _files)
