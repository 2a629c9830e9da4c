"""The SQL that keeps the usage and latency rollups equal to sums over the request log.

Four rollup tables: `UsageHour` and `UsageDay` (counts, tokens and cost per
period and provider/models/subagent/route), `LatencyHour` and `LatencyDay`
(latency histograms per period). Triggers on the log table add every
inserted row to its hour's and day's rollup rows and take every deleted row
away (an update does both), in the writer's own transaction. So the rollups
stay right whoever writes the log: the gateway's log writer, `replaylogs`,
`seedlogs`, `prunelogs`, a test's ORM call or someone at a SQL prompt.

- SQLite: row triggers; adding a row is an UPSERT (`INSERT ... ON CONFLICT
  DO UPDATE`), taking one away an UPDATE (so a row deleted after its rollup
  row is gone, as in a test database's flush, leaves nothing negative
  behind), then rollup rows left at zero are deleted.
- PostgreSQL: statement triggers with transition tables, so a batch of rows
  becomes one grouped UPSERT per table, applied in key order (two workers'
  batches lock the same rollup rows in the same order and cannot deadlock).

Migration 0006 installs them through `install_triggers`. A later change to
what they compute needs a migration that runs `drop_triggers`,
`install_triggers` and `rebuild` (which is what `rebuildrollups` does). On
SQLite, a migration that remakes the log table (most AlterFields) drops its
triggers: follow it with the same three calls.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

LOG = "requestlog_requestlog"
#: The rollup periods and their (usage, latency) tables.
PERIODS = {
    "hour": ("requestlog_usagehour", "requestlog_latencyhour"),
    "day": ("requestlog_usageday", "requestlog_latencyday"),
}
KEY = ("provider", "requested_model", "target_model", "subagent", "route")
#: Latency histogram bins per doubling (see LatencyCounts); `histograms` reads it.
BINS_PER_OCTAVE = 8
ERROR_OUTCOMES_SQL = "('client_error', 'upstream_error', 'gateway_error')"
TRIGGER_NAMES = ("requestlog_rollup_insert", "requestlog_rollup_delete", "requestlog_rollup_update")
PG_FUNCTION = "requestlog_rollup_apply"
PG_ADD_BINS = "requestlog_add_bins"
#: The histogram columns of the usage rollups and the log column each counts.
BIN_COLUMNS = (("latency_bins", "latency_ms"), ("ttfb_bins", "ttfb_ms"))

#: The log's columns summed into the usage rollups (besides the counts of rows).
SUMMED_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cost_usd",
)
#: Each summed column and its value for one log row `r`.
SUMS = (
    ("requests", "1"),
    ("errors", f"CASE WHEN r.outcome IN {ERROR_OUTCOMES_SQL} THEN 1 ELSE 0 END"),
    ("cancelled", "CASE WHEN r.outcome = 'cancelled' THEN 1 ELSE 0 END"),
    ("input_tokens", "r.input_tokens"),
    ("output_tokens", "r.output_tokens"),
    ("cache_read_input_tokens", "r.cache_read_input_tokens"),
    ("cache_creation_input_tokens", "r.cache_creation_input_tokens"),
    ("cost_usd", "COALESCE(r.cost_usd, 0)"),
    ("ttfb_count", "CASE WHEN r.ttfb_ms IS NULL THEN 0 ELSE 1 END"),
)
_SQLITE_FORMATS = {"hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}


def period_sql(vendor: str, period: str, column: str) -> str:
    """The start of the UTC hour or day of a timestamp column, as a DateTimeField stores it."""
    if vendor == "sqlite":
        return f"strftime('{_SQLITE_FORMATS[period]}', {column})"
    return f"date_trunc('{period}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def bin_sql(column: str) -> str:
    """The histogram bin of a latency in ms: floor(BINS_PER_OCTAVE * log2(ms + 1))."""
    return f"CAST(floor({BINS_PER_OCTAVE} * ln({column} + 1.0) / ln(2.0)) AS INTEGER)"


def _columns() -> str:
    return ", ".join(("start", *KEY, *(name for name, _ in SUMS), *(c for c, _ in BIN_COLUMNS)))


def _usage_upsert(table: str, bins: dict[str, str]) -> str:
    """ON CONFLICT clause adding a row's sums; `bins`: each histogram column's new value."""
    added = [f"{name} = {table}.{name} + excluded.{name}" for name, _ in SUMS]
    added += [f"{column} = {bins[column]}" for column, _ in BIN_COLUMNS]
    return f"ON CONFLICT (start, {', '.join(KEY)}) DO UPDATE SET {', '.join(added)}"


def _latency_upsert(table: str) -> str:
    return f"ON CONFLICT (start, bin) DO UPDATE SET count = {table}.count + excluded.count"


def _remove_emptied(usage: str, latency: str, starts: str) -> list[str]:
    """Rollup rows left at zero by a take-away, among the `starts` (an SQL list or subquery)."""
    return [
        f"DELETE FROM {usage} WHERE requests = 0 AND start IN ({starts})",
        f"DELETE FROM {latency} WHERE count = 0 AND start IN ({starts})",
    ]


# --- SQLite: row triggers -----------------------------------------------------------------
def _json_path(row: str, column: str) -> str:
    return f"""'$."' || {bin_sql(f"{row}.{column}")} || '"'"""


def _sqlite_bin_added(table: str, bins: str, row: str, column: str) -> str:
    """`table.bins` with one more in the bin of `row.column` (unchanged if that is NULL)."""
    path = _json_path(row, column)
    current = f"{table}.{bins}"
    added = f"json_set({current}, {path}, COALESCE(json_extract({current}, {path}), 0) + 1)"
    return f"CASE WHEN {row}.{column} IS NULL THEN {current} ELSE {added} END"


def _sqlite_bin_taken(bins: str, row: str, column: str) -> str:
    path = _json_path(row, column)
    count = f"json_extract({bins}, {path})"
    return (
        f"CASE WHEN {row}.{column} IS NULL THEN {bins} "
        f"WHEN {count} > 1 THEN json_set({bins}, {path}, {count} - 1) "
        f"ELSE json_remove({bins}, {path}) END"
    )


def _sqlite_add(row: str) -> list[str]:
    statements = []
    for period, (usage, latency) in PERIODS.items():
        start = period_sql("sqlite", period, f"{row}.started_at")
        sums = (value.replace("r.", f"{row}.") for _, value in SUMS)
        first_bins = (
            f"CASE WHEN {row}.{column} IS NULL THEN '{{}}' "
            f"ELSE json_object(CAST({bin_sql(f'{row}.{column}')} AS TEXT), 1) END"
            for _, column in BIN_COLUMNS
        )
        values = ", ".join((start, *(f"{row}.{k}" for k in KEY), *sums, *first_bins))
        more_bins = {
            bins: _sqlite_bin_added(usage, bins, row, column) for bins, column in BIN_COLUMNS
        }
        statements += [
            f"INSERT INTO {usage} ({_columns()}) VALUES ({values}) "
            f"{_usage_upsert(usage, more_bins)};",
            f"INSERT INTO {latency} (start, bin, count) "
            f"VALUES ({start}, {bin_sql(f'{row}.latency_ms')}, 1) {_latency_upsert(latency)};",
        ]
    return statements


def _sqlite_take_away(row: str) -> list[str]:
    taken = [f"{name} = {name} - ({value.replace('r.', f'{row}.')})" for name, value in SUMS]
    taken += [f"{bins} = {_sqlite_bin_taken(bins, row, column)}" for bins, column in BIN_COLUMNS]
    same_key = " AND ".join(f"{k} = {row}.{k}" for k in KEY)
    statements = []
    for period, (usage, latency) in PERIODS.items():
        start = period_sql("sqlite", period, f"{row}.started_at")
        statements += [
            f"UPDATE {usage} SET {', '.join(taken)} WHERE start = {start} AND {same_key};",
            f"UPDATE {latency} SET count = count - 1 "
            f"WHERE start = {start} AND bin = {bin_sql(f'{row}.latency_ms')};",
            *(f"{statement};" for statement in _remove_emptied(usage, latency, start)),
        ]
    return statements


def _sqlite_triggers() -> list[str]:
    watched = ", ".join(("started_at", "latency_ms", "outcome", "ttfb_ms", *KEY, *SUMMED_COLUMNS))
    insert, delete, update = TRIGGER_NAMES
    add_new, take_old = "\n".join(_sqlite_add("NEW")), "\n".join(_sqlite_take_away("OLD"))
    return [
        f"CREATE TRIGGER {insert} AFTER INSERT ON {LOG} BEGIN\n{add_new}\nEND",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {LOG} BEGIN\n{take_old}\nEND",
        f"CREATE TRIGGER {update} AFTER UPDATE OF {watched} ON {LOG} BEGIN\n"
        f"{take_old}\n{add_new}\nEND",
    ]


# --- grouped statements (PostgreSQL triggers, rebuild) --------------------------------
def _grouped(vendor: str, period: str, source: str) -> tuple[str, str]:
    """SELECTs of the usage rollup rows and latency counts of the rows of `source`.

    The usage SELECT gives the columns of `_columns()`, one row per key, in
    key order; its histograms are JSON objects built by the database.
    """
    start = period_sql(vendor, period, "r.started_at")
    keys = ", ".join(f"r.{k}" for k in KEY)
    by_key = ", ".join(str(i) for i in range(1, len(KEY) + 2))
    sums = ", ".join(f"SUM({value}) AS {name}" for name, value in SUMS)
    to_json = (
        "json_group_object(CAST(bin AS TEXT), n)"
        if vendor == "sqlite"
        else ("jsonb_object_agg(bin::text, n)")
    )
    joins, bins = [], []
    for alias, (column, counted) in zip("lt", BIN_COLUMNS, strict=True):
        counts = (
            f"SELECT {start} AS start, {keys}, {bin_sql(f'r.{counted}')} AS bin, COUNT(*) AS n "
            f"FROM {source} AS r WHERE r.{counted} IS NOT NULL GROUP BY {by_key}, {len(KEY) + 2}"
        )
        joins.append(
            f"LEFT JOIN (SELECT start, {', '.join(KEY)}, {to_json} AS bins FROM ({counts}) AS c "
            f"GROUP BY {by_key}) AS {alias} USING (start, {', '.join(KEY)})"
        )
        bins.append(f"COALESCE({alias}.bins, '{{}}') AS {column}")
    usage = (
        f"SELECT s.*, {', '.join(bins)} FROM "
        f"(SELECT {start} AS start, {keys}, {sums} FROM {source} AS r GROUP BY {by_key}) AS s "
        f"{' '.join(joins)} ORDER BY {', '.join(('start', *KEY))}"
    )
    latency = (
        f"SELECT {start} AS start, {bin_sql('r.latency_ms')} AS bin, COUNT(*) AS count "
        f"FROM {source} AS r GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return usage, latency


def _postgres_bins_merged(table: str, other: str, direction: int) -> dict[str, str]:
    return {
        column: f"{PG_ADD_BINS}({table}.{column}, {other}.{column}, {direction})"
        for column, _ in BIN_COLUMNS
    }


def grouped_inserts(vendor: str, source: str, upsert: bool = True) -> list[str]:
    """INSERT ... SELECT statements adding the rows of `source` to every rollup.

    With `upsert` (PostgreSQL's triggers) rows already in a rollup are added
    to; without it (a rebuild into empty tables) they are only inserted.
    """
    statements = []
    for period, (usage, latency) in PERIODS.items():
        usage_rows, latency_rows = _grouped(vendor, period, source)
        usage_tail = _usage_upsert(usage, _postgres_bins_merged(usage, "excluded", 1))
        statements += [
            f"INSERT INTO {usage} ({_columns()}) {usage_rows} {usage_tail if upsert else ''}",
            f"INSERT INTO {latency} (start, bin, count) {latency_rows} "
            f"{_latency_upsert(latency) if upsert else ''}",
        ]
    return statements


def _postgres_take_away(source: str) -> list[str]:
    taken = [f"{name} = u.{name} - g.{name}" for name, _ in SUMS]
    taken += [f"{c} = {v}" for c, v in _postgres_bins_merged("u", "g", -1).items()]
    same_key = " AND ".join(f"u.{k} = g.{k}" for k in ("start", *KEY))
    statements = []
    for period, (usage, latency) in PERIODS.items():
        usage_rows, latency_rows = _grouped("postgresql", period, source)
        starts = f"SELECT {period_sql('postgresql', period, 'r.started_at')} FROM {source} AS r"
        statements += [
            f"UPDATE {usage} AS u SET {', '.join(taken)} FROM ({usage_rows}) AS g WHERE {same_key}",
            f"UPDATE {latency} AS u SET count = u.count - g.count FROM ({latency_rows}) AS g "
            f"WHERE u.start = g.start AND u.bin = g.bin",
            *_remove_emptied(usage, latency, starts),
        ]
    return statements


def _postgres_add_bins() -> str:
    """A function adding (direction 1) or taking away (-1) one histogram to or from another."""
    return (
        f"CREATE OR REPLACE FUNCTION {PG_ADD_BINS}(a jsonb, b jsonb, direction integer) "
        f"RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$\n"
        f"  SELECT COALESCE(jsonb_object_agg(k, v), '{{}}'::jsonb) FROM (\n"
        f"    SELECT k, COALESCE((a ->> k)::bigint, 0) + direction * COALESCE((b ->> k)::bigint, 0)"
        f" AS v\n"
        f"    FROM (SELECT jsonb_object_keys(a) UNION SELECT jsonb_object_keys(b)) AS bins(k)\n"
        f"  ) AS merged WHERE v > 0\n"
        f"$$"
    )


def _postgres_function() -> str:
    take_away = ";\n    ".join(_postgres_take_away("old_rows"))
    add = ";\n    ".join(grouped_inserts("postgresql", "new_rows"))
    return (
        f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n"
        f"  IF TG_OP <> 'INSERT' THEN\n    {take_away};\n  END IF;\n"
        f"  IF TG_OP <> 'DELETE' THEN\n    {add};\n  END IF;\n"
        f"  RETURN NULL;\n"
        f"END\n$$"
    )


def _postgres_triggers() -> list[str]:
    insert, delete, update = TRIGGER_NAMES
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
    return [
        _postgres_add_bins(),
        _postgres_function(),
        f"CREATE TRIGGER {insert} AFTER INSERT ON {LOG} REFERENCING NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER {delete} AFTER DELETE ON {LOG} REFERENCING OLD TABLE AS old_rows {run}",
        f"CREATE TRIGGER {update} AFTER UPDATE ON {LOG} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {run}",
    ]


# --- entry points -------------------------------------------------------------------------
def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)  # no parameters: "%" is literal


def install_triggers(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        _run(connection, _sqlite_triggers())
    elif connection.vendor == "postgresql":
        _run(connection, _postgres_triggers())
    else:
        raise NotImplementedError(f"no rollup triggers for {connection.vendor}")


def drop_triggers(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "postgresql":
        drops = [f"DROP TRIGGER IF EXISTS {name} ON {LOG}" for name in TRIGGER_NAMES]
        drops.append(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
        drops.append(f"DROP FUNCTION IF EXISTS {PG_ADD_BINS}(jsonb, jsonb, integer)")
    else:
        drops = [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES]
    _run(connection, drops)


def triggers_installed(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [LOG],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [LOG]
            )
        found = {row[0] for row in cursor.fetchall()}
    return found >= set(TRIGGER_NAMES)


def rebuild(connection: BaseDatabaseWrapper) -> None:
    """Recompute every rollup from the whole log (call inside a transaction).

    On PostgreSQL the log is locked against writes until the transaction
    ends, so no row is counted twice or missed; SQLite has one writer anyway.
    """
    if connection.vendor == "postgresql":
        _run(connection, [f"LOCK TABLE {LOG} IN SHARE MODE"])
    tables = [table for pair in PERIODS.values() for table in pair]
    _run(
        connection,
        [
            *(f"DELETE FROM {table}" for table in tables),
            *grouped_inserts(connection.vendor, LOG, upsert=False),
        ],
    )
