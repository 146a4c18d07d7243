"""python -m bench [monitor] [options]: run a benchmark (the run monitor is the only one)."""

import sys

from bench import monitor

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "monitor":
        args = args[1:]
    sys.exit(monitor.main(args))
