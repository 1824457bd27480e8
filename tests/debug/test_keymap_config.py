"""The keymap file (issue 9: keys remappable from a config file): binding ids to keys,
checked whole before anything applies, one line per problem naming file, line and id."""

from __future__ import annotations

import pytest

from mini_engine.debug.keymap_config import (KeymapError, keymap_path, load_keymap,
                                             parse_keymap)
from mini_engine.errors import MiniEngineError, error_line

DEFAULTS = {"step-forward": "right,l", "step-back": "left,h", "next-preemption": "p",
            "play": "space", "quit": "q"}


def error(text: str) -> str:
    with pytest.raises(KeymapError) as e:
        parse_keymap(text, DEFAULTS, "keymap.toml")
    assert isinstance(e.value, MiniEngineError)
    return error_line(e.value)


def test_strings_and_lists_of_keys():
    text = 'step-forward = "right, j"\nstep-back = ["left", "k"]\n"play" = "ctrl+space"\n'
    assert parse_keymap(text, DEFAULTS) == {"step-forward": "right,j", "step-back": "left,k",
                                            "play": "ctrl+space"}
    assert parse_keymap("# nothing remapped\n", DEFAULTS) == {}


def test_unknown_binding_id_with_did_you_mean():
    assert error('play = "x"\n\nstep-forwrd = "j"\n') == (
        "keymap.toml:3: step-forwrd: unknown binding id; did you mean 'step-forward'?")
    assert error('zzz = "j"\n') == (
        "keymap.toml:1: zzz: unknown binding id (binding ids: step-forward, step-back, "
        "next-preemption, play, quit)")


@pytest.mark.parametrize("value, message", [
    ('"ctrl+"', "'ctrl+' is not a key name (examples: right, ctrl+g, shift+left, f1, colon, L)"),
    ('"two words"', "'two words' is not a key name (examples: right, ctrl+g, shift+left, f1, "
                    "colon, L)"),
    ('""', "no keys given (a binding needs at least one key)"),
    ('[]', "no keys given (a binding needs at least one key)"),
    ('"a,a"', "a key is listed twice"),
    ('3', "expected a string of comma-separated keys (\"right,l\") or a list of keys, got "
          "int 3"),
    ('["a", 1]', "expected a string of comma-separated keys (\"right,l\") or a list of keys, "
                 "got a list with a non-string item"),
    ('{a = "b"}', "expected a string of comma-separated keys (\"right,l\") or a list of keys, "
                  "got a table"),
    ('"a,b,c,d,e,f,g,i,j"', "9 keys; at most 8 per binding"),
])
def test_bad_values(value, message):
    assert error(f"# my keys\nplay = {value}\n") == f"keymap.toml:2: play: {message}"


def test_toml_syntax_error_names_the_line():
    assert error('play = "x"\nquit = \n').startswith("keymap.toml:2: TOML syntax error: ")


def test_a_key_bound_twice_after_the_remap():
    assert error('play = "p"\n') == (
        "keymap.toml:1: play: key 'p' is also bound to 'next-preemption' (remap that one too)")
    # moving the key away from its old binding first is fine
    assert parse_keymap('play = "p"\nnext-preemption = "n"\n', DEFAULTS) == {
        "play": "p", "next-preemption": "n"}


def test_path_follows_xdg_config_home():
    assert keymap_path({"XDG_CONFIG_HOME": "/cfg", "HOME": "/home/u"}) == (
        "/cfg/mini-engine/keymap.toml")
    assert keymap_path({"HOME": "/home/u"}) == "/home/u/.config/mini-engine/keymap.toml"
    assert keymap_path({"XDG_CONFIG_HOME": "rel", "HOME": "/home/u"}) == (
        "/home/u/.config/mini-engine/keymap.toml")


def test_load_keymap_from_a_file(tmp_path):
    assert load_keymap(tmp_path / "absent.toml", DEFAULTS) == {}
    good = tmp_path / "keymap.toml"
    good.write_text('quit = "ctrl+q"\n')
    assert load_keymap(good, DEFAULTS) == {"quit": "ctrl+q"}
    bad = tmp_path / "bad.toml"
    bad.write_text('qiut = "x"\n')
    with pytest.raises(KeymapError) as e:
        load_keymap(bad, DEFAULTS)
    assert error_line(e.value) == f"{bad}:1: qiut: unknown binding id; did you mean 'quit'?"
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(MiniEngineError):  # not a regular file: InputFileError, one line
        load_keymap(tmp_path / "dir.toml", DEFAULTS)
    huge = tmp_path / "huge.toml"
    huge.write_text("# x\n" * 20000)
    with pytest.raises(MiniEngineError):
        load_keymap(huge, DEFAULTS)


def test_the_tui_registry_ids_all_parse():
    # The real registry's defaults are keys this parser accepts (so a user can copy them).
    from tui.keymap import KEYMAP
    defaults = {k.id: k.keys for k in KEYMAP}
    text = "".join(f'{k.id} = "{k.keys}"\n' for k in KEYMAP)
    assert parse_keymap(text, defaults) == defaults
