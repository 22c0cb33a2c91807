"""What the worst documents an attacker can send cost /graphql/ under gunicorn.

    python bench/graphql_abuse.py [--rounds R] [--root PATH] [--workers N]

Serves the code at --root (this checkout by default; another checkout, e.g. a `git worktree` of an older
commit, gives a before/after in one sitting) with gunicorn as in production (DEBUG off, --workers sync
workers, a throw-away SQLite file and the local-memory cache), then times, R rounds each, from a client on
loopback:
  - a zoo of hostile documents, all anonymous (validation runs before the sign-in check): fragments that
    each spread the next one twice (10, 20 and 30 levels), one field repeated 2,000 times, 600 equal aliases,
    400 fragments at one level, 19 KB of one field, a selection nested as deep
    as the parser allows, 900 distinct aliases through fragments (valid but for the alias cap); and, for
    scale, GraphiQL's introspection query, the largest document a legitimate client sends (run, not counted
    among the hostile ones);
  - signing in: one tokenAuth with a wrong password (one password hash, the reference), 30 aliased
    tokenAuth fields in one document, a batch of 10 tokenAuth documents;
  - a signed-in owner's batch of 10 documents of 30 aliases of `mailings(first: 100)`.
Every request's text is new (a numbered comment), so none is answered from the view's cache of validated
documents. A request that takes longer than --timeout seconds counts as that many (gunicorn's worker timeout
is 30 s). Every document is under the 20,000-byte cap, so each reaches validation.
Medians per case; the last line is machine-readable: the slowest hostile document, the aliased and batched
sign-ins, the reference sign-in. It prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from graphql import get_introspection_query

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support.environment import production_mode  # noqa: E402

EMAIL = "owner@bench.example"
PASSWORD = "bench-Harbor-93-kettle"  # noqa: S105


def bomb(depth: int) -> str:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth))
    return f"query {{ ...F0 }} {fragments} fragment F{depth} on Query {{ __typename }}"


def hostile_documents() -> dict[str, str]:
    many_fragments = " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(400))
    distinct = " ".join(
        f"fragment D{i} on Query {{ " + " ".join(f"f{i}_{j}: __typename" for j in range(10)) + " }"
        for i in range(90)
    )
    return {
        "bomb-10": bomb(10),
        "bomb-20": bomb(20),
        "bomb-30": bomb(30),
        "one-field-2000x": "{ me { " + "email " * 1990 + "} }",
        "600-equal-aliases": "{ " + " ".join("a: me { email }" for _ in range(600)) + " }",
        "400-fragments-one-level": "{ " + " ".join(f"...F{i}" for i in range(400)) + " } " + many_fragments,
        "19-kb-of-one-field": "{ " + "__typename " * 1_800 + "}",
        "deepest-nesting": "{" + "me{" * 1_000 + "email" + "}" * 1_001,
        "900-aliased-fields": "{ " + " ".join(f"...D{i}" for i in range(90)) + " } " + distinct,
        "unused-fragment-700-fields": "{ __typename } fragment Z on Query { "
        + "me { __typename } " * 700
        + "}",
        "400-operations-on-a-spread-chain": " ".join(f"query Q{i} {{ ...F0 }}" for i in range(400))
        + " "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(150))
        + " fragment F150 on Query { __typename }",
        "250-aliases-on-a-spread-chain": "{ "
        + " ".join(f"a{i}: me {{ ...C0 }}" for i in range(250))
        + " } "
        + " ".join(f"fragment C{i} on User {{ ...C{i + 1} }}" for i in range(300))
        + " fragment C300 on User { email }",
        "introspection": get_introspection_query(descriptions=True),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(call, timeout: float) -> tuple[float, int | str]:
    start = time.perf_counter()
    try:
        status = call().status_code
    except requests.exceptions.RequestException as exc:
        status = type(exc).__name__
    return min(time.perf_counter() - start, timeout), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=35.0)
    args = parser.parse_args()
    root = args.root.resolve()

    production_mode()
    workdir = Path(tempfile.mkdtemp(prefix="mailer-abuse-"))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "MEDIA_ROOT": str(workdir / "media"),
        "AXES_FAILURE_LIMIT": "1000000",  # every sign-in below is checked, none refused by the throttle
        "AXES_IP_FAILURE_LIMIT": "1000000",
        "AXES_ACCOUNT_FAILURE_LIMIT": "1000000",
        "PYTHONPATH": str(root),
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=root, env=env, check=True)
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=root, env=env, check=False
    )
    create = (
        "from backend.accounts.models import User; "
        f"User.objects.create_user({EMAIL!r}, {PASSWORD!r}, email_verified=True)"
    )
    subprocess.run([python, "manage.py", "shell", "-c", create], cwd=root, env=env, check=True)
    log = open(workdir / "gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            python,
            "-m",
            "gunicorn",
            "backend.wsgi",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/graphql/"
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.exceptions.RequestException:
                pass
            time.sleep(0.2)
        else:
            sys.exit("gunicorn did not answer /healthz")
        run(args, root, url)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def run(args, root: Path, url: str) -> None:
    session = requests.Session()
    sign_in = session.post(
        url,
        json={
            "query": "mutation($e: String!, $p: String!) { tokenAuth(email: $e, password: $p) { token } }",
            "variables": {"e": EMAIL, "p": PASSWORD},
        },
        timeout=args.timeout,
    )
    token = sign_in.json()["data"]["tokenAuth"]["token"]
    wrong = 'tokenAuth(email: "%s", password: "wrong") { token }' % EMAIL  # noqa: UP031
    aliased = "mutation { " + " ".join(f"a{i}: {wrong}" for i in range(30)) + " }"
    pages = " ".join(
        f"a{i}: mailings(first: 100) {{ edges {{ node {{ id clients(first: 5) {{ totalCount }} }} }} }}"
        for i in range(30)
    )

    # The sign-in above left cookies in `session`; the attacker's requests carry none (with a session cookie
    # a POST needs a CSRF token).
    anonymous = requests.Session()

    # Each request's text is new (a numbered comment at its end), as an attacker's would be: the view caches
    # validated documents by their text.
    serial = iter(range(10**9))

    def fresh(body):
        if isinstance(body, list):
            return [fresh(entry) for entry in body]
        return {**body, "query": f"{body['query']}\n# {next(serial)}"}

    def get(document: str):
        return lambda: anonymous.get(
            url, params={**fresh({"query": document}), "raw": ""}, timeout=args.timeout
        )

    def post(body, headers=None):
        return lambda: anonymous.post(url, json=fresh(body), headers=headers or {}, timeout=args.timeout)

    # Anonymous POSTs: gunicorn refuses a request line over 4 KB (414) before Django sees it, so only the
    # smallest of these could come as a GET; a POST without a session cookie needs no CSRF token.
    cases = {f"hostile:{name}": post({"query": document}) for name, document in hostile_documents().items()}
    cases["hostile:bomb-30-get"] = get(bomb(30))
    cases.update(
        {
            "login:one-wrong-password": post({"query": f"mutation {{ {wrong} }}"}),
            "login:30-aliases": post({"query": aliased}),
            "login:batch-of-10": post([{"query": f"mutation {{ {wrong} }}"}] * 10),
            "owner:batch-10x30-aliased-pages": post(
                [{"query": "{ " + pages + " }"}] * 10, {"Authorization": f"JWT {token}"}
            ),
        }
    )
    times: dict[str, list[float]] = {name: [] for name in cases}
    statuses: dict[str, set] = {name: set() for name in cases}
    for call in cases.values():  # warm both workers' imports and caches of the schema
        call()
        call()
    for _ in range(args.rounds):
        for name, call in cases.items():
            seconds, status = timed(call, args.timeout)
            times[name].append(seconds)
            statuses[name].add(status)
    print(f"served: {root}  rounds: {args.rounds}")
    print(f"{'case':42s} {'median ms':>10s} {'max ms':>10s}  status")
    medians = {}
    for name in cases:
        medians[name] = statistics.median(times[name]) * 1000
        shown = ",".join(sorted(map(str, statuses[name])))
        print(f"{name:42s} {medians[name]:10.1f} {max(times[name]) * 1000:10.1f}  {shown}")
    hostile = {
        name: ms
        for name, ms in medians.items()
        if name.startswith("hostile:") and name != "hostile:introspection"
    }
    worst = max(hostile, key=hostile.get)
    figures = {
        "worst_hostile_ms": round(hostile[worst]),
        "worst_hostile": worst.split(":", 1)[1],
        "login_aliased_ms": round(medians["login:30-aliases"]),
        "login_batch_ms": round(medians["login:batch-of-10"]),
        "login_one_ms": round(medians["login:one-wrong-password"]),
        "owner_batch_ms": round(medians["owner:batch-10x30-aliased-pages"]),
    }
    print(" ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
