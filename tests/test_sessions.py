"""Sessions on a slide: concurrent connections, lock waits, late results, deadlocks."""

from __future__ import annotations

import textwrap

from pgslides.outcome import DeckOutcome
from pgslides.parse.deck import parse_deck
from pgslides.report import deck_warnings
from pgslides.run.database import SessionSettings
from pgslides.run.execute import RunLimits
from pgslides.run.housekeeping import Housekeeper
from pgslides.run.server import Server
from pgslides.run.timeline import run_deck


def run(pg_server: Server, source: str, timeout_ms: int = 10_000) -> DeckOutcome:
    return run_with_warnings(pg_server, source, timeout_ms)[0]


def run_with_warnings(
    pg_server: Server, source: str, timeout_ms: int = 10_000
) -> tuple[DeckOutcome, list[str]]:
    """The outcome, and its warnings as `file:line: message` lines, as a build logs them."""
    deck = parse_deck(textwrap.dedent(source).lstrip("\n"), "slides/mvcc.md")
    # As a build runs it: what the deck made outside its database is dropped after it.
    leftovers: list[str] = []
    with (
        Housekeeper(pg_server) as keeper,
        keeper.deck(
            "sessions", "database", SessionSettings(), warnings=leftovers, sql_text=source
        ) as db,
    ):
        outcome = run_deck(deck, db, RunLimits(statement_timeout_ms=timeout_ms))
    # Slides too large for the stage are test_fit's business; these decks are one long slide.
    said = [str(warning) for warning in deck_warnings(deck, outcome)]
    return outcome, [line for line in said if " will be presented at about " not in line]


def statuses(statements) -> list[str | None]:
    return [s.error.sqlstate if s.error else s.status for s in statements]


ACCOUNTS = """
```sql exec
CREATE TABLE accounts (id int PRIMARY KEY, balance int);
INSERT INTO accounts VALUES (1, 100), (2, 100);
```
"""


def test_readers_do_not_block_writers_and_see_the_old_version(pg_server: Server):
    outcome = run(
        pg_server,
        ACCOUNTS
        + """
        ```sql exec session=alice
        BEGIN;
        UPDATE accounts SET balance = 90 WHERE id = 1;
        ```

        ```sql exec session=bob
        SELECT balance FROM accounts WHERE id = 1;
        ```

        ```sql exec session=alice
        COMMIT;
        ```

        ```sql exec session=bob
        SELECT balance FROM accounts WHERE id = 1;
        ```
        """,
    )
    before, after = outcome.blocks[2], outcome.blocks[4]
    assert before.waiting_for is None
    assert before.statements[0].rows == (("100",),)
    assert after.statements[0].rows == (("90",),)
    assert [s.transaction for s in outcome.blocks[1].statements] == ["idle", "open"]
    assert outcome.warnings == ()


LOCK_WAIT = (
    ACCOUNTS
    + """
```sql exec session=alice
BEGIN;
UPDATE accounts SET balance = balance - 10 WHERE id = 1;
```

```sql exec session=bob
SELECT 'before the wait';
UPDATE accounts SET balance = balance + 5 WHERE id = 1;
SELECT balance FROM accounts WHERE id = 1;
```

```sql exec session=bob
SELECT 'queued behind the wait';
```

```sql exec
SELECT balance FROM accounts WHERE id = 1;
```

```sql exec session=alice
COMMIT;
```
"""
)


def test_a_lock_wait_shows_where_it_waits_and_finishes_where_it_is_released(pg_server: Server):
    outcome = run(pg_server, LOCK_WAIT)
    _, _, waiting, queued, reader, commit = outcome.blocks
    # bob's block shows what ran before the wait, then waits for alice; the deck goes on.
    assert statuses(waiting.statements) == ["SELECT 1"]
    assert waiting.waiting_for == ("alice",)
    assert waiting.late == ()
    # A later block of the waiting session queues behind it.
    assert queued.statements == ()
    assert queued.waiting_for == ("alice",)
    # main is not blocked by alice's row lock: it reads the committed value.
    assert reader.statements[0].rows == (("100",),)
    # alice's COMMIT releases bob: both of bob's blocks finish during it, in order.
    assert statuses(commit.statements) == ["COMMIT"]
    assert [(late.session, late.block_index) for late in commit.late] == [("bob", 2), ("bob", 3)]
    first, second = commit.late
    assert statuses(first.statements) == ["UPDATE 1", "SELECT 1"]
    assert first.statements[1].rows == (("95",),)
    assert first.line == waiting.line
    assert second.statements[0].rows == (("queued behind the wait",),)
    assert outcome.warnings == ()


def test_the_timeline_is_the_same_on_every_run(pg_server: Server):
    first = run(pg_server, LOCK_WAIT + DEADLOCK_TAIL)
    second = run(pg_server, LOCK_WAIT + DEADLOCK_TAIL)
    assert first.to_dict() == second.to_dict()


DEADLOCK_TAIL = """
```sql exec session=alice
SET deadlock_timeout = '5s';
BEGIN;
UPDATE accounts SET balance = 0 WHERE id = 1;
```

```sql exec session=bob
BEGIN;
UPDATE accounts SET balance = 1 WHERE id = 2;
UPDATE accounts SET balance = 1 WHERE id = 1;
```

```sql exec session=alice
UPDATE accounts SET balance = 0 WHERE id = 2;
```

```sql exec session=bob expect=40P01
ROLLBACK;
```

```sql exec session=alice
COMMIT;
```
"""


def test_a_deadlock_is_broken_by_the_server_and_its_victim_is_deterministic(pg_server: Server):
    outcome = run(pg_server, ACCOUNTS + DEADLOCK_TAIL.replace("expect=40P01", ""))
    _, _alice_locks, bob, alice, rollback, commit = outcome.blocks
    assert bob.waiting_for == ("alice",)
    # alice's update closes the cycle; bob (deadlock_timeout 1s, alice's is 5s) is the victim,
    # and its error is shown where it happened: during alice's block.
    assert statuses(alice.statements) == ["UPDATE 1"]
    (late,) = alice.late
    assert late.session == "bob"
    (error_statement,) = late.statements
    assert error_statement.error.sqlstate == "40P01"
    assert error_statement.error.message == "deadlock detected"
    assert error_statement.error.detail == (
        "Process bob waits for ShareLock on transaction 1; blocked by process alice.\n"
        "Process alice waits for ShareLock on transaction 2; blocked by process bob."
    )
    # The expectation belongs to the block whose statement failed, wherever it is shown.
    assert bob.problem == outcome.blocks[2].problem
    assert "deadlock detected (40P01)" in bob.problem
    assert statuses(rollback.statements) == ["ROLLBACK"]
    assert statuses(commit.statements) == ["COMMIT"]


def test_expect_on_the_victims_block_is_met_by_its_late_error(pg_server: Server):
    source = ACCOUNTS + DEADLOCK_TAIL.replace(
        "```sql exec session=bob\nBEGIN;", "```sql exec session=bob expect=40P01\nBEGIN;"
    ).replace(
        "```sql exec session=bob expect=40P01\nROLLBACK;", "```sql exec session=bob\nROLLBACK;"
    )
    outcome = run(pg_server, source)
    assert [block.problem for block in outcome.blocks] == [None] * 6
    assert outcome.warnings == ()


def test_a_serialization_failure_under_serializable(pg_server: Server):
    outcome, warnings = run_with_warnings(
        pg_server,
        ACCOUNTS
        + """
        ```sql exec session=alice
        BEGIN ISOLATION LEVEL SERIALIZABLE;
        SELECT sum(balance) FROM accounts;
        ```

        ```sql exec session=bob
        BEGIN ISOLATION LEVEL SERIALIZABLE;
        SELECT sum(balance) FROM accounts;
        UPDATE accounts SET balance = balance + 1 WHERE id = 1;
        COMMIT;
        ```

        ```sql exec session=alice expect=40001
        UPDATE accounts SET balance = balance + 1 WHERE id = 2;
        COMMIT;
        ```
        """,
    )
    failing = outcome.blocks[3]
    assert failing.problem is None
    assert failing.statements[0].error.sqlstate == "40001"
    assert failing.statements[0].error.message == (
        "could not serialize access due to read/write dependencies among transactions"
    )
    assert warnings == [
        "slides/mvcc.md:18: session alice was left inside a transaction at the end of the deck; it was rolled back",
    ]


def test_a_deck_ending_inside_a_transaction_is_rolled_back_with_a_warning(pg_server: Server):
    _outcome, warnings = run_with_warnings(
        pg_server,
        ACCOUNTS
        + """
        ```sql exec session=alice
        BEGIN;
        UPDATE accounts SET balance = 0;
        ```
        """,
    )
    assert warnings == [
        "slides/mvcc.md:6: session alice was left inside a transaction at the end of the deck; "
        "it was rolled back",
    ]


def test_a_wait_nothing_releases_fails_at_its_timeout(pg_server: Server):
    outcome, warnings = run_with_warnings(
        pg_server,
        ACCOUNTS
        + """
        ```sql exec session=alice
        BEGIN;
        UPDATE accounts SET balance = 0 WHERE id = 1;
        ```

        ```sql exec session=bob timeout=3s expect=57014
        UPDATE accounts SET balance = 1 WHERE id = 1;
        ```

        ```sql exec session=alice
        SELECT 'alice never commits';
        ```
        """,
    )
    waiting = outcome.blocks[2]
    assert waiting.waiting_for == ("alice",)
    assert waiting.problem is None
    (late,) = outcome.blocks[3].late
    assert late.statements[0].error.sqlstate == "57014"
    assert late.statements[0].error.message == "canceling statement due to statement timeout"
    assert warnings == [
        "slides/mvcc.md:15: session alice was left inside a transaction at the end of the deck; "
        "it was rolled back",
    ]


def test_databases_and_roles_a_deck_creates_are_dropped_after_it(pg_server: Server, pg_conn):
    import os

    name = f"made_by_deck_{os.getpid()}"
    run(
        pg_server,
        f"""
        ```sql exec
        CREATE DATABASE {name};
        CREATE ROLE "{name}_Role";
        CREATE USER {name}_user;
        ```
        """,
    )
    with pg_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", (f"{name}%",))
        assert cur.fetchone()[0] == "0"
        cur.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (f"{name}%",))
        assert cur.fetchone()[0] == "0"
