"""govchain benchmarks: ``make bench`` (``python -m bench``). Results go to bench/results/."""
