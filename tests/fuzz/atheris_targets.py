"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers where it finds most.

The properties are those of the Hypothesis tests next to this file; libFuzzer mutates bytes and
keeps the inputs that reach new branches, which finds what a generator does not think of (odd
markup in the head, chunk and segment layouts, YAML corners). Run from the repository root:

    python -m tests.fuzz.atheris_targets xmp -max_total_time=600
    python -m tests.fuzz.atheris_targets html -max_total_time=600 corpus/html
    python -m tests.fuzz.atheris_targets config -runs=100000

The first argument names the target (:data:`TARGETS`); the rest go to libFuzzer. A corpus folder
that is empty (or none: a temporary one) starts from seeds (the test images, pages, configs),
and libFuzzer adds every input that reached new code to it. A failing
input is written as ``crash-<sha1>`` (``-artifact_prefix=`` says where) and is replayed by
passing its path instead of a folder; keep it as an ``@example`` of the Hypothesis test.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["noaiguard"]):
    from noaiguard.signals import html as _html  # noqa: F401 - instrumented for coverage
    from noaiguard.stamping import stamp_bytes  # noqa: F401
    from tests.fuzz.test_config_fuzz import check_result
    from tests.fuzz.test_html_fuzz import check_chunks, check_dom
    from tests.fuzz.test_stamping_fuzz import check_stamped

ROOT = Path(__file__).resolve().parents[2]


def xmp(data: bytes) -> None:
    """An image (JPEG, PNG, WebP) of any bytes, stamped at rest and in a stream cut in four."""
    check_stamped(data, [len(data) // 4, len(data) // 2, 3 * len(data) // 4])


def html(data: bytes) -> None:
    """A page: the first byte picks the look-ahead and the tags, the next two where to cut."""
    if len(data) < 3:
        return
    lookahead = (64, 256, 1024, 16384)[data[0] & 3]
    others = bool(data[0] & 4)
    page = data[3:]
    first, second = sorted((data[1] % (len(page) + 1), data[2] % (len(page) + 1)))
    chunks = [page[:first], page[first:second], page[second:]]
    check_chunks(page, chunks, lookahead, others)
    check_dom(page, chunks, others)


def config(data: bytes) -> None:
    """A config file's text (bytes that are not UTF-8 become U+FFFD, as load_config refuses)."""
    check_result(data.decode("utf-8", "replace"))


TARGETS: dict[str, Callable[[bytes], None]] = {"xmp": xmp, "html": html, "config": config}


def seeds(target: str) -> list[bytes]:
    """Starting inputs: the test images, pages of the HTML tests, the shipped configs."""
    if target == "xmp":
        from tests.unit.test_stamping import NAMES, image

        return [image(name) for name in NAMES]
    if target == "html":
        from tests.fuzz.test_html_fuzz import PIECES

        return [b"\x00\x05\x20" + b"".join(PIECES[i : i + 8]) for i in range(0, len(PIECES), 4)]
    return [path.read_bytes() for path in sorted((ROOT / "configs").glob("*.yaml"))]


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.atheris_targets {{{','.join(TARGETS)}}} [libFuzzer]")
    target = argv[1]
    arguments = [argv[0], *argv[2:]]
    folders = [a for a in arguments[1:] if not a.startswith("-")]
    if not folders:
        folders = [tempfile.mkdtemp(prefix=f"noaiguard-{target}-")]
        arguments.append(folders[0])
    corpus = Path(folders[0])
    if corpus.is_dir() and not any(corpus.iterdir()):  # a new corpus starts from the seeds
        for index, seed in enumerate(seeds(target)):
            (corpus / f"seed-{index}").write_bytes(seed)
    if not any(a.startswith("-max_len=") for a in arguments):
        arguments.append("-max_len=16384")
    atheris.Setup(arguments, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
