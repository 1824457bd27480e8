"""`check_stop`: the one stop check, run after every token appended to a request (vLLM 0.33's
vllm/v1/core/sched/utils.py).

Order: EOS (unless ignore_eos: then `request.eos_token_id` is None), then the stop token
ids (the token becomes `stop_reason`), then the length limit (`max_tokens` outputs or
`max_model_len` tokens, folded into `request.length_limit` when the scheduler admits the
request; FINISHED_LENGTH, or the `length_status` the scheduler passes: vLLM's
FINISHED_LENGTH_CAPPED in vllm_compat mode). vLLM's `min_tokens` gate guards only its
repetition check, which mini_engine lacks: below `min_tokens` the sampler masks EOS and
stop ids for models that produce logits, and a token-rule model that returns one anyway
stops the request, as in vLLM.
"""

from __future__ import annotations

from mini_engine.engine.request import Request, RequestStatus

FINISHED_STOPPED = RequestStatus.FINISHED_STOPPED
FINISHED_LENGTH = RequestStatus.FINISHED_LENGTH


def check_stop(request: Request, length_status: RequestStatus = FINISHED_LENGTH
               ) -> RequestStatus | None:
    """The finished status `request`'s last appended token puts it in, or None to go on.

    Sets `request.stop_reason` on a stop-token stop; the caller sets the status (it
    needs to know which queue the request was in first).
    """
    token = request.last_token_id
    if token == request.eos_token_id:
        return FINISHED_STOPPED
    if token in request.stop_token_ids:
        request.stop_reason = token
        return FINISHED_STOPPED
    if request.num_tokens >= request.length_limit:
        return length_status
    return None


def never_fits_reason(request: Request, config) -> str | None:
    """Why the request can never run (prompt too long for max_model_len, or for the whole
    KV cache), or None. Such a request is finished as FINISHED_IGNORED at once."""
    n = request.num_prompt_tokens
    if n >= config.max_model_len:
        return f"prompt has {n} tokens, must be < max_model_len ({config.max_model_len})"
    needed = -(-n // config.block_size)
    if needed > config.num_usable_blocks:
        return (f"prompt needs {needed} KV blocks, "
                f"the cache has {config.num_usable_blocks} usable blocks")
    return None
