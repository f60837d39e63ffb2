"""``noaiguard stamp``: copies under --out, atomic --in-place with --backup, summary, exit codes."""

from __future__ import annotations

import argparse
import io
import stat
import sys
from pathlib import Path

import pytest

from noaiguard.stamping import VOCABULARY, read_data_mining
from noaiguard.stamping.command import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, add_parser, run

from .test_stamping import ALLOWED, URI, c2pa_jpeg, image, stamped


def stamp(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="noaiguard")
    add_parser(parser.add_subparsers(required=True))
    code = run(parser.parse_args(["stamp", *argv]))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A small site: images in folders, a non-image, a truncated JPEG and a signed one."""
    root = tmp_path / "site"
    (root / "img" / "deep").mkdir(parents=True)
    (root / "a.jpg").write_bytes(image("jpeg-exif"))
    (root / "img" / "b.png").write_bytes(image("png-xmp"))
    (root / "img" / "deep" / "c.WEBP").write_bytes(image("webp-lossless-alpha"))
    (root / "img" / "done.jpeg").write_bytes(stamped("jpeg"))
    (root / "img" / "cut.jpg").write_bytes(image("jpeg")[:-10])
    (root / "signed.jpg").write_bytes(c2pa_jpeg())
    (root / "notes.txt").write_text("not an image\n")
    (root / "img" / "fake.png").write_bytes(b"GIF89a not really a png")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_out_writes_copies_in_the_same_layout(
    capsys: pytest.CaptureFixture[str], site: Path, tmp_path: Path
) -> None:
    before = snapshot(site)
    out = tmp_path / "stamped"
    code, stdout, stderr = stamp(capsys, str(site), "--out", str(out))
    assert code == EXIT_OK, stderr
    assert snapshot(site) == before  # the originals are not touched
    assert sorted(snapshot(out)) == ["a.jpg", "img/b.png", "img/deep/c.WEBP", "img/done.jpeg"]
    for name in ("a.jpg", "img/b.png", "img/deep/c.WEBP"):
        assert read_data_mining((out / name).read_bytes()) == URI
    assert (out / "img/done.jpeg").read_bytes() == before["img/done.jpeg"]
    assert stdout.splitlines() == [
        f"3 stamped, 1 already stamped, 3 skipped (written under {out})",
        "skipped:",  # in the order found: a folder's files, then its subfolders
        f"  {site / 'signed.jpg'}: signed C2PA manifest",
        f"  {site / 'img/cut.jpg'}: truncated JPEG: no end-of-image marker",
        f"  {site / 'img/fake.png'}: not a JPEG, PNG or WebP",
    ]


def test_out_for_named_files_and_a_second_run(
    capsys: pytest.CaptureFixture[str], site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copies"
    named = [str(site / "a.jpg"), str(site / "img" / "b.png")]
    assert stamp(capsys, *named, "--out", str(out))[0] == EXIT_OK
    assert sorted(snapshot(out)) == ["a.jpg", "b.png"]
    code, stdout, _ = stamp(capsys, str(out / "a.jpg"), "--in-place")
    assert code == EXIT_OK
    assert stdout == "0 stamped, 1 already stamped, 0 skipped\n"


def test_out_inside_the_folder_is_not_stamped_again(
    capsys: pytest.CaptureFixture[str], site: Path
) -> None:
    out = site / "stamped"
    assert stamp(capsys, str(site), "--out", str(out))[0] == EXIT_OK
    code, stdout, _ = stamp(capsys, str(site), "--out", str(out))
    assert code == EXIT_OK
    assert stdout.startswith("3 stamped, 1 already stamped, 3 skipped")  # the same files
    assert not (out / "stamped").exists()


def test_in_place_with_backup(capsys: pytest.CaptureFixture[str], site: Path) -> None:
    before = snapshot(site)
    (site / "a.jpg").chmod(0o640)
    code, stdout, _ = stamp(capsys, str(site), "--in-place", "--backup")
    assert code == EXIT_OK
    after = snapshot(site)
    assert read_data_mining(after["a.jpg"]) == URI
    assert read_data_mining(after["img/deep/c.WEBP"]) == URI
    assert stat.S_IMODE((site / "a.jpg").stat().st_mode) == 0o640
    for name in ("a.jpg", "img/b.png", "img/deep/c.WEBP"):
        assert after[name + ".orig"] == before[name]
    for name in ("img/done.jpeg", "img/cut.jpg", "signed.jpg", "notes.txt", "img/fake.png"):
        assert after[name] == before[name]  # unchanged, and no backup of them
        assert name + ".orig" not in after
    assert not [name for name in after if name.endswith(".tmp")]
    assert stdout.startswith("3 stamped, 1 already stamped, 3 skipped\n")

    # a new value: replaced, and the first backup (the real original) is kept
    code, stdout, _ = stamp(
        capsys, str(site / "a.jpg"), "--in-place", "--backup", "--value", "DMI-ALLOWED"
    )
    assert code == EXIT_OK
    assert read_data_mining((site / "a.jpg").read_bytes()) == ALLOWED
    assert (site / "a.jpg.orig").read_bytes() == before["a.jpg"]
    assert stdout.splitlines()[1:] == [
        "value replaced:",
        f"  {site / 'a.jpg'}: replaced DMI-PROHIBITED-AIMLTRAINING",
    ]


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str], site: Path) -> None:
    assert stamp(capsys, str(site), "--in-place", "--quiet") == (EXIT_OK, "", "")


def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], site: Path, tmp_path: Path
) -> None:
    before = snapshot(site)
    code, _, err = stamp(capsys, str(site), "--in-place", "--value", "DMI-NOPE")
    assert code == EXIT_USAGE
    assert "noaiguard stamp: --value: unknown Data Mining code 'DMI-NOPE'" in err
    assert "DMI-PROHIBITED-AIMLTRAINING" in err

    code, _, err = stamp(capsys, str(site), str(tmp_path / "missing"), "--in-place")
    assert code == EXIT_USAGE
    assert f"{tmp_path / 'missing'}: no such file or folder" in err

    code, _, err = stamp(capsys, str(site), "--out", str(tmp_path / "o"), "--backup")
    assert code == EXIT_USAGE
    assert "--backup needs --in-place" in err

    code, _, err = stamp(capsys, str(site / "img"), "--out", str(site / "img"))
    assert code == EXIT_USAGE
    assert "--out would overwrite it" in err

    two = tmp_path / "two"
    two.mkdir()
    (two / "a.jpg").write_bytes(image("jpeg"))
    code, _, err = stamp(capsys, str(site / "a.jpg"), str(two / "a.jpg"), "--out", str(tmp_path))
    assert code == EXIT_USAGE
    assert "would both go to" in err
    assert snapshot(site) == before

    with pytest.raises(SystemExit) as exited:  # neither --out nor --in-place
        stamp(capsys, str(site))
    assert exited.value.code == EXIT_USAGE
    with pytest.raises(SystemExit):
        stamp(capsys, str(site), "--in-place", "--out", str(tmp_path))


def test_write_failure_names_the_path_and_exits_1(
    capsys: pytest.CaptureFixture[str], site: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    code, stdout, stderr = stamp(capsys, str(site / "a.jpg"), "--out", str(blocker / "out"))
    assert code == EXIT_FAILURE
    assert f"noaiguard stamp: {site / 'a.jpg'}: cannot write " in stderr
    assert str(blocker) in stderr
    assert stdout.startswith("0 stamped, 0 already stamped, 0 skipped, 1 failed")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_for_many_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(25):
        (folder / f"{number:02}.png").write_bytes(image("png"))
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, stdout, _ = stamp(capsys, str(folder), "--in-place")
    assert code == EXIT_OK
    drawn = terminal.getvalue()
    assert "\r[" in drawn
    assert "24/25  96% " in drawn
    assert "/24.png\x1b[K" in drawn  # long paths keep their end
    assert all(len(line) <= 79 + len("\x1b[K") for line in drawn.split("\r"))
    assert drawn.endswith("\r\x1b[K")  # the line is cleared before the summary
    assert stdout.startswith("25 stamped")

    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    stamp(capsys, str(folder), "--in-place", "--quiet")
    assert quiet.getvalue() == ""


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(25):
        (folder / f"{number:02}.jpg").write_bytes(image("jpeg"))
    code, _, err = stamp(capsys, str(folder), "--in-place")
    assert code == EXIT_OK
    assert err == ""


def test_every_code_can_be_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "a.webp"
    path.write_bytes(image("webp-lossy"))
    code, _, _ = stamp(capsys, str(path), "--in-place", "--value", "DMI-PROHIBITED")
    assert code == EXIT_OK
    assert read_data_mining(path.read_bytes()) == VOCABULARY + "DMI-PROHIBITED"
