"""Benchmarks run by `make bench` (`python -m bench.run`); figures go to stdout and BENCHMARKS.md."""
