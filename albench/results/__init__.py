"""What runs wrote, read back: the Parquet store, runs as reports see them, metrics, the leaderboard, the paper's
tables and published numbers, and the figures. Nothing here trains, scores or imports :mod:`albench.run`."""
