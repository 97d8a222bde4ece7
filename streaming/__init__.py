"""Generic streaming machinery: online accumulators, keyed folds, windows, tailing,
throttling, atomic snapshots and checkpoints. Nothing here knows about trading."""
