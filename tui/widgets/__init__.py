"""One widget per module, grouped by screen area."""
