"""python -m bench [monitor|declarative] [options]: run a benchmark (the run monitor by default)."""

import sys

from bench import declarative, monitor

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "declarative":
        sys.exit(declarative.main(args[1:]))
    if args and args[0] == "monitor":
        args = args[1:]
    sys.exit(monitor.main(args))
