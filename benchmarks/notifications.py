"""10,000 queued notifications dispatched to a local SMTP server, each channel answer recorded.

Builds a fresh database migrated with crealux_core.db.migrate (SQLite in a temporary directory,
then PostgreSQL at 127.0.0.1:5432 if a server answers: a new database, dropped afterwards),
queues N messages spread over the organisations that take messages one by one (not the digest
ones), and times `dispatch_notifications` (the real AppriseNotifier, one SMTP connection per
message, as in production) until nothing is left to send: messages per second.

Two runs per backend:
- `clean`: the SMTP server takes everything;
- `failing`: the SMTP server answers 451 (try again later: a temporary failure) to 5 % of the
  messages; then, after the first backoff, a second pass sends those (on a server that takes
  them now), and the check is that every message arrived exactly once.

The SMTP server (aiosmtpd) runs in a child process, so that it does not share this process's
interpreter lock; it writes each message's subject to a file the check reads.

    .venv/bin/python benchmarks/notifications.py [--messages 10000] [--failing-share 0.05]
        [--no-postgres]

Several minutes. Prints the numbers, appends a JSON line to benchmarks/results/notifications.json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchkit import free_port, machine, port_open, wait_until_load_below, write_result

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REFUSE_MARK = "[451]"  # a subject ending so is refused (temporary) while the server is strict


def say(line: str) -> None:
    print(line, flush=True)


def _serve_smtp(port: int, log_path: str, strict_path: str, ready: Any) -> None:
    """The child process: an SMTP server writing each subject it takes to `log_path`; while
    `strict_path` exists it answers 451 to a message whose subject ends with REFUSE_MARK."""
    import email
    from email import policy

    from aiosmtpd.controller import Controller

    out = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            content = envelope.original_content or envelope.content or b""
            raw = content if isinstance(content, bytes) else content.encode()
            message = email.message_from_bytes(raw, policy=policy.default)
            subject = str(message["Subject"])
            if subject.endswith(REFUSE_MARK) and os.path.exists(strict_path):
                return "451 4.3.0 Try again later"
            out.write(subject + "\n")
            out.flush()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


@contextmanager
def smtp_server(directory: Path) -> Iterator[tuple[int, Path, Path]]:
    port = free_port()
    log_path, strict_path = directory / "received.txt", directory / "strict"
    ready = multiprocessing.Event()
    process = multiprocessing.Process(
        target=_serve_smtp, args=(port, str(log_path), str(strict_path), ready), daemon=True
    )
    process.start()
    if not ready.wait(30):
        raise RuntimeError("the SMTP server did not start")
    try:
        yield port, log_path, strict_path
    finally:
        process.terminate()
        process.join(10)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    name = f"crealux_bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def queue(runtime: Any, *, messages: int, failing_share: float, now: Any) -> list[str]:
    """Queue the messages over the organisations sent to one by one; return their subjects."""
    from sqlalchemy import insert
    from sqlmodel import select

    from crealux_core.models import Notification, NotificationStatus, Organisation

    keys = [key for key, spec in runtime.rules.organisations.items() if not spec.digest]
    with runtime.session() as session:
        ids = {
            o.key: o.id
            for o in session.exec(select(Organisation).where(Organisation.key.in_(keys))).all()  # type: ignore[attr-defined]
        }
    every = round(1 / failing_share) if failing_share > 0 else 0
    subjects, rows = [], []
    for number in range(messages):
        subject = f"Banc {number}" + (f" {REFUSE_MARK}" if every and number % every == 0 else "")
        subjects.append(subject)
        rows.append(
            {
                "event_key": f"bench:{number}",
                "organisation_id": ids[keys[number % len(keys)]],
                "title": subject,
                "body": f"Message de banc d'essai {number}.",
                "status": NotificationStatus.PENDING,
                "attempts": 0,
                "created_at": now,
                "is_digest": False,
            }
        )
    with runtime.engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(Notification), rows[start : start + 5000])
    return subjects


def dispatch_all(runtime: Any, now: Any, dispatchers: int = 1) -> tuple[Counter[str], float]:
    """Dispatch until nothing is due at `now` (with `dispatchers` threads at once, each with its
    own session, as several maintainers or flow runs would); return the counts and the time."""
    import threading

    from crealux_core.services.notifications import dispatch_notifications

    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def dispatcher() -> None:
        with runtime.session() as session:
            while True:
                done = dispatch_notifications(
                    session=session,
                    rules=runtime.rules,
                    notifier=runtime.notifier,
                    now=now,
                    limit=200,
                )
                with lock:
                    counts.update(sent=done.sent, failed=done.failed, partial=done.partial)
                if done.sent + done.failed + done.partial == 0:
                    return

    runtime.rules  # noqa: B018 - loaded before the clock starts
    runtime.notifier  # noqa: B018
    started = time.monotonic()
    threads = [threading.Thread(target=dispatcher) for _ in range(dispatchers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts, time.monotonic() - started


def measure(
    url: str, *, backend: str, messages: int, failing_share: float, dispatchers: int = 1
) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlmodel import func, select

    from crealux.demo import ensure_reference_data
    from crealux_core.clock import utcnow
    from crealux_core.db import migrate
    from crealux_core.models import NotificationDelivery
    from crealux_core.runtime import Runtime
    from crealux_core.services.notifications import BACKOFF
    from crealux_core.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="crealux-bench-notify-"))
    try:
        with smtp_server(home) as (port, received_path, strict_path):
            runtime = Runtime(Settings(home=home, database_url=url, smtp_port=port))
            try:
                migrate(url)
                ensure_reference_data(runtime)
                now = utcnow()
                if failing_share > 0:
                    strict_path.touch()
                subjects = queue(runtime, messages=messages, failing_share=failing_share, now=now)
                if backend == "postgresql":
                    with runtime.engine.begin() as connection:
                        connection.execute(text("ANALYZE"))
                say(f"  {backend}: {messages} queued ({failing_share:.0%} refused); dispatching")
                load_before = [round(x, 2) for x in os.getloadavg()]
                first, first_s = dispatch_all(runtime, now, dispatchers)
                strict_path.unlink(missing_ok=True)
                retry, retry_s = dispatch_all(runtime, now + BACKOFF[0])
                with runtime.session() as session:
                    rows = session.exec(
                        select(func.count()).select_from(NotificationDelivery)
                    ).one()
                received = Counter(received_path.read_text(encoding="utf-8").splitlines())
                checks = {
                    "received": sum(received.values()),
                    "each_once": received == Counter(subjects),
                    "delivery_rows": rows,
                }
                attempts = first["sent"] + first["failed"] + first["partial"]
                result = {
                    "backend": backend,
                    "messages": messages,
                    "failing_share": failing_share,
                    "dispatchers": dispatchers,
                    "first_pass": dict(first),
                    "first_pass_s": round(first_s, 2),
                    "messages_per_s": round(attempts / first_s, 1) if first_s else None,
                    "sent_per_s": round(first["sent"] / first_s, 1) if first_s else None,
                    "retry_pass": dict(retry),
                    "retry_pass_s": round(retry_s, 2),
                    "checks": checks,
                    "ok": bool(checks["each_once"]) and retry["failed"] == 0,
                    "loadavg_before": load_before,
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                }
                say(
                    f"  {backend}, {failing_share:.0%} failing: {attempts} dispatched in"
                    f" {first_s:.1f} s = {result['messages_per_s']} messages/s"
                    f" (sent {first['sent']}, failed {first['failed']}); retry pass"
                    f" {retry['sent']} sent in {retry_s:.1f} s; each once: {result['ok']}"
                )
                return result
            finally:
                if "engine" in runtime.__dict__:
                    runtime.engine.dispose()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--failing-share", type=float, default=0.05)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--dispatchers", type=int, default=1, help="threads dispatching at once")
    parser.add_argument("--quiet-load", type=float, default=2.0, help="wait for a load below")
    parser.add_argument("--patience", type=float, default=0, help="...at most this long (s)")
    args = parser.parse_args()

    wait_until_load_below(args.quiet_load, patience=args.patience, say=say)
    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "runs": []}

    def both(url_of: Any, backend: str) -> None:
        for share in (0.0, args.failing_share):
            with url_of() as url:
                result["runs"].append(
                    measure(
                        url,
                        backend=backend,
                        messages=args.messages,
                        failing_share=share,
                        dispatchers=args.dispatchers,
                    )
                )

    @contextmanager
    def sqlite_url() -> Iterator[str]:
        directory = Path(tempfile.mkdtemp(prefix="crealux-bench-sqlite-"))
        try:
            yield f"sqlite:///{directory / 'crealux.db'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    try:
        if not args.no_sqlite:
            both(sqlite_url, "sqlite")
        if args.no_postgres:
            result["postgresql"] = "not asked (--no-postgres)"
        elif not port_open(5432):
            result["postgresql"] = "skipped: nothing listens at 127.0.0.1:5432"
            say(f"  {result['postgresql']}")
        else:
            both(postgres_database, "postgresql")
    except KeyboardInterrupt:
        say("interrupted: the temporary databases were removed")
        return 130
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result("notifications", result)
    for run in result["runs"]:
        say(
            f"{run['backend']}: {run['messages']} messages, {run['failing_share']:.0%} failing,"
            f" {run['dispatchers']} dispatcher(s):"
            f" {run['messages_per_s']} messages/s ({run['first_pass_s']} s), each once: {run['ok']}"
        )
    say(f"load {result['machine']['loadavg']} -> {result['machine']['loadavg_end']} ({path})")
    return 0 if all(run["ok"] for run in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
