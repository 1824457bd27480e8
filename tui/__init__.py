"""The Textual step debugger for mini_engine recordings (reads records, renders, navigates)."""
