"""The bare minimum the connector's work can be compared with (not a product).

Fetches the same pages the connector reads (profiles with subscriptions at 100
a page, the six campaign listings with their messages, lists, segments), parses
them with orjson, and bulk-inserts the same columns into DuckDB in batches of
Arrow tables: no pacing, retries, merging, cursors or dlt. Run as its own
process so its CPU and memory are measured like the connector's:

    python bench/baseline.py --base-url http://127.0.0.1:8765 --db /tmp/b.duckdb
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow as pa

from procs import HEADERS

TEXT, TIME, JSON, BOOL = "VARCHAR", "TIMESTAMPTZ", "JSON", "BOOLEAN"

PROFILE = (
    ("email", TEXT),
    ("phone_number", TEXT),
    ("external_id", TEXT),
    ("first_name", TEXT),
    ("last_name", TEXT),
    ("organization", TEXT),
    ("title", TEXT),
    ("locale", TEXT),
    ("image", TEXT),
    ("created", TIME),
    ("updated", TIME),
    ("last_event_date", TIME),
    ("location", JSON),
    ("properties", JSON),
    ("subscriptions", JSON),
)
CAMPAIGN = (
    ("name", TEXT),
    ("status", TEXT),
    ("archived", BOOL),
    ("created_at", TIME),
    ("updated_at", TIME),
    ("scheduled_at", TIME),
    ("send_time", TIME),
    ("audiences", JSON),
    ("send_options", JSON),
    ("tracking_options", JSON),
    ("send_strategy", JSON),
)
LIST = (("name", TEXT), ("opt_in_process", TEXT), ("created", TIME), ("updated", TIME))
SEGMENT = (
    ("name", TEXT),
    ("definition", JSON),
    ("is_active", BOOL),
    ("is_processing", BOOL),
    ("is_starred", BOOL),
    ("created", TIME),
    ("updated", TIME),
)
ARROW = {TEXT: pa.string(), TIME: pa.string(), JSON: pa.string(), BOOL: pa.bool_()}


def pages(
    client: httpx.Client, path: str, params: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    url: str | None = path
    query: Mapping[str, str] | None = params
    while url:
        document = orjson.loads(client.get(url, params=query).content)
        yield document
        url, query = document["links"]["next"], None


class Table:
    """Rows collected as columns, inserted into DuckDB every `batch` rows."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        name: str,
        columns: Sequence[tuple[str, str]],
        batch: int,
    ) -> None:
        self.db, self.name, self.batch = db, name, batch
        self.columns = (("id", TEXT), *columns)
        self.values: dict[str, list[Any]] = {c: [] for c, _ in self.columns}
        ddl = ", ".join(f"{c} {kind}" for c, kind in self.columns)
        db.execute(f"CREATE TABLE {name} ({ddl})")

    def add(self, resource: dict[str, Any]) -> None:
        attributes = resource["attributes"]
        self.values["id"].append(resource["id"])
        for column, kind in self.columns[1:]:
            value = attributes.get(column)
            if kind == JSON and value is not None:
                value = orjson.dumps(value)
            self.values[column].append(value)
        if len(self.values["id"]) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.values["id"]:
            return
        arrays = [pa.array(self.values[c], ARROW[kind]) for c, kind in self.columns]
        names = [c for c, _ in self.columns]
        batch = pa.Table.from_arrays(arrays, names=names)
        casts = ", ".join(
            f"CAST({c} AS {kind}) AS {c}" if kind != TEXT else c
            for c, kind in self.columns
        )
        self.db.register("batch", batch)
        self.db.execute(f"INSERT INTO {self.name} SELECT {casts} FROM batch")
        self.db.unregister("batch")
        self.values = {c: [] for c, _ in self.columns}


def copy(
    client: httpx.Client,
    table: Table,
    path: str,
    params: Mapping[str, str],
) -> None:
    for document in pages(client, path, params):
        for resource in document["data"]:
            table.add(resource)
    table.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    args = parser.parse_args()
    db = duckdb.connect(args.db)
    with httpx.Client(base_url=args.base_url, headers=HEADERS, timeout=120) as client:
        profiles = Table(db, "profile", PROFILE, args.batch_rows)
        params = {
            "page[size]": "100",
            "additional-fields[profile]": "subscriptions",
            "sort": "updated",
        }
        copy(client, profiles, "/api/profiles", params)
        campaigns = Table(db, "campaign", CAMPAIGN, args.batch_rows)
        for channel in ("email", "sms", "mobile_push"):
            for archived in ("false", "true"):
                condition = f"equals(messages.channel,'{channel}')"
                params = {
                    "filter": f"and({condition},equals(archived,{archived}))",
                    "include": "campaign-messages",
                    "page[size]": "100",
                }
                copy(client, campaigns, "/api/campaigns", params)
        copy(client, Table(db, "list", LIST, args.batch_rows), "/api/lists", {})
        segment_fields = ",".join(name for name, _ in SEGMENT)
        copy(
            client,
            Table(db, "segment", SEGMENT, args.batch_rows),
            "/api/segments",
            {"fields[segment]": segment_fields},
        )
    count = db.execute("SELECT COUNT(*) FROM profile").fetchone()
    print(f"baseline loaded {count[0] if count else 0} profiles")
    db.close()


if __name__ == "__main__":
    main()
