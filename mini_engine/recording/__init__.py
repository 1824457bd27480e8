"""Recordings: a seekable timeline of a run, built only from what an engine emits."""
