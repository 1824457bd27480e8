"""`Request` and `RequestStatus`: a request is two counters racing.

`num_computed_tokens` (tokens whose KV is in the cache, or scheduled to be)
chases `num_tokens` (prompt + outputs so far). Names follow vllm/v1/request.py.
The token lists are private: other modules read them through read-only views
(`all_token_ids`, `output_token_ids`, `prompt_token_ids`, `last_token_id`) and
append through `append_output_token_ids` (or its batch fast path), which keep
`num_tokens` and the block hashes in step.
"""

from __future__ import annotations

import enum
from typing import Callable, Iterable, Iterator, Sequence

from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.engine.utils import ConstantList


class RequestStatus(enum.IntEnum):
    """Lifecycle states, in vLLM's order: every value above PREEMPTED is finished.

    The length stop is FINISHED_LENGTH (the lab's name), or vLLM's FINISHED_LENGTH_CAPPED
    in vllm_compat mode; that one comes last so the lab's values (a recording's status
    codes) stay as they were.
    """

    WAITING = enum.auto()
    RUNNING = enum.auto()
    PREEMPTED = enum.auto()
    FINISHED_STOPPED = enum.auto()
    FINISHED_LENGTH = enum.auto()  # vLLM: FINISHED_LENGTH_CAPPED (the lab's name)
    FINISHED_ABORTED = enum.auto()
    FINISHED_IGNORED = enum.auto()
    FINISHED_LENGTH_CAPPED = enum.auto()  # vLLM's name: the length stop in vllm_compat mode

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def is_finished(status: "RequestStatus") -> bool:
        return status > RequestStatus.PREEMPTED

    @staticmethod
    def get_finished_reason(status: "RequestStatus") -> str | None:
        return _FINISHED_REASONS.get(status)


_PREEMPTED = RequestStatus.PREEMPTED

_FINISHED_REASONS = {
    RequestStatus.FINISHED_STOPPED: "stop",
    RequestStatus.FINISHED_LENGTH: "length",
    RequestStatus.FINISHED_ABORTED: "abort",
    RequestStatus.FINISHED_IGNORED: "length",
    RequestStatus.FINISHED_LENGTH_CAPPED: "length",
}


class Request:
    """One generation request. `__slots__` because the hot loop touches these fields."""

    __slots__ = (
        "request_id", "sampling_params", "priority", "arrival_time",
        "status", "num_computed_tokens", "num_prompt_tokens", "num_tokens",
        "num_preemptions", "stop_reason", "block_hashes", "is_prefill_chunk",
        "num_cached_tokens", "max_tokens", "min_tokens", "temperature", "eos_token_id", "stop_token_ids",
        "length_limit", "_prompt_token_ids", "_all_token_ids", "_stopping_token_ids",
        "_block_hasher", "_hash_block_size", "cache_salt", "skip_reading_prefix_cache",
    )

    def __init__(
        self,
        request_id: str,
        prompt_token_ids: list[int],
        sampling_params: SamplingParams,
        eos_token_id: int | None = None,
        priority: int = 0,
        arrival_time: float = 0.0,
        block_hasher: Callable[["Request"], None] | None = None,
        cache_salt: str | None = None,
    ) -> None:
        self.request_id = request_id
        # Mixed into the first block's hash: requests share prefix-cache blocks only
        # with the same salt (vLLM's tenant isolation). None or "" means no salt.
        self.cache_salt = cache_salt
        # vLLM request.py get_skip_reading_prefix_cache(): prompt_logprobs requests.
        self.skip_reading_prefix_cache = bool(sampling_params.skip_reading_prefix_cache)
        self._prompt_token_ids = list(prompt_token_ids)
        self.sampling_params = sampling_params
        self.priority = priority
        self.arrival_time = arrival_time
        self.status = RequestStatus.WAITING
        self.num_computed_tokens = 0
        self.num_prompt_tokens = len(self._prompt_token_ids)
        self._all_token_ids = list(self._prompt_token_ids)
        self.num_tokens = self.num_prompt_tokens
        self.num_preemptions = 0
        self.stop_reason: int | str | None = None
        self.is_prefill_chunk = False
        # Prefix-cache hit tokens at first admission (vLLM's num_cached_tokens); -1 = not yet.
        self.num_cached_tokens = -1
        self.max_tokens = sampling_params.max_tokens
        # num_tokens at which the length stop fires: min(max_model_len, prompt + max_tokens).
        # The scheduler sets it (it knows max_model_len).
        self.length_limit = self.num_prompt_tokens + self.max_tokens
        self.min_tokens = sampling_params.min_tokens
        self.temperature = sampling_params.temperature
        # The EOS that stops this request: None when ignore_eos (as vLLM's SamplingParams).
        eos = sampling_params.eos_token_id if sampling_params.eos_token_id is not None else eos_token_id
        self.eos_token_id = None if sampling_params.ignore_eos else eos
        self.stop_token_ids = frozenset(sampling_params.stop_token_ids or ())
        # Any token that check_stop could stop on: the batch append's cheap pre-filter.
        self._stopping_token_ids = (self.stop_token_ids if self.eos_token_id is None
                                    else self.stop_token_ids | {self.eos_token_id})
        self.block_hashes: list[int] = []
        self._block_hasher = block_hasher
        # Appends only need hashing when they complete a block (0: no prefix caching).
        self._hash_block_size = getattr(block_hasher, "block_size", 0) if block_hasher else 0
        if block_hasher is not None:
            block_hasher(self)

    @classmethod
    def restored(cls, request_id: str, prompt_token_ids, output_token_ids, block_hashes,
                 sampling_params: SamplingParams, *, eos_token_id: int | None, priority: int,
                 arrival_time: float, block_hasher: Callable[["Request"], None] | None
                 ) -> "Request":
        """A request rebuilt from a snapshot (engine/snapshot.py): tokens and block hashes
        as saved, nothing re-hashed; the caller sets status and counters."""
        request = cls(request_id, prompt_token_ids, sampling_params, eos_token_id=eos_token_id,
                      priority=priority, arrival_time=arrival_time)
        request._all_token_ids.extend(output_token_ids)
        request.num_tokens = len(request._all_token_ids)
        request.block_hashes = list(block_hashes)
        request._block_hasher = block_hasher
        request._hash_block_size = getattr(block_hasher, "block_size", 0) if block_hasher else 0
        return request

    # Read-only views, named as vLLM's (ConstantList: live, but every mutation raises).
    @property
    def prompt_token_ids(self) -> ConstantList[int]:
        return ConstantList(self._prompt_token_ids)

    @property
    def all_token_ids(self) -> ConstantList[int]:
        return ConstantList(self._all_token_ids)

    @property
    def output_token_ids(self) -> ConstantList[int]:
        return ConstantList(self._all_token_ids, self.num_prompt_tokens)

    @property
    def last_token_id(self) -> int:
        return self._all_token_ids[-1]

    @staticmethod
    def last_token_ids(requests: Iterable["Request"]) -> Iterator[int]:
        """Each request's `last_token_id`, for a batch reader (the sampler gathers its rows
        with it: reading the list directly costs a third less than the property)."""
        return (r._all_token_ids[-1] for r in requests)

    @property
    def num_output_tokens(self) -> int:
        return self.num_tokens - self.num_prompt_tokens

    def append_output_token_ids(self, token_ids: int | Iterable[int]) -> None:
        """Append sampled token(s), hashing each block they complete (vLLM's signature)."""
        if type(token_ids) is int:  # the engine's own call: one token
            self._all_token_ids.append(token_ids)
            self.num_tokens = num_tokens = self.num_tokens + 1
            if self._hash_block_size and not num_tokens % self._hash_block_size:
                self._block_hasher(self)
            return
        for token_id in ((token_ids,) if isinstance(token_ids, int) else token_ids):
            self._all_token_ids.append(token_id)
            self.num_tokens += 1
            if self._hash_block_size and self.num_tokens % self._hash_block_size == 0:
                self._block_hasher(self)

    @staticmethod
    def append_one_token_each(requests: Sequence["Request"],
                              tokens: Iterable[int]) -> list["Request"]:
        """Fast path of `append_output_token_ids` for a step where each request sampled one token.

        Requests already finished (aborted while the step ran) are skipped. Returns the
        requests whose new token is EOS or a stop id, or that reached their length limit:
        the only ones `check_stop` can stop, so the caller runs it on those alone.
        """
        may_stop = []
        for request, token in zip(requests, tokens):
            if request.status > _PREEMPTED:
                continue
            request._all_token_ids.append(token)
            num_tokens = request.num_tokens + 1
            request.num_tokens = num_tokens
            hash_block_size = request._hash_block_size
            if hash_block_size and not num_tokens % hash_block_size:
                request._block_hasher(request)
            if token in request._stopping_token_ids or num_tokens >= request.length_limit:
                may_stop.append(request)
        return may_stop

    def token_ids_slice(self, start: int, end: int) -> tuple[int, ...]:
        """Tokens [start, end) as a tuple: what the block hasher hashes, without a view."""
        return tuple(self._all_token_ids[start:end])

    def is_finished(self) -> bool:
        return self.status > RequestStatus.PREEMPTED

    def get_finished_reason(self) -> str | None:
        return _FINISHED_REASONS.get(self.status)

    def __lt__(self, other: "Request") -> bool:
        # Priority-queue order (vLLM request.py): priority, arrival, then id.
        return (self.priority, self.arrival_time, self.request_id) < (
            other.priority, other.arrival_time, other.request_id)

    def __repr__(self) -> str:
        return (f"Request({self.request_id!r}, {self.status.name}, "
                f"computed={self.num_computed_tokens}, tokens={self.num_tokens})")
