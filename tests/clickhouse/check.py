#!/usr/bin/env python3
"""Feeds Kafka message values to ClickHouse's own parser (chdb embeds ClickHouse) through the
table definitions of docs/kafka-clickhouse.md, and prints `rows bytes packets` of what ends
up in the MergeTree table.

    check.py DOCS PROTO FORMAT GLOB

DOCS is docs/kafka-clickhouse.md: its ```sql block is run as written, except that the
Kafka-engine table `flows_queue` becomes a Null-engine table of the same columns (there is
no Kafka engine without a ClickHouse server); the materialized view then moves every row
inserted into it into `flows`, as the Kafka engine would. FORMAT is the `kafka_format`
(`Protobuf` or `ProtobufSingle`); it must be one the docs name. GLOB names the files, one
per Kafka message (ClickHouse's Kafka engine parses each message on its own, as `file()`
parses each file on its own). Used by tests/kafka_batched.rs.
"""

import re
import sys
import tempfile

import chdb.session


def main():
    docs, proto, fmt, glob = sys.argv[1:5]
    text = open(docs, encoding="utf-8").read()
    section = text[text.index("## ClickHouse"):]
    sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    if f"kafka_format = '{fmt}'" not in section:
        sys.exit(f"docs/kafka-clickhouse.md names no kafka_format = '{fmt}'")
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    queue = next(s for s in statements if s.startswith("CREATE TABLE flows_queue"))
    columns = re.search(r"\((.*)\)\s*ENGINE", queue, re.S).group(1)
    columns = " ".join(columns.split())
    message = re.search(r"kafka_schema = '[^:]+:(\w+)'", queue).group(1)
    with tempfile.TemporaryDirectory() as home:
        s = chdb.session.Session(home)
        for st in statements:
            if st is queue:
                st = f"CREATE TABLE flows_queue ({columns}) ENGINE = Null"
            s.query(st)
        s.query(
            f"INSERT INTO flows_queue SELECT * FROM file('{glob}', '{fmt}', '{columns}') "
            f"SETTINGS format_schema = '{proto}:{message}'"
        )
        out = s.query("SELECT count(), sum(Bytes), sum(Packets) FROM flows", "CSV")
        print(str(out).strip().replace(",", " "))
        s.close()


if __name__ == "__main__":
    main()
