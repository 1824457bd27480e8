"""The batch sampler equals sampling each row alone, as the toy model did before it was vectorized.

`row_by_row` below is the pre-redesign per-row code (model.py's `_sample_special` and
`_gumbel` at b7a8e45), kept here as the reference the vectorized sampler must match
bit for bit: golden run tables pin the text it produced.
"""

from __future__ import annotations

import zlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_engine import ConstantModel, LastPlusPosModel, LLMEngine, Request, SamplingParams
from mini_engine import ToyModel
from mini_engine.engine.sampler import (LogitsModel, Sampler, TokenRuleModel, gumbel_noise,
                                        request_seed)

EOS = 256


def _gumbel_one_row(seed: int, position: int, vocab_size: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
             + np.uint64(position) * np.uint64(0xBF58476D1CE4E5B9)
             + np.arange(vocab_size, dtype=np.uint64) * np.uint64(0x94D049BB133111EB))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    u = (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    u = np.clip(u, 1e-12, 1 - 1e-12)
    return (-np.log(-np.log(u))).astype(np.float32)


def row_by_row(model: ToyModel, requests: list[Request]) -> list[int]:
    """The reference: one row at a time, as ToyModel.sample did before sampler.py."""
    out = []
    for r in requests:
        last, pos = r.all_token_ids[-1], r.num_tokens
        if not (r.temperature > 0 or r.min_tokens):
            out.append(int(model.greedy_flat[last * 61 + pos % 61]))
            continue
        logits = model.logits(np.array([last]), np.array([pos]))[0].copy()
        if r.num_tokens - r.num_prompt_tokens < r.min_tokens:
            for t in r.stop_token_ids:
                if 0 <= t < model.vocab_size:
                    logits[t] = -np.inf
            if r.eos_token_id is not None:
                logits[r.eos_token_id] = -np.inf
        if r.temperature > 0:
            seed = r.sampling_params.seed
            if seed is None:
                seed = zlib.crc32(r.request_id.encode())
            logits = logits / r.temperature + _gumbel_one_row(seed, r.num_tokens, model.vocab_size)
        out.append(int(logits.argmax()))
    return out


rows = st.lists(st.tuples(
    st.lists(st.integers(0, 256), min_size=1, max_size=70),   # tokens (prompt + outputs)
    st.integers(0, 5),                                        # how many of them are outputs
    st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.7, 3]),            # temperature
    st.one_of(st.none(), st.integers(-2**40, 2**40)),         # seed
    st.integers(0, 8),                                        # min_tokens
    st.lists(st.integers(0, 300), max_size=3),                # stop token ids
    st.booleans(),                                            # ignore_eos
), min_size=1, max_size=12)


def build_requests(spec) -> list[Request]:
    requests = []
    for i, (tokens, n_out, temp, seed, min_tokens, stops, ignore_eos) in enumerate(spec):
        n_out = min(n_out, len(tokens) - 1)
        params = SamplingParams(max_tokens=max(min_tokens, 1) + 10, min_tokens=min_tokens,
                                temperature=temp, seed=seed, stop_token_ids=stops,
                                ignore_eos=ignore_eos)
        r = Request(f"q{i}", tokens[:len(tokens) - n_out], params, eos_token_id=EOS)
        r.append_output_token_ids(tokens[len(tokens) - n_out:])
        requests.append(r)
    return requests


@settings(deadline=None, derandomize=True, max_examples=300)
@given(rows, st.integers(0, 3))
def test_batch_sampler_equals_row_by_row(spec, model_seed):
    model = ToyModel(seed=model_seed)
    requests = build_requests(spec)
    expected = row_by_row(model, requests)
    assert Sampler()(model, requests) == expected
    assert Sampler(use_greedy_table=False)(model, requests) == expected


def test_greedy_table_is_the_argmax_of_the_logits():
    for seed in range(4):
        m = ToyModel(seed=seed)
        last = np.repeat(np.arange(m.vocab_size), 61)
        pos = np.tile(np.arange(61), m.vocab_size) + 61 * 3  # positions wrap with period 61
        assert np.array_equal(m.greedy_tokens(last, pos), m.logits(last, pos).argmax(axis=1))


def test_gumbel_rows_depend_only_on_seed_and_position():
    noise = gumbel_noise(np.array([5, 5, 7, 2**32 + 5]), np.array([3, 4, 3, 3]), 257)
    assert noise.shape == (4, 257) and noise.dtype == np.float32
    assert np.array_equal(noise[0], _gumbel_one_row(5, 3, 257))
    assert np.array_equal(noise[3], noise[0])  # only the low 32 bits of a seed count
    assert not np.array_equal(noise[0], noise[1]) and not np.array_equal(noise[0], noise[2])


def test_request_seed_defaults_to_a_hash_of_the_request_id():
    r = Request("abc", [1], SamplingParams(), eos_token_id=EOS)
    assert request_seed(r) == zlib.crc32(b"abc")
    r = Request("abc", [1], SamplingParams(seed=9), eos_token_id=EOS)
    assert request_seed(r) == 9


def test_models_are_routed_by_kind():
    assert isinstance(ToyModel(), LogitsModel)
    for rule in (LastPlusPosModel(), ConstantModel(3)):
        assert isinstance(rule, TokenRuleModel) and not isinstance(rule, LogitsModel)


def test_token_rule_models_bypass_min_tokens_masking():
    # ConstantModel(EOS) below min_tokens: nothing masks it, so the request stops at once.
    eng = LLMEngine(model=ConstantModel(EOS))
    r = eng.add_request("a", prompt_token_ids=[1, 2], sampling_params=SamplingParams(
        max_tokens=5, min_tokens=3))
    eng.step()
    assert (r.status.name, list(r.output_token_ids)) == ("FINISHED_STOPPED", [EOS])


def test_temperature_one_batch_matches_requests_run_alone():
    # Seeded sampling does not depend on the batch a request shares.
    params = SamplingParams(max_tokens=10, temperature=1.0, ignore_eos=True)
    prompts = ["hello", "the cat", "zz", "a longer prompt here"]
    together = LLMEngine().generate(prompts, params)
    for i, prompt in enumerate(prompts):
        alone = LLMEngine()
        alone.add_request(f"gen-{i}", prompt, params)
        while alone.has_unfinished_requests():
            alone.step()
        assert list(alone.get_request(f"gen-{i}").output_token_ids) == together[i].token_ids
