"""The training loop every stage shares: batching, precision, checkpoints, early stopping."""
