#!/usr/bin/env python3
"""Runs a command once, its output discarded, and prints its wall time in seconds (from spawn
to exit) and its peak RSS in KB, as `seconds kb`.

The clock runs around the spawn and the wait4 of the command alone: no shell, no
/usr/bin/time in the timed interval (together they added ~1.3 ms to every run, a tenth of a
small suite's conversion, to both tools alike). Peak RSS is wait4's ru_maxrss, what
/usr/bin/time's %M reports.
"""
import os
import sys
import time

argv = sys.argv[1:]
devnull = os.open(os.devnull, os.O_WRONLY)
actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
start = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
_, _, usage = os.wait4(pid, 0)
end = time.perf_counter()
print(f"{end - start:.5f} {usage.ru_maxrss}")
