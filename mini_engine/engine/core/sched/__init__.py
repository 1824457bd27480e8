"""The scheduler, its queues and its per-step output (vllm/v1/core/sched)."""
