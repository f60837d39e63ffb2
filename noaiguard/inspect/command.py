"""``noaiguard inspect URL``: audit a site's AI opt-out signals the way a crawler finds them.

noaiguard inspect https://example.org/gallery/
noaiguard inspect https://example.org/ --image https://cdn.example.org/a.jpg --format json
noaiguard inspect http://127.0.0.1:8080/ --timeout 5 --user-agent "GPTBot/1.2"

Exit codes: 0 every essential signal present and none contradicting another, 1 something
missing or contradictory, 2 a usage error or a site that does not answer at all.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from . import DEFAULT_TIMEOUT, checked_url, default_user_agent, inspect_site
from .fetch import SiteUnreachable
from .findings import EXIT_USAGE
from .render import render_json, render_text

FORMATS = ("text", "json")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="audit a site's AI opt-out signals: present, missing or contradictory",
        description="Fetch a page as a crawler would, with the site's robots.txt, "
        "/.well-known/tdmrep.json, /ai.txt and one image (the page's first <img>, or --image), "
        "and report which AI opt-out signals are present, missing or contradict each other. "
        "Exit 0 when every essential signal is there and none contradicts another, 1 otherwise, "
        "2 for a usage error or a site that does not answer.",
    )
    inspect.add_argument("url", metavar="URL", help="the page to inspect (http:// or https://)")
    inspect.add_argument(
        "--image", metavar="URL", help="the image to inspect (default: the page's first image)"
    )
    inspect.add_argument("--format", choices=FORMATS, default="text", help="text (default) or json")
    inspect.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"for each request, answer and body included ({DEFAULT_TIMEOUT:g})",
    )
    inspect.add_argument(
        "--user-agent",
        metavar="UA",
        help=f"the User-Agent to send (default: {default_user_agent()})",
    )
    inspect.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        url = checked_url(args.url)
        if args.image is not None and urlsplit(args.image).scheme:
            checked_url(args.image, what="image URL")
    except ValueError as exc:
        return _usage_error(str(exc))
    try:
        report = inspect_site(
            url, image_url=args.image, timeout=args.timeout, user_agent=args.user_agent
        )
    except SiteUnreachable as exc:
        return _usage_error(str(exc))
    render = render_json if args.format == "json" else render_text
    sys.stdout.write(render(report))
    return report.exit_code


def _usage_error(message: str) -> int:
    print(f"noaiguard inspect: {message}", file=sys.stderr)
    return EXIT_USAGE


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 600, got {text}")
    return value
