"""Samples made in-process for the demo, the docs and the tests: a CoreOS-shaped base, an RPM."""
