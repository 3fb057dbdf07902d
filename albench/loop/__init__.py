"""The annotation loop: the benchmark\x27s rounds with a person as the oracle (`albench loop`)."""
