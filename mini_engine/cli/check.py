"""`mini-engine check`: run scenarios and compare each with its `expect` block (for CI)."""

from __future__ import annotations

from mini_engine.cli.common import EXIT_FAIL, EXIT_OK, add_command, report_error, say
from mini_engine.errors import MiniEngineError

NAME = "check"


def subparser_init(subparsers) -> None:
    chk = add_command(
        subparsers, NAME, "run scenarios and compare with their expect blocks",
        "Run each scenario and compare the result with its expect block (final statuses, "
        "total_steps, num_preemptions). Prints 'PASS NAME' or 'FAIL NAME: what differed' per "
        "scenario. A scenario without an expect block FAILs (a CI check that checks nothing "
        "should not pass silently) unless --allow-missing is given, which reports it as "
        "SKIP. Exit 0 if all pass, 1 on any failure or error.",
        ("mini-engine check hello kv_preemption",
         "mini-engine check --allow-missing hello abort"))
    chk.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    chk.add_argument("--allow-missing", action="store_true",
                     help="report scenarios without an expect block as SKIP, not FAIL")
    chk.set_defaults(func=cmd)


def check_one(arg: str, allow_missing: bool) -> str:
    """Check one scenario (or recording): "pass", "fail" or "skip", its line printed."""
    from mini_engine.cli.estimate import check_run_size
    from mini_engine.cli.progress import record_with_progress
    from mini_engine.scenarios.expect import expect_differences, has_expectations
    from mini_engine.sources import open_source

    source = open_source(arg)
    scenario = source.scenario
    if not has_expectations(scenario.expect):
        if allow_missing:
            say(f"SKIP {scenario.name}: no expect block")
            return "skip"
        say(f"FAIL {scenario.name}: no expect block, nothing to check "
            f"(add one, or pass --allow-missing)")
        return "fail"
    check_run_size(source)
    rec = record_with_progress(source, label=f"checking {scenario.name}")
    diffs = expect_differences(scenario, rec)
    if diffs:
        say(f"FAIL {scenario.name}: {'; '.join(diffs)}")
        return "fail"
    say(f"PASS {scenario.name}")
    return "pass"


def cmd(args) -> int:
    counts = {"pass": 0, "fail": 0, "skip": 0, "error": 0}
    for arg in args.scenarios:
        try:
            counts[check_one(arg, args.allow_missing)] += 1
        except (MiniEngineError, ValueError, OSError) as e:
            report_error(e)
            counts["error"] += 1
    if len(args.scenarios) > 1:
        parts = [f"{counts['pass']} passed", f"{counts['fail']} failed"]
        if counts["skip"]:
            parts.append(f"{counts['skip']} skipped")
        if counts["error"]:
            parts.append(f"{counts['error']} error{'s' if counts['error'] != 1 else ''}")
        say(", ".join(parts))
    return EXIT_FAIL if counts["fail"] or counts["error"] else EXIT_OK
