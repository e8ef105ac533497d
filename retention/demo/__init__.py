"""Synthetic, seeded retention histories for demos, tests and benchmarks."""
