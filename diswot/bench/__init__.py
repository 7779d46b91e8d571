"""Benchmarks behind ``diswot bench``: proxy-vs-ground-truth rank correlation."""
