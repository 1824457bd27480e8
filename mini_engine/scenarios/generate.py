"""The `generate:` block: many requests from one seed, for large workloads.

Validated by `GenerateSection` (schema.py); expanded here into `RequestSpec`s that the
loader appends after the scenario's explicit requests.
"""

from __future__ import annotations

import numpy as np

from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.scenarios.schema import GenerateSection
from mini_engine.scenarios.spec import GenerateSpec, RequestSpec

__all__ = ["expand_generate", "generate_spec"]


def expand_generate(gen: GenerateSection) -> list[RequestSpec]:
    """The generate block's requests. Deterministic: one default_rng(seed), draws in a fixed order.

    arrival_step = floor of the running sum of exponential gaps with mean 1/arrival_rate
    (a Poisson process; all 0 without a rate); prompt and max_tokens lengths uniform in
    their inclusive ranges; a `shared_prefix_fraction` of the prompts start with the same
    `shared_prefix_len` tokens; prompt tokens are printable ASCII (32..126).
    """
    rng = np.random.default_rng(gen.seed)
    n = gen.count
    if gen.arrival_rate is None:
        arrivals = np.zeros(n, dtype=np.int64)
    else:
        arrivals = np.floor(np.cumsum(rng.exponential(1.0 / gen.arrival_rate, n))).astype(np.int64)
    prompt_lens = rng.integers(gen.prompt_len[0], gen.prompt_len[1], size=n, endpoint=True)
    max_tokens = rng.integers(gen.max_tokens[0], gen.max_tokens[1], size=n, endpoint=True)
    shared = rng.random(n) < gen.shared_prefix_fraction
    prefix = rng.integers(32, 127, size=gen.shared_prefix_len).tolist()
    tokens = rng.integers(32, 127, size=int(prompt_lens.sum())).tolist()
    specs = []
    offset = 0
    for k, rid in enumerate(gen.request_ids()):
        length = int(prompt_lens[k])
        ids = tokens[offset:offset + length]
        offset += length
        if shared[k]:
            ids[:len(prefix)] = prefix
        specs.append(RequestSpec(
            request_id=rid,
            sampling_params=SamplingParams(max_tokens=int(max_tokens[k]), temperature=0.0,
                                           ignore_eos=gen.ignore_eos),
            prompt_token_ids=tuple(ids), arrival_step=int(arrivals[k])))
    return specs



def generate_spec(gen: GenerateSection) -> GenerateSpec:
    """The block as written, kept in `Scenario.generate` (recordings store it)."""
    return GenerateSpec(
        count=gen.count, seed=gen.seed, prompt_len=tuple(gen.prompt_len),
        max_tokens=tuple(gen.max_tokens), arrival_rate=gen.arrival_rate,
        shared_prefix_fraction=gen.shared_prefix_fraction,
        shared_prefix_len=gen.shared_prefix_len, ignore_eos=gen.ignore_eos,
        id_prefix=gen.id_prefix)
