"""Sweeps: a grid of runs expanded from one file and handed to an executor (inline, local, Slurm, Ray).

Nothing here schedules: every run is idempotent, keyed by its run id, locked while it runs and written to its
own file, so a sweep can be killed at any moment and restarted with the same command.
"""
