"""KV-cache management and scheduling (vllm/v1/core)."""
