"""Modal screens: help, go to step, breakpoints, errors."""
