"""Which auth spec of a connection spec a credentials secret satisfies, as AEP checks it:
`auth.params` against the auth spec's JSON schema. Messages name params, never their values
(a schema error's own message quotes the value, which may be a password)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aepflow.spec import suggest
from aepflow.spec.connectors import AuthSpec

if TYPE_CHECKING:
    from aepflow.spec.model import DataflowSpec


def shortfalls(spec: AuthSpec, secret: dict[str, Any]) -> list[str]:
    """What `secret` lacks or gets wrong for `spec`, one phrase each; [] when it satisfies it."""
    from jsonschema import Draft7Validator  # imported by the steps that choose an auth spec, when they do

    out: list[str] = []
    missing: list[str] = []
    for error in sorted(Draft7Validator(spec.schema).iter_errors(secret), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing += [name for name in error.validator_value if name not in secret]
        elif error.validator == "anyOf" and not where:
            options = [" or ".join(s.get("required") or []) for s in error.validator_value]
            out.append("needs one of " + ", ".join(o for o in options if o))
        elif error.validator == "pattern":
            examples = (spec.schema.get("properties") or {}).get(where, {}).get("examples") or []
            out.append(f"{where} does not have the form AEP expects"
                       + (f" (like {examples[0]!r})" if examples else f" (pattern {error.validator_value})"))
        elif error.validator == "type":
            out.append(f"{where or 'the secret'} must be of type {error.validator_value}")
        else:
            out.append(f"{where or 'the secret'} fails {error.validator}")
    if missing:
        out.insert(0, "lacks " + ", ".join(dict.fromkeys(missing)) + _misspelt(spec, secret, missing))
    return out


def _misspelt(spec: AuthSpec, secret: dict[str, Any], missing: list[str]) -> str:
    """' (the secret has usrname: did you mean username?)' for the secret's keys the auth spec does not
    define that are close to a param it lacks (key names only, never a value)."""
    strangers = [k for k in secret if k not in spec.params]
    pairs = [(k, near[0]) for k in strangers if (near := suggest.closest(k, dict.fromkeys(missing), n=1))]
    if not pairs:
        return ""
    return " (the secret has " + ", ".join(f"{k}: did you mean {m}?" for k, m in pairs) + ")"


@dataclass
class Choice:
    spec: AuthSpec | None
    problems: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)  # secret keys the chosen auth spec does not define

    def params(self, secret: dict[str, Any]) -> dict[str, Any]:
        """The auth params to send: the secret's keys the auth spec defines (all when it lists none)."""
        if self.spec is None:
            return {}
        names = self.spec.params
        return {k: v for k, v in secret.items() if not names or k in names}


def choose(specs: tuple[AuthSpec, ...], secret: dict[str, Any], name: str | None, label: str) -> Choice:
    """The auth spec named `name`, else the first one `secret` satisfies (specs are listed newest
    documented first). `problems` says why none fits."""
    if not specs:
        return Choice(None, [f"{label} documents no auth spec"])
    if name:
        spec = next((s for s in specs if s.name == name), None)
        if spec is None:
            names = [s.name for s in specs]
            return Choice(None, [f"authSpecName {name!r} is not an auth spec of {label}"
                                 f"{suggest.did_you_mean(name, names)}; it has " + ", ".join(map(repr, names))])
        found = shortfalls(spec, secret)
        if found:
            return Choice(spec, [f"{'; '.join(found)} for {spec.name!r}"])
        return _with_unsent(Choice(spec), secret)
    reasons: list[str] = []
    for spec in specs:
        found = shortfalls(spec, secret)
        if not found:
            return _with_unsent(Choice(spec), secret)
        reasons.append(f"{spec.name!r} {'; '.join(found)}")
    return Choice(None, [f"fits no auth spec of {label}: " + " | ".join(reasons)])


def _with_unsent(choice: Choice, secret: dict[str, Any]) -> Choice:
    names = choice.spec.params if choice.spec else []
    choice.unsent = [k for k in secret if names and k not in names]
    return choice


def choose_auth(spec: DataflowSpec, specs: tuple[AuthSpec, ...], label: str,
                secret: dict[str, Any]) -> tuple[Choice, list[dict[str, str]], list[dict[str, str]]]:
    """(the choice, problems, warnings) for the spec's credentials secret against `specs`: the auth
    spec `authSpecName` names, else the first one the secret's keys satisfy."""
    choice = choose(specs, secret, spec.source.authSpecName, label)
    name = spec.source.credentialsSecret
    problems = [{"path": "source.authSpecName" if p.startswith("authSpecName") else "source.credentialsSecret",
                 "message": p if p.startswith("authSpecName") else f"secret {name!r} {p}"} for p in choice.problems]
    warnings = [{"path": "source.credentialsSecret",
                 "message": f"secret {name!r} keys {', '.join(choice.unsent)} are not params of "
                            f"{choice.spec.name!r} and are not sent"
                            + _unsent_hint(choice.spec, choice.unsent)}] if choice.unsent and choice.spec else []
    return choice, problems, warnings


def _unsent_hint(spec: AuthSpec, unsent: list[str]) -> str:
    """' (did you mean password for passwrd?)': the auth spec's params closest to keys it does not define."""
    pairs = [(k, near[0]) for k in unsent if (near := suggest.closest(k, spec.params, n=1))]
    return " (" + "; ".join(f"did you mean {m} for {k}?" for k, m in pairs) + ")" if pairs else ""
