"""Request's read-only token views, its append paths, and the one stop check."""

from __future__ import annotations

import pickle

import pytest

from mini_engine import Request, RequestStatus, SamplingParams
from mini_engine.engine.core.kv_cache_utils import make_block_hasher
from mini_engine.engine.core.sched.utils import check_stop

EOS = 256


def make(prompt=(1, 2, 3), block_size=None, **params) -> Request:
    hasher = make_block_hasher(block_size) if block_size else None
    return Request("r", list(prompt), SamplingParams(**params), eos_token_id=EOS,
                   block_hasher=hasher)


def test_views_are_live_and_read_only():
    r = make()
    views = (r.all_token_ids, r.output_token_ids, r.prompt_token_ids)
    r.append_output_token_ids(7)
    r.append_output_token_ids([8, 9])
    assert views[0] == [1, 2, 3, 7, 8, 9] and views[1] == [7, 8, 9] and views[2] == [1, 2, 3]
    assert (len(views[1]), views[1][0], views[1][-1], views[1][1:]) == (3, 7, 9, [8, 9])
    assert list(views[1]) == [7, 8, 9] and 8 in views[1] and 1 not in views[1]
    assert views[1] != (7, 8, 9)  # compares like a list
    assert r.last_token_id == 9 and r.num_tokens == 6 and r.num_output_tokens == 3
    for view in views:
        for mutate in (lambda v: v.append(1), lambda v: v.extend([1]), lambda v: v.pop(),
                       lambda v: v.__setitem__(0, 1), lambda v: v.clear()):
            with pytest.raises(TypeError, match="read-only"):
                mutate(view)
    assert r.all_token_ids == [1, 2, 3, 7, 8, 9]


def test_appends_hash_each_block_they_complete():
    r = make(prompt=(1, 2, 3), block_size=2)
    assert len(r.block_hashes) == 1
    r.append_output_token_ids(4)
    assert len(r.block_hashes) == 2
    other = make(prompt=(1, 2, 3, 4), block_size=2)
    assert other.block_hashes == r.block_hashes  # same tokens, same chained hashes
    r.append_output_token_ids([5, 6, 7])
    assert len(r.block_hashes) == 3


def test_batch_append_equals_one_by_one_and_reports_possible_stops():
    def fresh():
        return [make(prompt=(1, 2, 3), block_size=2, max_tokens=2, stop_token_ids=[5]),
                make(prompt=(1, 2), block_size=2),
                make(prompt=(4,), block_size=2),
                make(prompt=(4,), block_size=2, ignore_eos=True)]
    batch, single = fresh(), fresh()
    for r in (batch[0], single[0]):
        r.length_limit = 5  # as the scheduler sets it: prompt + max_tokens
    tokens = [9, 5, EOS, EOS]
    may_stop = Request.append_one_token_each(batch, tokens)
    for r, t in zip(single, tokens):
        r.append_output_token_ids(t)
    for a, b in zip(batch, single):
        assert (list(a.all_token_ids), a.num_tokens, a.block_hashes) == (
            list(b.all_token_ids), b.num_tokens, b.block_hashes)
    # Request 1 emitted 5, but 5 is only request 0's stop id; request 3 ignores EOS.
    assert may_stop == [batch[2]]
    # Request 0 reaches its length limit with its next token.
    assert Request.append_one_token_each(batch[:1], [9]) == [batch[0]]


def test_batch_append_skips_finished_requests():
    r = make()
    r.status = RequestStatus.FINISHED_ABORTED
    assert Request.append_one_token_each([r], [EOS]) == []
    assert r.num_tokens == 3


@pytest.mark.parametrize("token, params, status, stop_reason", [
    (EOS, dict(), RequestStatus.FINISHED_STOPPED, None),
    (EOS, dict(stop_token_ids=[EOS]), RequestStatus.FINISHED_STOPPED, None),  # EOS first
    (EOS, dict(ignore_eos=True), None, None),
    (EOS, dict(ignore_eos=True, stop_token_ids=[EOS]), RequestStatus.FINISHED_STOPPED, EOS),
    (7, dict(stop_token_ids=[7]), RequestStatus.FINISHED_STOPPED, 7),
    (7, dict(max_tokens=1, stop_token_ids=[7]), RequestStatus.FINISHED_STOPPED, 7),  # before length
    (7, dict(max_tokens=1), RequestStatus.FINISHED_LENGTH, None),
    (7, dict(max_tokens=2), None, None),
    (7, dict(max_tokens=1, min_tokens=1), RequestStatus.FINISHED_LENGTH, None),
])
def test_check_stop_order(token, params, status, stop_reason):
    r = make(**params)
    r.length_limit = r.num_prompt_tokens + r.max_tokens
    r.append_output_token_ids(token)
    assert check_stop(r) == status
    assert r.stop_reason == stop_reason


def test_check_stop_length_limit_folds_in_max_model_len():
    r = make(max_tokens=10)
    r.length_limit = 4  # max_model_len 4 < 3 + 10
    r.append_output_token_ids(7)
    assert check_stop(r) == RequestStatus.FINISHED_LENGTH


def test_requests_with_a_block_hasher_pickle():
    r = make(prompt=tuple(range(9)), block_size=4)
    copy = pickle.loads(pickle.dumps(r))
    assert copy.block_hashes == r.block_hashes and copy.all_token_ids == r.all_token_ids
    copy.append_output_token_ids([1, 2, 3])
    r.append_output_token_ids([1, 2, 3])
    assert copy.block_hashes == r.block_hashes and len(r.block_hashes) == 3
