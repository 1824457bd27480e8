"""`mini-engine replay CAPTURE`: rerun a vLLM capture's workload on mini_engine and diff the two.

The capture (docs/capture-vllm.md) becomes a scenario (recording/capture_load.py:
engine settings in vllm_compat mode, arrivals at their steps, prompt lengths or ids,
output lengths and stop reasons), mini_engine runs it, and the runs are compared step
by step (recording/capture_diff.py). Prints the first divergence with a few steps of
context, then a summary side by side. Exit 0 when they match, 1 when they diverge.
"""

from __future__ import annotations

import yaml

from mini_engine.cli.common import EXIT_FAIL, EXIT_OK, add_command, say
from mini_engine.files.write import atomic_write

NAME = "replay"
CONTEXT_STEPS = 2  # steps shown on each side of the first divergence


def subparser_init(subparsers) -> None:
    p = add_command(
        subparsers, NAME, "replay a vLLM capture on mini_engine and diff them step by step",
        "Build the scenario that reproduces a capture's workload (recorded inside a vLLM "
        "server with mini_engine.capture.vllm: see docs/capture-vllm.md), run it on "
        "mini_engine in vllm_compat mode, and compare the two runs step by step: the "
        "first divergence (step, field, vLLM vs mini_engine, with context), then steps, "
        "preemptions, and each request's first-token and finish steps side by side. "
        "Settings mini_engine does not model are named. Exit 0 when the runs match, 1 "
        "when they diverge.",
        ("mini-engine replay tests/data/vllm_captures/d_memory_pressure.jsonl",
         "mini-engine replay tests/data/vllm_captures/a_hello.jsonl "
         "--scenario-out a_hello_replay.yaml --force"))
    p.add_argument("capture", metavar="CAPTURE", help="a capture (.jsonl) written by vLLM")
    p.add_argument("--scenario-out", metavar="OUT",
                   help="also write the replay scenario as YAML (to edit and run again)")
    p.add_argument("--force", action="store_true", help="replace an existing --scenario-out")
    p.set_defaults(func=cmd)


def scenario_yaml(sc) -> dict:
    """The replay scenario as a scenario file's mapping."""
    requests = []
    for r in sc.requests:
        sp = r.sampling_params
        d = {"id": r.request_id, "prompt_token_ids": list(r.prompt_token_ids),
             "max_tokens": sp.max_tokens, "ignore_eos": sp.ignore_eos, "temperature": 0.0}
        if sp.eos_token_id is not None:
            d["eos_token_id"] = sp.eos_token_id
        if sp.stop_token_ids:
            d["stop_token_ids"] = list(sp.stop_token_ids)
        for key, value in (("priority", r.priority), ("arrival_step", r.arrival_step),
                           ("cache_salt", r.cache_salt)):
            if value:
                d[key] = value
        requests.append(d)
    out = {"name": sc.name, "description": sc.description, "engine": sc.engine.to_dict(),
           "model": {"rule": sc.model.kind, "modulus": sc.model.modulus},
           "requests": requests}
    if sc.events:
        out["events"] = [{"step": e.step, "abort": e.request_id} for e in sc.events]
    if sc.expect is not None:
        ex = {"statuses": dict(sc.expect.statuses)}
        for key in ("total_steps", "num_preemptions"):
            if getattr(sc.expect, key) is not None:
                ex[key] = getattr(sc.expect, key)
        out["expect"] = ex
    return out


def _context(cap, rec, step: int) -> None:
    say(f"  {'step':>5}  {'vLLM scheduled':<40} mini_engine scheduled")
    for s in range(max(1, step - CONTEXT_STEPS), min(len(cap.steps), step + CONTEXT_STEPS) + 1):
        theirs = " ".join(f"{k}:{v}" for k, v in cap.steps[s - 1].scheduled.items()) or "-"
        ours = ("(no step)" if s > rec.num_steps else " ".join(
            f"{e.request_id}:{e.num_tokens}" for e in rec.step_record(s).scheduled) or "-")
        mark = ">" if s == step else " "
        say(f"{mark} {s:>5}  {theirs[:40]:<40} {ours[:60]}")


def _fmt(finish) -> str:
    return "-" if finish is None else f"{finish[0]} {finish[1].removeprefix('FINISHED_')}"


def cmd(args) -> int:
    from mini_engine.recording.capture_diff import divergences, request_rows
    from mini_engine.recording.capture_load import replay_scenario
    from mini_engine.recording.capture_load import load_capture
    from mini_engine.recording.jsonl import RecordingError
    from mini_engine.recording.recorder import record

    cap = load_capture(args.capture, lambda line, msg, field: RecordingError(
        args.capture, line, msg, field))
    sc = replay_scenario(cap)
    if args.scenario_out:
        with atomic_write(args.scenario_out, force=args.force) as f:
            yaml.safe_dump(scenario_yaml(sc), f, sort_keys=False, width=100)
    state = "complete" if cap.complete else "incomplete (no final line, or requests left)"
    say(f"{cap.title}: {cap.path}, {len(cap.steps)} steps, {len(sc.requests)} requests, "
        f"{state}")
    for note in cap.notes:
        say(f"not modelled: {note}")
    rec = record(sc, until=None if cap.complete else len(cap.steps))
    found = divergences(cap, rec)
    if found:
        first = found[0]
        say(f"first divergence: {first}")
        _context(cap, rec, first.step)
        say(f"{len(found)} divergent field(s) in all")
    else:
        say("divergences: none (every captured field matches, step by step)")
    theirs = sum(len(s.preempted) for s in cap.steps)
    say(f"steps: vLLM {len(cap.steps)}, mini_engine {rec.num_steps}; "
        f"preemptions: vLLM {theirs}, mini_engine {int(rec.summary().num_preemptions.sum())}")
    say(f"  {'request':<16} {'first token (vLLM / mini)':<27} finish (vLLM / mini)")
    for row in request_rows(cap, rec):
        ft = row["vllm_first_token_step"]
        say(f"  {row['request_id'][:16]:<16} "
            f"{('?' if ft is None else str(ft)) + ' / ' + str(row['mini_first_token_step']):<27} "
            f"{_fmt(row['vllm_finish'])} / {_fmt(row['mini_finish'])}")
    return EXIT_FAIL if found else EXIT_OK
