"""Did you mean: the known names closest to an unknown one (a field, a connector, an auth spec, a
table, a column), for every refusal that names something unknown. The standard library's difflib
ranks them; case, `-`, `_` and spaces are ignored when comparing (`delta_column` finds deltaColumn,
`PostgreSQL` finds postgresql), and the known names are given back as they are spelled."""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import get_close_matches

# How many close names a message offers, and how many names a listing shows before "... and N more".
CLOSEST = 3
LISTED = 20
_SEPARATORS = re.compile(r"[\s_\-]+")


def _key(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


def closest(name: str, known: Iterable[str], n: int = CLOSEST, cutoff: float = 0.6) -> list[str]:
    """Up to `n` known names closest to `name`, best first ([] when none is close)."""
    by_key: dict[str, str] = {}
    for item in known:
        by_key.setdefault(_key(item), item)
    key = _key(name)
    if not key:
        return []
    if key in by_key:  # the same name but for case or separators: that one, surely
        return [by_key[key]]
    keys = get_close_matches(key, list(by_key), n=n, cutoff=cutoff)
    # A name that starts another (`sql` of `sqlserver`, `Contact` of `Contacts`) is close too, even
    # when the ratio says not: after the ratio's picks, in the order given.
    keys += [k for k in by_key if k not in keys and len(key) >= 3 and (k.startswith(key) or key.startswith(k))]
    return [by_key[k] for k in keys[:n]]


def quoted(names: Iterable[str]) -> str:
    """'a', 'b' or 'c'."""
    items = [repr(n) for n in names]
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def did_you_mean(name: str, known: Iterable[str], n: int = CLOSEST) -> str:
    """'; did you mean 'x' or 'y'?' for the closest known names, or '' when none is close."""
    found = closest(name, known, n)
    return f"; did you mean {quoted(found)}?" if found else ""


def listing(names: Iterable[str], limit: int = LISTED) -> str:
    """The names, at most `limit` of them, then '... and N more'."""
    items = list(names)
    shown = ", ".join(items[:limit])
    return shown + (f" ... and {len(items) - limit} more" if len(items) > limit else "")


def ranked(name: str, known: Iterable[str], limit: int = LISTED) -> str:
    """Every known name, the closest to `name` first, at most `limit` of them: what an unknown table
    or column is told the source has."""
    items = list(dict.fromkeys(known))
    first = closest(name, items, n=limit)
    return listing(first + [i for i in items if i not in first], limit)
