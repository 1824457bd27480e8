"""The headless debug session: cursor, event jumps, bookmarks, breakpoints and their conditions."""
