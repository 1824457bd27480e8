"""Read a capture (capture_format.py) and build the scenario that reproduces its workload.

A capture holds what vLLM decided, not the prompts' text nor (unless the user opted
in) their token ids, so the replay scenario is built from what it has: the engine
settings (mini_engine's vllm_compat mode), each request at the step it arrived with
its prompt length (its token ids when captured, else distinct made-up ids) and
priority, and what vLLM produced: the replay model is `last_plus_pos`, and a request
that stopped after n tokens gets as its EOS (or stop token) the token that model
samples as output n; one that hit its length gets `max_tokens = n`; an abort becomes
a timed abort. Settings
mini_engine does not model are listed in `Capture.notes`, never dropped silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pydantic import ValidationError

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.files.read import InputFileError, display_name, open_input
from mini_engine.recording.capture_format import CaptureHeader, CaptureStep, FinalLine
from mini_engine.recording.format import TOKEN_MAX
from mini_engine.recording.limits import MAX_LINE_BYTES, MAX_RECORDING_BYTES
from mini_engine.scenarios.spec import Expect, ModelSpec, RequestSpec, Scenario, ScenarioEvent

MODULUS = 256  # the replay model: last_plus_pos, token = (last token + position) % MODULUS
UNMODELLED_DEFAULTS = {"async_scheduling": False, "scheduler_reserve_full_isl": True,
                       "watermark": 0.0, "num_speculative_tokens": None, "kv_connector": None,
                       "num_kv_cache_groups": 1}


@dataclass
class Capture:
    """A loaded capture: its header, its step lines (step s at index s-1), its final line."""

    path: str
    header: CaptureHeader
    steps: list[CaptureStep]
    complete: bool
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        s = self.header.source
        return f"capture of vLLM {s.version} ({s.scheduler}, a {s.parent})"


def is_capture_header(first: dict) -> bool:
    return isinstance(first, dict) and first.get("kind") == "capture"


def load_capture(path: str | os.PathLike, error) -> Capture:
    """Read and validate every line; `error(line, message, field)` builds the exception."""
    name = display_name(path)
    try:
        with open_input(path, what="a capture", max_bytes=MAX_RECORDING_BYTES) as f:
            return _read(name, f, error)
    except InputFileError as e:
        raise error(e.line, e.message, e.field) from None


def _validate(model, text: str, lineno: int, error):
    try:
        return model.model_validate_json(text)
    except ValidationError as e:
        err = e.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        raise error(lineno, err["msg"][:300], loc) from None


def _read(name: str, f, error) -> Capture:
    lines = iter(lambda: f.readline(MAX_LINE_BYTES + 1), b"")
    header = None
    steps: list[CaptureStep] = []
    complete = False
    for lineno, raw in enumerate(lines, 1):
        if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
            raise error(lineno, "line too long or truncated (no newline at the end)", None)
        text = raw.decode("utf-8", errors="replace")
        if header is None:
            header = _validate(CaptureHeader, text, lineno, error)
        elif text.lstrip().startswith('{"final"'):
            final = _validate(FinalLine, text, lineno, error).final
            if final.num_steps != len(steps):
                raise error(lineno, f"says {final.num_steps}, the file has {len(steps)}",
                            "final.num_steps")
            complete = final.complete
            if f.read(1):
                raise error(lineno + 1, "unexpected data after the final line", None)
            break
        else:
            step = _validate(CaptureStep, text, lineno, error)
            if step.step != len(steps) + 1:
                raise error(lineno, f"expected {len(steps) + 1}, found {step.step}", "step")
            steps.append(step)
    if header is None:
        raise error(1, "empty file: expected a capture header", None)
    return Capture(name, header, steps, complete)


def _outcomes(cap: Capture) -> tuple[dict, dict, dict]:
    """(request id -> (arrival, arrival step), its finish entry, the step it was aborted)."""
    arrivals, finishes, aborts = {}, {}, {}
    for s in cap.steps:
        for a in s.arrived:
            arrivals[a.request_id] = (a, s.step - 1)
        for rid, _status in s.aborted:
            aborts[rid] = s.step - 1
        for entry in s.finished:
            finishes[entry[0]] = entry
    return arrivals, finishes, aborts


def _prompt(a, index: int, notes: list[str]) -> tuple[int, ...]:
    ids = a.prompt_token_ids
    if ids is not None and len(ids) == a.num_prompt_tokens and max(ids) <= TOKEN_MAX:
        return tuple(ids)
    if ids is not None and "token ids beyond" not in " ".join(notes):
        notes.append(f"token ids beyond mini_engine's vocabulary (0..{TOKEN_MAX}): prompts "
                     "replaced by distinct made-up ids (prefix-cache hits may differ)")
    head = (index % 256, (index // 256) % 256, (index // 65536) % 256)
    return (head + (1,) * a.num_prompt_tokens)[:a.num_prompt_tokens]


def _stop_token(prompt: tuple[int, ...], n: int) -> tuple[int, bool]:
    """The token the replay model (last_plus_pos) samples as output n, and whether it already
    sampled that token before (then the replay would stop early)."""
    tokens = list(prompt)
    for _ in range(n):
        tokens.append((tokens[-1] + len(tokens)) % MODULUS)
    return tokens[-1], tokens[-1] in tokens[len(prompt):-1]


def _sampling(rid: str, a, finish, prompt: tuple[int, ...], notes: list[str]) -> SamplingParams:
    max_tokens = a.max_tokens or 1
    if finish is None or finish[1] != "FINISHED_STOPPED":
        n = finish[4] if finish is not None and finish[1] == "FINISHED_LENGTH_CAPPED" else None
        return SamplingParams(max_tokens=n or max_tokens, temperature=0.0, ignore_eos=True)
    n = finish[4]
    token, early = _stop_token(prompt, n)
    if early:
        notes.append(f"request {rid}: its replay samples its stop token before output {n}")
    if finish[3] is None:  # EOS
        return SamplingParams(max_tokens=max(n, max_tokens), temperature=0.0,
                              eos_token_id=token)
    return SamplingParams(max_tokens=max(n, max_tokens), temperature=0.0, ignore_eos=True,
                          stop_token_ids=(token,))


def replay_scenario(cap: Capture) -> Scenario:
    """The scenario that reproduces the capture's workload on mini_engine (vllm_compat)."""
    h = cap.header
    notes = cap.notes
    notes.clear()
    for key, value in h.unmodelled.items():
        if key in UNMODELLED_DEFAULTS and value != UNMODELLED_DEFAULTS[key]:
            notes.append(f"{key} = {value!r}: not modelled by mini_engine (replayed as "
                         f"{UNMODELLED_DEFAULTS[key]!r})")
    if not h.token_ids and h.engine.enable_prefix_caching:
        notes.append("prompt token ids not captured (MINI_ENGINE_CAPTURE_TOKENS unset): "
                     "made-up prompts cannot reproduce prefix-cache hits")
    arrivals, finishes, aborts = _outcomes(cap)
    requests = []
    for i, (rid, (a, step)) in enumerate(arrivals.items()):
        prompt = _prompt(a, i, notes)
        requests.append(RequestSpec(
            request_id=rid, sampling_params=_sampling(rid, a, finishes.get(rid), prompt, notes),
            prompt_token_ids=prompt, priority=a.priority, arrival_step=step,
            cache_salt=a.cache_salt))
    events = tuple(ScenarioEvent(step=step, action="abort", request_id=rid)
                   for rid, step in sorted(aborts.items(), key=lambda kv: kv[1]))
    engine = EngineConfig(**{**h.engine.model_dump(), "vllm_compat": True})
    statuses = {rid: f[1] for rid, f in finishes.items()}
    statuses.update({rid: "FINISHED_ABORTED" for rid in aborts})
    expect = Expect(statuses=statuses, total_steps=len(cap.steps) if cap.complete else None,
                    num_preemptions=sum(len(s.preempted) for s in cap.steps))
    return Scenario(name=f"replay of {cap.path}", description=cap.title, engine=engine,
                    model=ModelSpec(kind="last_plus_pos", modulus=MODULUS),
                    requests=tuple(requests), events=events, expect=expect,
                    source=f"{cap.title}: {cap.path}")
