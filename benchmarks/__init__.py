"""Benchmarks of ociforge against its peer tools, run on one machine in one go."""
