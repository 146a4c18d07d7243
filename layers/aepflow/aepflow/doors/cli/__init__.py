"""The `aepflow` command: validate specs offline, list the connector catalog, and talk to an
aepflow API (apply, plan, get, list, runs, delete): by default the local stack of
`python -m local serve`, or a deployed stack named with --stack, with every request signed with
SigV4. The logic is the layer's; this package only reads arguments and prints answers."""
