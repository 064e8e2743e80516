"""Benchmarks of the big jobs, run by `make bench`.

Each `bench_*.py` module here has a `main()` that measures its job and a reference in the same
run and prints both with their ratio.
"""
