"""Log sources: each reads one kind of input and emits batches of normalized events."""
