"""Capture a real vLLM server's scheduling decisions into a recording file (format v2, capture
lines): `vllm` (the scheduler subclasses and the plugin, vllm imported lazily), `observe`
(what a step's line holds, read from the scheduler's public state), `writer` (the buffered
file that never raises into the server). docs/capture-vllm.md says how to use it.
"""
