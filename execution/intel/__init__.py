"""Execution Intelligence v6: expectancy surfaces and symbol scores over the
router-metrics log (observation only)."""
