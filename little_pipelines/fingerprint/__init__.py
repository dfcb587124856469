"""Fingerprints: what a task's code, its input files and its result are, as digests."""
