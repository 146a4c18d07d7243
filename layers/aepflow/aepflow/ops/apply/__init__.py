"""The apply: make AEP match a plan, in place where AEP allows it.

In place, each with `If-Match` and AEP's 412 handled (re-read, re-plan that resource, send once more):
- the flow: name, description, schedule, options (`PATCH /flows/{id}`, a JSON Patch), the mapping as a
  new version of its mapping set (`PUT /mappingSets/{id}`, then the flow's Mapping transformation moves
  to that version), enabled (`POST /flows/{id}/action?op=ENABLE|DISABLE`);
- the base connection: name, description and credentials (`PATCH /connections/{id}`, seed 002), after
  which the connection is tested (`GET /connections/{id}/test`);
- the source and target connections: name and description (and a source's params.filters).

What AEP cannot change in place is replaced: `prepare_replacement` deletes what must be made anew
(the flow first, then what it used that aepflow created), and provisioning creates it again. The API's
PATCH refuses a replacement instead, naming the spec's field (`ChangeRefused`).

changes.py: the in-place changes, one resource at a time (Applier); patch.py: the API's PATCH (a JSON Merge
Patch planned and applied in place, with If-Match); step.py: the state machine's "Apply the plan in place",
and what a replacement deletes first. What aepflow created for a dataflow is ops/created.py's; the drift
check's revert is ops/drift.py's.
"""
