"""python -m bench [provision|coldstart|monitor|declarative|hostile|events] [options]: run one benchmark,
or with no name all of them in one run (provisioning against a sequential script, cold starts and
the layer, the run monitor, plans and drift checks for many flows, hostile input at every door,
AEP's flow-run events through the push path).
Options with no name go to the monitor, as they always did."""

import sys

from bench import coldstart, declarative, events, hostile, monitor, provision

BENCHES = {"provision": provision.main, "coldstart": coldstart.main, "monitor": monitor.main,
           "declarative": declarative.main, "hostile": hostile.main, "events": events.main}

if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] in BENCHES:
        sys.exit(BENCHES[args[0]](args[1:]))
    if args:  # options with no name are the monitor's, as before
        sys.exit(monitor.main(args))
    sys.exit(max(main([]) for main in BENCHES.values()))
