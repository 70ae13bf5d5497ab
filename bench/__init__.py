"""Jobdeck's benchmark: `make bench` prints one line per figure and writes bench/results.json."""
