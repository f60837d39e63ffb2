"""Access-log lines for the audit tests, written the way nginx writes them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GPTBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)"
)
CLAUDEBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
#: In the ranges that ship with noaiguard: Google's common crawlers, GPTBot's, ClaudeBot's.
GOOGLE_IP = "192.178.4.1"
OPENAI_IP = "132.196.86.41"
ANTHROPIC_IP = "216.73.216.17"
#: 2026-10-12 08:00 UTC, a Monday.
START = datetime(2026, 10, 12, 8, 0, tzinfo=UTC).timestamp()


def line(
    ip: str,
    when: float,
    path: str,
    ua: str,
    *,
    status: int = 200,
    size: int = 1000,
    method: str = "GET",
    referer: str = "-",
) -> str:
    """One combined-format line, as nginx writes it (in UTC)."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(when))
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "{referer}" "{ua}"'


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{entry}\n" for entry in lines), encoding="latin-1")
    return path


def ranges_config(tmp_path: Path, extra: str = "") -> Path:
    """A config that reads IP ranges only from the lists shipped with noaiguard (an empty
    download folder), whatever `noaiguard agents update` left on this machine."""
    folder = tmp_path / "ipranges"
    folder.mkdir(exist_ok=True)
    config = tmp_path / "audit.yaml"
    config.write_text(f"agents:\n  ip_ranges_dir: {folder}\n{extra}")
    return config
