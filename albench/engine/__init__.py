"""The scoring engine: one streamed pass over the pool per round, reducing the pixel scores strategies declare
(:mod:`albench.statistics`) to per-superpixel statistics."""
