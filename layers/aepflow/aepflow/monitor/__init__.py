"""The run monitor: a poll of every managed dataflow's runs, run by the "Poll the runs" state
machine (statemachine/monitor_poll.asl.json) on an EventBridge Scheduler schedule:

  poll_plan.py  re-send pending alerts; sync the registry when due; split the work into units
                (per sandbox, ranges of its MONITOR_SHARDS shards, MONITOR_FLOWS_PER_UNIT flows each)
  registry.py   which flows are watched: a segment of the Dataflows index (sync), or one flow
                announced by aepflow.DataflowProvisioned
  check.py      one unit: its shards' state, its flows' runs from AEP, the records of the flows
                that had runs, classification, exactly-once alerts (alerts.py), state written
  finish.py     one report and the poll's metrics

and the parts they share: run_query.py (GET /runs),
flows.py (a dataflow record as the monitor reads it), state.py (a shard's state and its merge
rules), shards.py (a shard read and merged through the store), alerts.py (what an alert says and
how it goes out once) and models.py (what the steps pass each other). What a run came to (failed,
partial, stuck, overdue) is aep/run_outcome.py's, which `aepflow runs` shares. Its settings are
core/settings.py's MonitorSettings (MONITOR_*); every DynamoDB item it reads or writes is the
store's (store/monitor.py, store/alerts.py).

A poll reads only what it needs: the state of the shards a unit owns, the runs of their flows
since their watermark, and the records of the flows whose runs it saw or that may be overdue.

The package imports none of its modules: each function imports the steps it runs, so the plan and
the finish (which classify nothing) do not build the spec's models at a cold start.
"""
