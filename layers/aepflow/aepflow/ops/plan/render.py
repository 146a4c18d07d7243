"""A plan as a table for people: a line per resource and per change."""

from __future__ import annotations

from typing import Any

# --- A readable table ---------------------------------------------------------------------------

def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else "-" if value is None else str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def rules_change(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    """A mapping change in a line: how many rules, and which came and went."""
    def key(rule: dict[str, Any]) -> str:
        return f"{rule.get('source')} -> {rule.get('destination')}"

    gone = [key(r) for r in old if r not in new]
    came = [key(r) for r in new if r not in old]
    parts = [f"+ {k}" for k in came] + [f"- {k}" for k in gone]
    return f"{len(old)} rules -> {len(new)} rules ({'; '.join(parts) or 'reordered'})"


def table(plans: list[dict[str, Any]]) -> str:
    """Plans (as to_dict() gives them) as a table for people: one line per resource, one per change."""
    lines = []
    for plan in plans:
        lines.append(f"{plan['name']} ({plan.get('sandbox') or 'default sandbox'}): {plan['action']}"
                     f"  [{plan.get('calls', 0)} AEP GET call(s)]")
        for problem in plan.get("problems") or []:
            lines.append(f"  ! {problem['path']}: {problem['message']}")
        for resource in plan["resources"]:
            ident = resource.get("id") or ""
            lines.append(f"  {resource['action']:<8} {resource['kind']:<17} {ident}")
            for change in resource["changes"]:
                how = f"   ({change['how']})" if change.get("how") else ""
                lists = isinstance(change["old"], list) and isinstance(change["new"], list)
                if change["field"] == "mappings" and lists:
                    lines.append(f"      mappings: {rules_change(change['old'], change['new'])}{how}")
                    continue
                lines.append(f"      {change['field']}: {_short(change['old'])} -> {_short(change['new'])}{how}")
            for reason in resource.get("reasons") or []:
                lines.append(f"      because {reason}")
            if resource.get("note"):
                lines.append(f"      {resource['note']}")
            for warning in resource.get("warnings") or []:
                lines.append(f"      warning: {warning}")
        lines.append("")
    return "\n".join(lines)


# --- What a set of plans would do, in a line ----------------------------------------------------

# A dataflow's plan action, as the summary line counts it.
SUMMARY = (("create", "to create"), ("update", "to update in place"), ("replace", "to replace"),
           ("none", "unchanged"))


def summary(plans: list[dict[str, Any]]) -> str:
    """`Plan: 2 to create, 1 to update in place, 0 to replace, 3 unchanged.` (and how many are invalid,
    or could not be planned)."""
    counts = {action: sum(1 for p in plans if p.get("action") == action) for action, _ in SUMMARY}
    parts = [f"{counts[action]} {words}" for action, words in SUMMARY]
    invalid = sum(1 for p in plans if p.get("action") == "invalid")
    failed = sum(1 for p in plans if p.get("action") not in counts and p.get("action") != "invalid")
    parts += [f"{invalid} invalid"] if invalid else []
    parts += [f"{failed} not planned"] if failed else []
    return "Plan: " + ", ".join(parts) + ".\n"


def changes_anything(plans: list[dict[str, Any]]) -> bool:
    """Whether applying the plans would change anything (what --detailed-exitcode's 2 says)."""
    return any(p.get("action") in ("create", "update", "replace") for p in plans)
