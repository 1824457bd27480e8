"""atomic_write and safe_text: a user's file is written all-or-nothing, never through a
planted link, never over a FIFO, a symlink or an existing file unless asked; user data
printed on a terminal has its control characters escaped (issue 8, classes 7 and 12)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mini_engine.errors import MiniEngineError
from mini_engine.files.write import (OutputExistsError, OutputFileError, atomic_write, check_target,
                                     safe_text)


def write(path, text="new\n", **kw) -> None:
    with atomic_write(path, **kw) as f:
        f.write(text)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_writes_utf8_with_newlines_and_default_permissions(tmp_path):
    out = tmp_path / "out.txt"
    write(out, "é\nx\n")
    assert out.read_bytes() == "é\nx\n".encode("utf-8")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 & ~mask
    assert leftovers(tmp_path) == []


def test_binary_mode(tmp_path):
    with atomic_write(tmp_path / "b.bin", mode="wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_existing_file_needs_force_and_is_kept_without_it(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old\n")
    with pytest.raises(OutputExistsError) as e:
        write(out)
    assert str(e.value) == f"{out}: already exists; refusing to overwrite it (--force overwrites)"
    assert out.read_text() == "old\n"
    write(out, force=True)
    assert out.read_text() == "new\n"


def test_read_only_file_refused_without_force(tmp_path):
    out = tmp_path / "ro.txt"
    out.write_text("old\n")
    out.chmod(0o444)
    with pytest.raises(OutputExistsError, match="already exists and is read-only"):
        write(out)
    assert out.read_text() == "old\n"


def test_failed_body_leaves_target_and_directory_untouched(tmp_path):
    out = tmp_path / "out.txt"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(out, force=True) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_planted_tmp_symlinks_are_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    for name in ("OUT.tmp", "OUT.jsonl.tmp", ".OUT.tmp", "OUT.partial"):
        (tmp_path / name).symlink_to(victim)
    write(tmp_path / "OUT.jsonl")
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "OUT.jsonl").read_text() == "new\n"
    assert not (tmp_path / "OUT.jsonl").is_symlink()


@pytest.mark.parametrize("force", [False, True])
def test_fifo_refused_even_with_force(tmp_path, force):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputFileError) as e:
        write(fifo, force=force)
    assert str(e.value) == (f"{fifo}: is not a regular file (a FIFO, device or socket); "
                            "refusing to replace it")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("force", [False, True])
def test_symlink_target_refused_and_not_followed(tmp_path, force):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    with pytest.raises(OutputFileError, match="is a symbolic link"):
        write(link, force=force)
    assert victim.read_text() == "precious\n"
    assert link.is_symlink()


def test_dangling_symlink_refused(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputFileError, match="is a symbolic link"):
        write(link, force=True)
    assert not (tmp_path / "nowhere").exists()


def test_device_refused():
    with pytest.raises(OutputFileError, match="not a regular file"):
        write("/dev/null", force=True)


@pytest.mark.parametrize("force", [False, True])
def test_directory_refused(tmp_path, force):
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputFileError, match="is a directory"):
        write(tmp_path / "d", force=force)
    assert (tmp_path / "d").is_dir()


def test_trailing_slash_refused_not_written_as_a_file(tmp_path):
    with pytest.raises(OutputFileError) as e:
        write(f"{tmp_path}/newdir/")
    assert str(e.value) == f"{tmp_path}/newdir/: names a directory (ends with '/'); give a file name"
    assert not (tmp_path / "newdir").exists()


def test_missing_directory_refused_on_one_line(tmp_path):
    with pytest.raises(OutputFileError) as e:
        write(tmp_path / "missing" / "out.json")
    assert str(e.value) == (f"{tmp_path}/missing/out.json: directory '{tmp_path}/missing' "
                            "does not exist")


def test_parent_that_is_a_file_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputFileError, match="is not a directory"):
        write(tmp_path / "f" / "out.json")


def test_read_only_directory_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputFileError) as e:
            write(ro / "out.json")
        assert str(e.value) == f"{ro}/out.json: directory '{ro}' is not writable"
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_empty_path_refused():
    with pytest.raises(OutputFileError) as e:
        write("")
    assert str(e.value) == "no file name given (the output path is empty)"


def test_over_long_name_is_one_short_line(tmp_path):
    with pytest.raises(OutputFileError) as e:
        write(tmp_path / ("x" * 5000))
    line = str(e.value)
    assert "\n" not in line and len(line) < 400 and "File name too long" in line


def test_errors_are_mini_engine_errors_with_escaped_names(tmp_path):
    name = tmp_path / "a\x1b]0;PWNED\x07\nb"
    name.mkdir()
    with pytest.raises(MiniEngineError) as e:
        write(name)
    assert "\x1b" not in str(e.value) and "\x07" not in str(e.value) and "\n" not in str(e.value)


def test_check_target_returns_the_path_and_fails_early(tmp_path):
    assert check_target(tmp_path / "ok.json") == str(tmp_path / "ok.json")
    with pytest.raises(OutputFileError):
        check_target(tmp_path / "no" / "ok.json")


def test_file_appearing_during_the_write_is_not_clobbered(tmp_path):
    out = tmp_path / "out.txt"
    with pytest.raises(OutputExistsError):
        with atomic_write(out) as f:
            f.write("mine\n")
            out.write_text("theirs\n")
    assert out.read_text() == "theirs\n"
    assert leftovers(tmp_path) == []


SIGNAL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from mini_engine.files.write import atomic_write
    with atomic_write(sys.argv[1]) as f:
        f.write("partial")
        f.flush()
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))
        while True:  # the handler raises at the next bytecode; never reached for long
            f.write("more")
""")


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_signal_during_write_removes_the_temp_file(tmp_path, signame):
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT, str(out), signame],
                          capture_output=True, text=True, timeout=120)
    import signal
    assert proc.returncode == 128 + getattr(signal, signame)
    assert proc.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_signal_handlers_are_restored(tmp_path):
    import signal
    before = signal.getsignal(signal.SIGTERM)
    write(tmp_path / "a.txt")
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("text, shown", [
    ("plain name", "plain name"),
    ("\x1b]0;PWNED\x07", "\\x1b]0;PWNED\\x07"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("\x7f\x9b31m", "\\x7f\\x9b31m"),
    ("évé 名前 😀", "évé 名前 😀"),
    ("rtl\u202eexe.yaml", "rtl\\u202eexe.yaml"),
    ("bad\udcffbyte", "bad\\xffbyte"),  # an undecodable byte of a file name
    ("unassigned\ud7fc", "unassigned\\ud7fc"),
    ("line\u2028sep", "line\\u2028sep"),
])
def test_safe_text(text, shown):
    assert safe_text(text) == shown
    assert safe_text(shown) == shown
