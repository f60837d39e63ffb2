"""Running the deploy/nginx files for real on 127.0.0.1, with noaiguard behind them.

The files are used as shipped, with only their addresses and paths replaced, so that the tests
(and ``benchmarks/bench_auth.py``, which imports this module) exercise what a site owner copies.
Every replaced string must occur in the file: a template that drifts breaks here, not in
production. No pytest in here, for the benchmark's sake.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_NGINX = ROOT / "deploy" / "nginx"
#: What the templates say, to be replaced.
SHIPPED_LISTEN = "listen 80;"
SHIPPED_ROOT = "root /var/www/example.org;"
SHIPPED_AUTH = "server 127.0.0.1:8081;"
SHIPPED_PROXY = "server 127.0.0.1:8080;"

_MAIN = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include {mime_types};
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{includes}
}}
"""


def find_nginx() -> str | None:
    """Debian's nginx (``apt-get install nginx``), or one on the PATH."""
    for candidate in ("/usr/sbin/nginx", "/usr/bin/nginx"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("nginx")


def render(name: str, replacements: Mapping[str, str]) -> str:
    """deploy/nginx/NAME with each key replaced by its value (each key must be in the file)."""
    text = (DEPLOY_NGINX / name).read_text("utf-8")
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"deploy/nginx/{name} no longer says {old!r}")
        text = text.replace(old, new)
    return text


def auth_site(port: int, root: Path, auth_port: int) -> str:
    """deploy/nginx/noaiguard-auth.conf serving ``root`` on ``port``, asking ``auth_port``."""
    return render(
        "noaiguard-auth.conf",
        {
            SHIPPED_LISTEN: f"listen 127.0.0.1:{port};",
            SHIPPED_ROOT: f"root {root};",
            SHIPPED_AUTH: f"server 127.0.0.1:{auth_port};",
        },
    )


def proxy_site(port: int, proxy_port: int) -> str:
    """deploy/nginx/noaiguard-proxy.conf on ``port``, in front of noaiguard proxy."""
    return render(
        "noaiguard-proxy.conf",
        {
            SHIPPED_LISTEN: f"listen 127.0.0.1:{port};",
            SHIPPED_PROXY: f"server 127.0.0.1:{proxy_port};",
        },
    )


def nginx_command(tmp: Path, sites: Mapping[str, str], *, nginx: str, main: str = "") -> list[str]:
    """Write a main config including each of ``sites`` (file name -> text) into ``tmp``;
    ``main`` goes into its http block before them. Returns the command that runs it."""
    tmp.mkdir(parents=True, exist_ok=True)
    includes = [main] if main else []
    for name, text in sites.items():
        (tmp / name).write_text(text, "utf-8")
        includes.append(f"    include {tmp / name};")
    mime_types = next(
        (
            p
            for p in (Path("/etc/nginx/mime.types"), Path(nginx).parent / "mime.types")
            if p.exists()
        ),
        None,
    )
    conf = tmp / "nginx.conf"
    conf.write_text(
        _MAIN.format(
            tmp=tmp,
            mime_types=mime_types or "/dev/null",
            includes="\n".join(includes),
        ),
        "utf-8",
    )
    return [nginx, "-c", str(conf), "-p", str(tmp)]


def serve_auth_command(config: Path, port: int, *extra: str) -> list[str]:
    """``noaiguard serve-auth`` as a user runs it."""
    return [
        sys.executable,
        "-m",
        "noaiguard",
        "serve-auth",
        "--config",
        str(config),
        "--port",
        str(port),
        *extra,
    ]
