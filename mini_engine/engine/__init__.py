"""The engine, laid out like vllm/v1: headless, deterministic, and importing nothing above it."""
