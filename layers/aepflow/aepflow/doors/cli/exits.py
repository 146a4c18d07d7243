"""The aepflow command's exit codes, as `python -m local provision`'s: 0 when everything asked for is
ACTIVE (or valid, or done), 1 when anything FAILED or the API refused for another reason, 2 when a
spec is INVALID. `plan --detailed-exitcode` says CHANGES (2) when applying would change something."""

OK, FAILED, INVALID = 0, 1, 2
CHANGES = 2
