"""The plan: what applying a spec would do to AEP, computed from the live AEP resources and the
record, with GET calls only.

Each resource gets one action:
- `create`: the spec needs it and AEP has none (a new dataflow, or one deleted behind aepflow's back);
- `update`: AEP can change it in place; `changes` lists each field, old -> new, and the call;
- `replace`: AEP cannot change what differs; `reasons` say why, and what depends on it is replaced too
  (a flow cannot swap its source or target connection, FLOW-1421);
- `none`: nothing to do (`note` says when the resource is only referenced by the spec).

What the spec says is compared with what AEP answers where AEP can be read (the flow, its source,
base and target connections, the mapping set version the flow uses). What AEP cannot show is
compared with the record, the state aepflow last applied: credentials (AEP never answers them;
the record keeps the Secrets Manager version that was sent), the target schema and dataset
(the target connection names them), alerts, onDrift, onDelete and onFailure (aepflow's own). The same comparison of a
record's own spec with AEP is the drift check (ops/drift.py).

model.py: what a plan is made of; compare.py: the pure comparison; mapping.py: its part for the mapping
set version the flow uses (a spec's mappingVersion pins one); read.py: the reads a plan is made from
(GETs only); render.py: its table for people.
"""
