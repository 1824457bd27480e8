"""The generate block expanded directly (generate.py): exact, seeded requests, pinned."""

from __future__ import annotations

from mini_engine.scenarios.generate import expand_generate, generate_spec
from mini_engine.scenarios.schema import GenerateSection
from mini_engine.scenarios.spec import GenerateSpec

BLOCK = {"count": 4, "seed": 7, "prompt_len": [4, 6], "max_tokens": [2, 5], "arrival_rate": 1.5,
         "shared_prefix_fraction": 0.6, "shared_prefix_len": 2, "id_prefix": "w"}


def test_expand_generate_gives_exactly_the_pinned_requests():
    # Pinned values: a change here changes every generated workload (large_workload included).
    specs = expand_generate(GenerateSection.model_validate(BLOCK))
    assert [(s.request_id, s.prompt_token_ids, s.arrival_step, s.sampling_params.max_tokens)
            for s in specs] == [
        ("w0", (126, 74, 77, 79), 0, 5),
        ("w1", (100, 56, 80, 126), 1, 2),
        ("w2", (100, 56, 98, 91), 1, 3),      # w1..w3 share the 2-token prefix (100, 56)
        ("w3", (100, 56, 76, 52, 112, 47), 2, 5),
    ]
    assert all(s.sampling_params.ignore_eos and s.sampling_params.temperature == 0.0
               and s.prompt is None and s.priority == 0 for s in specs)


def test_generate_spec_keeps_the_block_as_written():
    assert generate_spec(GenerateSection.model_validate(BLOCK)) == GenerateSpec(
        count=4, seed=7, prompt_len=(4, 6), max_tokens=(2, 5), arrival_rate=1.5,
        shared_prefix_fraction=0.6, shared_prefix_len=2, ignore_eos=True, id_prefix="w")
