"""`mini-engine schema`: print the JSON Schema of scenario files, or of recordings."""

from __future__ import annotations

import json

from mini_engine.cli.common import EXIT_OK, add_command

NAME = "schema"


def subparser_init(subparsers) -> None:
    sch = add_command(
        subparsers, NAME, "print the scenario (or recording) JSON Schema",
        "Print the JSON Schema of scenario files (for editors), or with --recording the "
        "schema of a JSONL recording's lines.",
        ("mini-engine schema", "mini-engine schema --recording"))
    sch.add_argument("--recording", action="store_true",
                     help="the JSONL recording format's schema instead")
    sch.set_defaults(func=cmd)


def cmd(args) -> int:
    if args.recording:
        from mini_engine.recording.jsonl import recording_json_schema
        schema = recording_json_schema()
    else:
        from mini_engine.scenarios.loader import scenario_json_schema
        schema = scenario_json_schema()
    print(json.dumps(schema, indent=2, sort_keys=False))
    return EXIT_OK
