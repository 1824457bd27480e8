"""`mini-engine trace`: the lab's `trace_request`, with engine settings from `--set`."""

from __future__ import annotations

import dataclasses
import difflib

from mini_engine.cli.common import EXIT_OK, UsageError, add_command, say
from mini_engine.engine.config import ConfigError, EngineConfig

NAME = "trace"
SETTINGS = {f.name: f for f in dataclasses.fields(EngineConfig)}


def subparser_init(subparsers) -> None:
    tr = add_command(
        subparsers, NAME, "the lab's trace of one request",
        "The lab's trace_request: one greedy, ignore-EOS request, one event per step.",
        ("mini-engine trace hello",
         "mini-engine trace hello --max-tokens 8 --set max_num_batched_tokens=4 "
         "--set max_num_seqs=4"))
    tr.add_argument("prompt", metavar="PROMPT")
    tr.add_argument("--max-tokens", type=int, default=4, metavar="N",
                    help="tokens to generate (default: 4)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="an engine setting (repeatable; settings: "
                         f"{', '.join(SETTINGS)})")
    tr.set_defaults(func=cmd)


def cmd(args) -> int:
    from mini_engine.engine.lab import trace_request
    settings = parse_settings(args.set or [])
    if args.max_tokens < 1:
        raise UsageError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    for event in trace_request(args.prompt, max_tokens=args.max_tokens, **settings):
        say(repr(event))
    return EXIT_OK


def parse_settings(pairs: list[str]) -> dict:
    """`--set key=value` pairs -> EngineConfig keyword arguments (values are YAML scalars),
    type-checked here and validated by EngineConfig itself."""
    settings = dict(parse_setting(pair) for pair in pairs)
    try:
        EngineConfig(**settings)
    except ConfigError as e:
        raise UsageError(f"--set: {e}") from None
    return settings


def parse_setting(pair: str) -> tuple[str, object]:
    """One `key=value` -> (key, typed value), or a UsageError naming what is wrong."""
    import yaml
    key, sep, text = pair.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--set {pair!r}: expected key=value")
    if key not in SETTINGS:
        close = difflib.get_close_matches(key, list(SETTINGS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (settings: {', '.join(SETTINGS)})"
        raise UsageError(f"--set {pair}: unknown engine setting {key!r}{hint}")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    if isinstance(value, (list, dict)):
        raise UsageError(f"--set {pair}: expected a single value, not a YAML "
                         f"{'list' if isinstance(value, list) else 'mapping'}")
    kind = type(SETTINGS[key].default)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        word = {int: "an integer", bool: "true or false", str: "a string"}.get(kind, kind.__name__)
        raise UsageError(f"--set {pair}: {key} must be {word}, got {value!r}")
    return key, value
