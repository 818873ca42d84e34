"""This process's memory in MB: resident now and peak so far (Linux). Imports nothing heavy, so a probe can call it
before MindSpore and src are loaded (benchmarks/memory_probe.py) as well as after (benchmarks/speed.py)."""
import os
import resource


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
