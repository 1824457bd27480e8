"""files/read.py: only regular files are read, never more than the limit, and every error
is one printable line naming the file (issue 8, classes 2 and 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mini_engine.errors import MiniEngineError
from mini_engine.files.read import (InputFileError, display_name, format_size, open_input,
                                    printable, read_text)

LIMIT = 1000


def _error(path, max_bytes: int = LIMIT) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        read_text(path, what="a scenario", max_bytes=max_bytes)
    error = info.value
    assert isinstance(error, MiniEngineError)
    assert "\n" not in str(error) and "\x1b" not in str(error)
    return error


def test_regular_file_reads_as_text(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes("\ufeffname: é\n".encode())
    assert read_text(path, what="a scenario", max_bytes=LIMIT) == "name: é\n"
    with open_input(str(path), what="a scenario", max_bytes=LIMIT) as f:
        assert f.read() == "\ufeffname: é\n".encode()


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    # In a subprocess: an open() that blocks would hang this test, not the suite.
    fifo = tmp_path / "x.yaml"
    os.mkfifo(fifo)
    code = ("import sys\nfrom mini_engine.files.read import read_text, InputFileError\n"
            "try:\n    read_text(sys.argv[1], what='a scenario', max_bytes=1000)\n"
            "except InputFileError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout == (f"{fifo}: is a FIFO (named pipe), not a regular file; "
                           f"a scenario must be a regular file\n")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/full", "/dev/null"])
def test_devices_and_links_to_them_are_refused(tmp_path: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    link = tmp_path / "x.yaml"
    link.symlink_to(device)
    for path in (device, link):
        assert str(_error(path)) == (f"{path}: is a character device, not a regular file; "
                                     f"a scenario must be a regular file")


def test_directory_missing_and_empty_path(tmp_path: Path) -> None:
    assert str(_error(tmp_path)) == (f"{tmp_path}: is a directory, not a regular file; "
                                     f"a scenario must be a regular file")
    assert str(_error(tmp_path / "nope.yaml")) == f"{tmp_path / 'nope.yaml'}: no such file"
    assert str(_error("")) == "'': empty file name: give the path of a scenario"


def test_over_long_path_is_one_short_line(tmp_path: Path) -> None:
    path = str(tmp_path / ("n" * 5000 + ".yaml"))
    error = _error(path)
    assert str(error).endswith(": cannot read: file name too long")
    assert len(str(error)) < 260
    assert error.filename == path


def test_size_limit_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a" * (LIMIT + 1))
    assert str(_error(path)) == (f"{path}: 1001 bytes is over the 1000 bytes limit "
                                 f"for a scenario")
    path.write_bytes(b"a" * (17 * 1024 * 1024 + 200_000))
    assert str(_error(path, 16 * 1024 * 1024)) == (f"{path}: 17.2 MB is over the 16 MB "
                                                   f"limit for a scenario")
    path.write_bytes(b"a" * LIMIT)
    assert len(read_text(path, what="a scenario", max_bytes=LIMIT)) == LIMIT


def test_a_growing_file_never_yields_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "grows.jsonl"
    path.write_bytes(b"a" * 10)
    with open_input(path, what="a recording", max_bytes=LIMIT) as f:
        with open(path, "ab") as grow:
            grow.write(b"b" * (2 * LIMIT))
        with pytest.raises(InputFileError) as info:
            f.read()
    assert str(info.value) == (f"{path}: grew while being read, past the 1000 bytes limit "
                               f"for a recording")


def test_not_utf8_names_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: a\ndescription: caf\xe9\n")
    error = _error(path)
    assert str(error) == f"{path}:2: not UTF-8 text (invalid byte 0xe9 at offset 24)"
    assert error.line == 2


@pytest.mark.parametrize("name", ["with space.yaml", "ünï códe.yml", "日本語", "-x.yaml",
                                  "noext", "tab\tname.yaml"])
def test_odd_names_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("x: 1\n", encoding="utf-8")
    assert read_text(path, what="a scenario", max_bytes=LIMIT) == "x: 1\n"


def test_non_utf8_and_newline_names(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xff\nname\x1b[31m.yaml"
    with open(raw, "wb") as f:
        f.write(b"\xff")
    error = _error(raw)
    assert str(error) == (f"{tmp_path}/bad\\xff\\nname\\x1b[31m.yaml:1: not UTF-8 text "
                          f"(invalid byte 0xff at offset 0)")


def test_display_name() -> None:
    assert display_name("plain/path.yaml") == "plain/path.yaml"
    assert display_name("a\nb\r\tc\x1b]0;PWNED\x07") == "a\\nb\\r\\tc\\x1b]0;PWNED\\x07"
    assert display_name(b"caf\xe9.yaml") == "caf\\xe9.yaml"
    assert display_name("\u202eevil") == "\\u202eevil"
    assert display_name("") == "''"
    assert display_name("日本語.yml") == "日本語.yml"
    long = display_name("d/" * 1000 + "x.yaml")
    assert len(long) == 200 and "..." in long and long.endswith("x.yaml")
    for name in ("a\nb\x1b", long, b"\xff\xfe", "x" * 999):
        assert display_name(display_name(name)) == display_name(name)


def test_format_size() -> None:
    assert [format_size(n) for n in (12, 2048, 16 * 1024 * 1024, 18_035_000, 3 * 1024 ** 3)] == \
        ["12 bytes", "2 KB", "16 MB", "17.2 MB", "3 GB"]


def test_printable_shortens_and_escapes_any_text() -> None:
    assert printable("plain", 10) == "plain"
    assert printable("a\x1b[2Jb", 50) == "a\\x1b[2Jb"
    assert printable("x" * 30, 10) == "xxxx...xxx"
    assert len(printable("\n" * 1000, 100)) == 100
