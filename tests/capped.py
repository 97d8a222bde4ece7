"""At most 100 examples per property, also under the CI profile's 400: for the
fold-level properties, which run once per kernel or window kind, so the suite's
time is kept in bounds. Imported by test modules only (after the conftest has
loaded the profile)."""

from hypothesis import settings

CAPPED = settings(max_examples=min(settings.default.max_examples, 100))
