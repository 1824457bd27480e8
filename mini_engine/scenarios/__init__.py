"""Scenarios: the YAML spec, its loader, the bundled catalog and the runner that plays one."""
