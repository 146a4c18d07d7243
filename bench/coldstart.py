"""Cold starts as Lambda has them: each handler imported (`python -X importtime -c "import boto3;
import app"`, a fresh interpreter each time) by the runtime's Python (3.12: .venv/runtime, which
`make bench` makes, with boto3 and botocore compiled as the runtime ships them), from the layer as
its Makefile builds it (layers/aepflow/Makefile, for this machine's platform rather than arm64, so
that it can be imported here), with the function's folder on the path, AWS_LAMBDA_FUNCTION_NAME set
and no bytecode written: Lambda's /opt is read-only, so what the layer does not ship compiled is
compiled again on every cold start. What a handler adds to the bare `import boto3` before it is
measured in the same process at the same moment, so a shared machine's load falls on both alike.
Each handler is also imported, for comparison, from the same layer stripped of its bytecode (as
the layer was shipped before it carried any), and with tracing on as in Lambda with X-Ray active.
The size is the layer's as SAM builds it (arm64).

Budgets (the developer guide and issue 9): a handler's import adds at most 0.1 s to a bare
`import boto3`, and takes at most 0.25 s here. "floor" is what any handler needs beyond boto3 once
it parses its input: pydantic with one bounded model, and Powertools' logger, metrics and tracer; the api's
floor adds Powertools' REST resolver with its validation. Each figure is the fastest of --repeat
imports, interleaved so the machine's load falls on all of them alike: the load of a shared machine
only ever adds to an import's time, so the fastest is the closest to what the import itself costs."""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "aepflow"
FUNCTIONS = ROOT / "functions"
# The Lambda runtime's stand-in (Makefile: .venv/runtime): python3.12 with boto3 and botocore alone.
RUNTIME_PYTHON = ROOT / ".venv" / "runtime" / "bin" / "python"
MAX_IMPORT_SECONDS = 0.25
MAX_OVER_BOTO3_SECONDS = 0.1
MAX_LAYER_MB = 20.0
# What the Lambda python3.12 runtime ships (boto3 and what it needs), so a layer must not bundle it.
RUNTIME_SHIPPED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


# What template.yaml's Globals set in every function (values of no real account): each handler
# checks its settings at import (core/settings.py), as its cold start in Lambda does.
FUNCTION_ENVIRONMENT = {
    "DATAFLOWS_TABLE": "aepflow-bench-dataflows", "AEP_CREDENTIALS_SECRET": "aepflow/aep-credentials",
    "AEP_TOKEN_CACHE_SECRET": "aepflow/aep-token-cache", "SOURCE_SECRETS_PREFIX": "aep/sources/",
    "AEP_PLATFORM_URL": "https://platform.adobe.io", "AEP_IMS_URL": "https://ims-na1.adobelogin.com",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:aepflow-bench-alerts",
    "AEPFLOW_STACK_NAME": "aepflow-bench", "AEPFLOW_ACCOUNT_ID": "123456789012", "S3_SOURCE_BUCKETS": "",
    "TEARDOWN_ON_SPEC_DELETE": "false"}


def _env(extra_path: list[Path], tracing: bool = False) -> dict[str, str]:
    # AWS_LAMBDA_FUNCTION_NAME: a Lambda container, as aepflow's package knows it (aepflow/__init__.py).
    # PYTHONDONTWRITEBYTECODE and no cache prefix: nothing compiled is kept, as on Lambda's read-only /opt.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(map(str, extra_path)),
           "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "aepflow",
           "POWERTOOLS_METRICS_NAMESPACE": "aepflow/bench", "AWS_LAMBDA_FUNCTION_NAME": "bench",
           **FUNCTION_ENVIRONMENT}
    if tracing:  # the rest of what Lambda sets, which is how Powertools knows tracing is on
        env.update({"LAMBDA_TASK_ROOT": "/var/task", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"})
    return env


def runtime_python() -> str:
    if not RUNTIME_PYTHON.exists():
        raise RuntimeError(f"{RUNTIME_PYTHON.relative_to(ROOT)} is missing: `make bench` makes it (python3.12 with "
                           "requirements-runtime.txt)")
    return str(RUNTIME_PYTHON)


def import_seconds(python: str, statement: str, modules: tuple[str, ...],
                   env: dict[str, str]) -> tuple[dict[str, float], dict[str, float]]:
    """Run `statement` in a fresh interpreter under -X importtime: the cumulative import time (s) of
    each of `modules` imported at top level, and the time every top-level package's modules took
    themselves (s) once the first of `modules` was in (what the others added to it)."""
    done = subprocess.run([python, "-X", "importtime", "-c", statement], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{statement!r} failed: {done.stderr[-2000:]}")
    totals: dict[str, float] = {}
    by_package: dict[str, float] = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", line)
        if not found:
            continue
        name = found.group(4)
        if name in modules and len(found.group(3)) == 1:
            totals[name] = int(found.group(2)) / 1e6
        elif modules[0] in totals:
            package = name.split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(found.group(1)) / 1e6
    missing = [m for m in modules if m not in totals]
    if missing:
        raise RuntimeError(f"no import time for {missing} in {statement!r}")
    return totals, by_package


def handlers() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS.glob("*/app.py"))


# What every handler that parses its input needs beyond boto3 on its first event, measured the same
# way: pydantic with one bounded model (spec files, API bodies and AEP answers are parsed with it, and
# every field from outside has its bounds: a bound is what brings in annotated_types and
# pydantic.types, about 0.02 s) and Powertools' logger, metrics and tracer. Together with boto3 they
# are the floor under any such handler's import.
BOUNDED_MODEL = ("from pydantic import BaseModel, Field\n"
                 "class M(BaseModel):\n    a: str = Field(max_length=64, pattern='^[a-z]+$')\n    b: int = Field(ge=1)")
FLOOR = {"pydantic, one bounded model": BOUNDED_MODEL,
         "Powertools logger, metrics, tracer": "from aws_lambda_powertools import Logger, Metrics, Tracer"}
# What the api needs beyond that floor before any of aepflow's code: Powertools' REST resolver with
# its pydantic validation (the library the api is built on), one route with one model.
RESOLVER = (BOUNDED_MODEL + "\n"
            "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
            "app = APIGatewayRestResolver(enable_validation=True)\n"
            "@app.post('/m')\ndef m(body: M) -> M:\n    return body")
RESOLVER_LABEL = "Powertools REST resolver with validation, one route"


def floor_seconds(python: str, code: str, env: dict[str, str]) -> tuple[float, float]:
    """A bare `import boto3` (and the layer's package), then `code`, in a fresh interpreter: the seconds of each."""
    # The layer's package is imported with boto3, as a handler's first import does: in a Lambda
    # container it freezes what boto3 made (aepflow/__init__.py), and the floor is measured after it.
    program = ("import time\nt0 = time.perf_counter()\nimport boto3\nimport aepflow\nt1 = time.perf_counter()\n"
               + code + "\nprint(t1 - t0, time.perf_counter() - t1)")
    done = subprocess.run([python, "-c", program], env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {done.stderr[-2000:]}")
    boto3, added = map(float, done.stdout.split())
    return boto3, added


def build_layer(target: Path, python: str, platform_tag: str = "manylinux2014_aarch64",
                layer: Path = LAYER) -> list[str]:
    """The layer (`layer`: this tree's unless told) as its Makefile (SAM's BuildMethod: makefile)
    makes it, for `platform_tag`; the runtime's Python compiles its bytecode. The command run."""
    command = ["make", "-s", "-C", str(layer), "build-AepflowLayer", f"ARTIFACTS_DIR={target}",
               f"PIP={python} -m pip", f"PYTHON312={python}",
               f"LAMBDA_PLATFORM=--platform {platform_tag} --python-version 3.12 --implementation cp "
               "--only-binary=:all:"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"layer build failed: {done.stderr[-3000:]}")
    return command


def measure_imports(repeat: int) -> dict[str, dict]:
    """Each handler imported after a bare `import boto3` in the same interpreter: what it adds to
    boto3 is its own cumulative import time there, measured in the same process, at the same
    moment, as the boto3 it is compared with."""
    python = runtime_python()
    names = handlers()
    with tempfile.TemporaryDirectory(prefix="aepflow-coldstart-") as tmp:
        shipped, bare = Path(tmp) / "layer", Path(tmp) / "layer-without-bytecode"
        print(f"building the layer for {platform.machine()} ...", file=sys.stderr)
        build_layer(shipped, python, f"manylinux2014_{platform.machine()}")
        shutil.copytree(shipped, bare, ignore=shutil.ignore_patterns("__pycache__"))
        envs = {name: _env([shipped / "python", FUNCTIONS / name]) for name in names}
        floor_env = _env([shipped / "python"])
        boto3_samples: list[float] = []
        over: dict[str, list[float]] = {n: [] for n in [*names, *FLOOR, RESOLVER_LABEL]}
        packages: dict[str, dict[str, float]] = {}
        statement, modules = "import boto3; import app", ("boto3", "app")
        for round_ in range(repeat):
            # A new order each round (seeded, so a run can be repeated): a burst of load on a shared
            # machine then falls on different imports, not always on the same neighbours.
            order = [*names, *FLOOR, RESOLVER_LABEL]
            random.Random(round_).shuffle(order)
            for name in order:
                if name in FLOOR or name == RESOLVER_LABEL:
                    seconds, added = floor_seconds(python, FLOOR.get(name, RESOLVER), floor_env)
                    boto3_samples.append(seconds)
                    over[name].append(added)
                    continue
                totals, by_package = import_seconds(python, statement, modules, envs[name])
                boto3_samples.append(totals["boto3"])
                over[name].append(totals["app"])
                if totals["app"] <= min(over[name]):
                    packages[name] = by_package

        def fastest_of_two(name: str, layer: Path, tracing: bool = False) -> float:
            env = _env([layer / "python", FUNCTIONS / name], tracing=tracing)
            return min(import_seconds(python, statement, modules, env)[0]["app"] for _ in range(2))

        # For comparison: with tracing on, and from the layer without its bytecode.
        traced = {name: fastest_of_two(name, shipped, tracing=True) for name in names}
        uncompiled = {name: fastest_of_two(name, bare) for name in names}
    boto3 = min(boto3_samples)
    out: dict[str, dict] = {"boto3": {"seconds": boto3}}
    for name in names:
        added = min(over[name])
        heaviest = sorted(packages[name].items(), key=lambda kv: -kv[1])[:3]
        out[name] = {"seconds": boto3 + added, "overBoto3": added, "tracingOnOverBoto3": traced[name],
                     "noBytecodeOverBoto3": uncompiled[name],
                     "heaviest": {k: round(v, 3) for k, v in heaviest},
                     "ok": boto3 + added <= MAX_IMPORT_SECONDS and added <= MAX_OVER_BOTO3_SECONDS}
    out["floor"] = {name: min(over[name]) for name in FLOOR}
    # The resolver's entry holds pydantic's model too: what it adds is the difference.
    out["resolver"] = min(over[RESOLVER_LABEL]) - out["floor"]["pydantic, one bounded model"]
    return out


def _tree_at(ref: str, into: Path) -> Path:
    """The layer and functions/ of git revision `ref`, written under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "layers/aepflow", "functions"],
                             capture_output=True, timeout=120, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def compare_imports(ref: str, repeat: int) -> dict[str, dict[str, float]]:
    """Each handler's import over a bare `import boto3`, from this tree's layer and from `ref`'s, in
    the same rounds (interleaved, shuffled): {handler: {"before": s, "after": s}}, the fastest of each."""
    python = runtime_python()
    with tempfile.TemporaryDirectory(prefix="aepflow-coldstart-against-") as tmp:
        trees = {"after": ROOT, "before": _tree_at(ref, Path(tmp) / "before")}
        envs: dict[tuple[str, str], dict[str, str]] = {}
        for label, tree in trees.items():
            built = Path(tmp) / f"layer-{label}"
            print(f"building the {label} layer ({ref if label == 'before' else 'this tree'}) ...", file=sys.stderr)
            build_layer(built, python, f"manylinux2014_{platform.machine()}", layer=tree / "layers" / "aepflow")
            for name in sorted(p.parent.name for p in (tree / "functions").glob("*/app.py")):
                envs[(label, name)] = _env([built / "python", tree / "functions" / name])
        names = sorted({name for _, name in envs if ("before", name) in envs and ("after", name) in envs})
        samples: dict[tuple[str, str], list[float]] = {key: [] for key in envs}
        for round_ in range(repeat):
            order = [(label, name) for label in trees for name in names]
            random.Random(round_).shuffle(order)
            for key in order:
                totals, _ = import_seconds(python, "import boto3; import app", ("boto3", "app"), envs[key])
                samples[key].append(totals["app"])
    return {name: {label: min(samples[(label, name)]) for label in ("before", "after")} for name in names}


def layer_size() -> dict:
    with tempfile.TemporaryDirectory(prefix="aepflow-layer-") as tmp:
        target = Path(tmp)
        command = build_layer(target, runtime_python())
        files = [p for p in target.rglob("*") if p.is_file()]
        total = sum(p.stat().st_size for p in files)
        site = target / "python"
        shipped = {name: sum(p.stat().st_size for p in (site / name).rglob("*") if p.is_file())
                   if (site / name).is_dir() else (site / name).stat().st_size
                   for name in RUNTIME_SHIPPED if (site / name).exists()}
        pyc = sum(p.stat().st_size for p in files if p.suffix == ".pyc")
    return {"command": " ".join(command).replace(str(ROOT) + "/", ""), "mb": total / 1e6, "pycMb": pyc / 1e6,
            "runtimeShippedMb": {k: round(v / 1e6, 2) for k, v in shipped.items()}}


def print_comparison(ref: str, repeat: int) -> int:
    compared = compare_imports(ref, repeat)
    print(f"\nCold imports over a bare `import boto3` (fastest of {repeat}, the two trees interleaved in the same "
          f"rounds): {ref} (before) and this tree (after)")
    print(f"{'handler':26} {'before s':>8} {'after s':>8} {'after-before':>12} {'ratio':>6}")
    for name, row in compared.items():
        print(f"{name:26} {row['before']:8.3f} {row['after']:8.3f} {row['after'] - row['before']:+12.3f} "
              f"{row['after'] / row['before']:6.2f}")
    before, after = (sum(r[k] for r in compared.values()) for k in ("before", "after"))
    slower = [n for n, r in compared.items() if r["after"] - r["before"] > 0.005]
    print(f"all handlers: before {before:.3f} s, after {after:.3f} s (ratio {after / before:.2f}); slower by more "
          f"than 5 ms: {', '.join(slower) or 'none'}")
    print(json.dumps({"against": ref, "handlers": {n: {k: round(v, 4) for k, v in r.items()}
                                                   for n, r in compared.items()}}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench coldstart", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-layer", action="store_true", help="skip building the arm64 layer for its size")
    parser.add_argument("--against", metavar="REF", help="also import every handler from git revision REF's layer "
                        "and functions/, in the same rounds, and print before and after side by side")
    args = parser.parse_args(argv)
    if args.against:
        return print_comparison(args.against, args.repeat)
    print("cold imports ...", file=sys.stderr)
    imports = measure_imports(args.repeat)
    boto3 = imports["boto3"]["seconds"]
    print(f"\nCold imports as in Lambda (fastest of {args.repeat}): Python 3.12 (.venv/runtime), each handler from "
          f"the layer as built, with no bytecode written, after a bare `import boto3` in the same interpreter; that "
          f"boto3 here: {boto3:.3f} s. Over boto3 also with tracing on, and from the layer without its bytecode "
          f"(fastest of 2)")
    print(f"{'handler':26} {'import s':>8} {'+ boto3':>8} {'x boto3':>7} {'tracing on':>10} {'no bytecode':>11}"
          "  what it adds most")
    for name in handlers():
        row = imports[name]
        heaviest = ", ".join(f"{k} {v:.3f}" for k, v in row["heaviest"].items())
        print(f"{name:26} {row['seconds']:8.3f} {row['overBoto3']:+8.3f} {row['overBoto3'] / boto3:7.2f} "
              f"{row['tracingOnOverBoto3']:+10.3f} {row['noBytecodeOverBoto3']:+11.3f}  "
              f"{heaviest}{'' if row['ok'] else '   <- over budget'}")
    floor = imports["floor"]
    floor_s = boto3 + sum(floor.values())
    print("floor under a handler that parses its input with pydantic: boto3 " + f"{boto3:.3f} s + " +
          " + ".join(f"{k} {v:.3f} s" for k, v in floor.items()) + f" = {floor_s:.3f} s "
          f"({floor_s - boto3:+.3f} over boto3)")
    above = {n: imports[n]["seconds"] - floor_s for n in handlers() if n != "api" and imports[n]["seconds"] > floor_s}
    if above:
        print("what those handlers add to that floor: " + ", ".join(f"{n} {v:+.3f}" for n, v in sorted(above.items())))
    api_floor = floor_s + imports["resolver"]
    print(f"the api's floor: that + {RESOLVER_LABEL} {imports['resolver']:.3f} s = {api_floor:.3f} s "
          f"({api_floor - boto3:+.3f} over boto3); the api adds {imports['api']['seconds'] - api_floor:+.3f} s to it")
    rows = [imports[n] for n in handlers()]
    slowest = max(r["seconds"] for r in rows)
    worst_over = max(r["overBoto3"] for r in rows)
    ok = all(r["ok"] for r in rows)
    print(f"slowest handler import: {slowest:.3f} s (target <= {MAX_IMPORT_SECONDS}); most over a bare boto3: "
          f"{worst_over:+.3f} s (target <= +{MAX_OVER_BOTO3_SECONDS}); {sum(not r['ok'] for r in rows)} of {len(rows)} "
          f"over a budget -> {'PASS' if ok else 'FAIL'}; without the layer's bytecode the most over boto3 would be "
          f"{max(r['noBytecodeOverBoto3'] for r in rows):+.3f} s")
    result = {"boto3Seconds": round(boto3, 3), "floorSeconds": round(floor_s, 3),
              "apiFloorSeconds": round(api_floor, 3),
              "handlers": {n: {k: (round(v, 3) if isinstance(v, float) else v) for k, v in imports[n].items()}
                           for n in handlers()}}
    if not args.no_layer:
        print("building the layer ...", file=sys.stderr)
        layer = layer_size()
        bundled = ", ".join(f"{k} {v} MB" for k, v in layer["runtimeShippedMb"].items()) or "none"
        layer_ok = layer["mb"] <= MAX_LAYER_MB and not layer["runtimeShippedMb"]
        print(f"\nLayer ({layer['command']}): {layer['mb']:.1f} MB unzipped ({layer['pycMb']:.1f} MB of it .pyc), "
              f"target <= {MAX_LAYER_MB:.0f} MB; bundled again from the Lambda runtime: {bundled} "
              f"-> {'PASS' if layer_ok else 'FAIL'}")
        result["layer"] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in layer.items()}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
