"""Scenarios: the spec (dataclasses), the file schema, the YAML loader, generate blocks,
the bundled catalog and the runner that plays one."""
