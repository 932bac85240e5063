"""SQL fuzzing through the real kernel: the kernel never dies on user input (issue 13).

One Eddy kernel (started from the installed "eddy" kernelspec by jupyter_client, as Jupyter
does) gets randomly generated cells for a fixed wall time: SQL from a grammar (scalar
expressions with arithmetic, comparisons, AND/OR/NOT, CASE, CASTs to Flink types, string and
time functions, NULLs, division by zero, huge and tiny numbers; subqueries, joins of small
tables, VALUES and CTEs, GROUP BY/HAVING/ORDER BY/LIMIT, window functions, set operations),
window TVFs over a bounded datagen stream, datagen tables with random options, magics with
random options (`%sql --chart …`, `%table`, `%set`, `%config`, `%md`, `%jobs`, `%cancel`, `%connect` to a port nothing listens on, `%disconnect`,
unknown magics), nesting a few levels deep (well under the recursion limits), DDL, and byte
garbage, unicode and mutated SQL; also `user_expressions` on some execute requests, and once an
execute_request whose content frame is not UTF-8 (the kernel may drop it, but must live on).
Between cells, complete, inspect and is_complete requests probe random cursor positions (in
code points, 0..len, and now and then past the end) of the same text.

Checked for every cell: an execute_reply comes within CELL_TIMEOUT (streaming cells carry
`--duration`); its status is "ok" or "error"; an error comes with exactly one iopub `error`
message with a non-empty ename and evalue, the same as the reply's; an ok cell publishes no
`error`. An `InternalError` that is a caught panic is a bug: every one is recorded and the
test fails listing them, with the cell text — except the known panics of DataFusion's own
functions in KNOWN_UPSTREAM_PANICS (contained, each with a reproducer in
tests/kernel_limits.rs) and DataFusion's own internal errors (an error, not a panic), which are
counted in the summary. A cell that gets no reply,
or a kernel process that dies, is recorded with the tail of the kernel's log; the kernel is then
restarted so the run can find more. At the end the kernel must be alive and answer
kernel_info and a heartbeat.

Run length and seed: EDDY_SQL_FUZZ_SECONDS (default 60) and EDDY_SQL_FUZZ_SEED (default
fixed, printed): the same seed gives the same cells, so a failure is reproduced by running
again with the printed seed (enough seconds to reach the cell). Run with `-s` to see the
summary: cells run, ok/error counts, error names, and any problems (it is printed in any
case, and a failure lists each distinct problem once, with its shortest cell). EDDY_SQL_FUZZ_LOG=FILE
writes every cell with its outcome to FILE (JSON lines), for triage.

Generators considered:
  * SQLsmith (C++): generates random queries from a live PostgreSQL (or SQLite/MonetDB)
    catalog it connects to; it does not speak Jupyter or DataFusion's dialect, and would need
    a C++ build and a catalog adapter.
  * SQLancer (Java): logic-bug oracles (TLP, NoREC, PQS) per DBMS, driven over a JDBC driver;
    Eddy has no JDBC driver, and adding a DataFusion/Flink
    dialect provider is a project of its own.
  * Hypothesis's Lark strategy (`hypothesis.extra.lark.from_lark`): generates strings from a
    context-free grammar written in Lark's EBNF, maintained as part of Hypothesis, pure
    Python, runs in the test process, so cells go straight to the kernel over the Jupyter
    protocol. The grammar below is kept in this file, typed (numeric, string, boolean and
    timestamp expressions) and stratified into a few levels so every expression is finite and
    most generated SQL plans; its literal terminals are Hypothesis strategies of nasty values.
Chosen: Hypothesis, with the grammar for SQL and `hypothesis.strategies` composites for cells
that a context-free grammar describes poorly (magic lines, streams, deep nesting, garbage).
The run is time-bounded and seeded, so the test is driven through Hypothesis's public
`fuzz_one_input` hook with seeded random byte strings (one cell per input), not `@given`'s own
loop (which counts examples, not seconds, and shrinks: one shrink would rerun hundreds of
cells).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import random
import re
import textwrap
import time
import lark
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from kernel_driver import CellRun, KernelDriver, NoReply

SECONDS = float(os.environ.get("EDDY_SQL_FUZZ_SECONDS", "60"))
SEED = int(os.environ.get("EDDY_SQL_FUZZ_SEED", "1313"))
# Optional: a JSON-lines file that gets every cell with its outcome (for triage).
LOG = os.environ.get("EDDY_SQL_FUZZ_LOG")
CELL_TIMEOUT = 60.0
# Bytes Hypothesis draws one cell from; a cell that needs more is skipped (and counted).
INPUT_BYTES = 4096

# ---------------------------------------------------------------------------------------------
# The session the cells run against. Every table has the same columns, one per type, so that
# any generated expression names columns of whatever table it is put over.
COLUMNS = {
    "i": "INT",
    "n": "BIGINT",
    "x": "DOUBLE",
    "d": "DECIMAL(10,2)",
    "s": "STRING",
    "ts": "TIMESTAMP(3)",
    "b": "BOOLEAN",
}


def _table(name: str, rows: list[tuple[str, ...]]) -> str:
    casts = ", ".join(f"CAST(column{k + 1} AS {t}) AS {c}" for k, (c, t) in enumerate(COLUMNS.items()))
    values = ",\n  ".join("(" + ", ".join(r) + ")" for r in rows)
    return f"CREATE TABLE {name} AS SELECT {casts} FROM (VALUES\n  {values}\n)"


_T1_ROWS = [
    ("1", "10", "1.5", "'3.25'", "'a'", "'2024-01-01 00:00:00'", "true"),
    ("2", "-20", "-0.5", "'-1.00'", "'bb'", "'2024-01-01 00:00:01.500'", "false"),
    ("3", "9223372036854775807", "1e308", "'99999999.99'", "'日本語'", "'2024-02-29 23:59:59.999'", "true"),
    ("-2147483648", "-9223372036854775808", "-1e-308", "'-99999999.99'", "''", "'1970-01-01 00:00:00'", "false"),
    ("2147483647", "0", "0.0", "'0.01'", "'🙂 e\u0301'", "'2262-04-11 00:00:00'", "true"),
    ("NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"),
    ("1", "10", "'NaN'", "'0'", "'a'", "'2024-01-01 00:00:00'", "NULL"),
    ("7", "7", "'Infinity'", "'7.77'", "'%_\\'", "'1677-09-22 00:00:00'", "false"),
]
_T2_ROWS = [
    ("1", "1", "2.5", "'1.10'", "'a'", "'2024-01-01 00:00:00'", "true"),
    ("2", "2", "-2.5", "'2.20'", "'B'", "'2024-01-02 00:00:00'", "false"),
    ("3", "NULL", "NULL", "'3.30'", "'日本語'", "'2024-01-03 00:00:00'", "NULL"),
    ("NULL", "4", "4.0", "NULL", "NULL", "NULL", "true"),
    ("5", "5", "5.0", "'5.50'", "'e'", "'2024-01-05 12:00:00'", "false"),
]

CLICKS = """CREATE TABLE clicks (
  user_id INT,
  url STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '200',
  'rows-per-second' = '100000',
  'seed' = '1',
  'fields.user_id.min' = '1',
  'fields.user_id.max' = '9',
  'fields.url.length' = '3',
  'fields.ts.kind' = 'sequence',
  'fields.ts.start' = '2024-01-01 00:00:00',
  'fields.ts.step' = '100 ms'
)"""

FILES = {
    "good.csv": "i,s,x\n1,a,1.5\n2,b,2.5\n3,,\n",
    "bad.csv": 'i,s,x\n1,a,1.5\nnot a number,b,2\n3,"unterminated,4\n4,d\n5,e,5,extra\n',
    "empty.csv": "",
    "header_only.csv": "i,s,x\n",
    "lines.json": '{"i": 1, "s": "a", "x": 1.5}\n{"i": "two"}\nnot json\n{"i": 3, "s": null}\n',
    "dir/part-1.csv": "i,s,x\n1,a,1.0\n",
    "dir/part-2.csv": "i,s,x\n2,b,2.0\n",
}

SETUP = [
    _table("t1", _T1_ROWS),
    _table("t2", _T2_ROWS),
    "CREATE TABLE t0 AS SELECT * FROM t1 WHERE false",
    "CREATE VIEW v1 AS SELECT * FROM t1 WHERE i IS NOT NULL",
    CLICKS,
    "CREATE TABLE files (i INT, s STRING, x DOUBLE) WITH "
    "('connector' = 'filesystem', 'path' = 'good.csv', 'format' = 'csv')",
]

TABLES = ["t1", "t2", "t0", "v1"]

# ---------------------------------------------------------------------------------------------
# The SQL grammar (Lark EBNF). Expressions are typed — n (numeric), s (string), b (boolean),
# t (timestamp) — and levelled: level k only uses level k-1, so an expression is at most LEVELS
# deep and generation always ends. Literal strings carry their own spaces (Hypothesis joins the
# terminals as drawn); UPPER-case terminals are drawn from the EXPLICIT strategies below.
LEVELS = 3


def _level(k: int) -> str:
    p = k - 1
    n, s, b, t = (f"{c}{p}" for c in "nsbt")
    a = f"any{p}"
    top = k == LEVELS  # subqueries only at the top level, each over level-1 expressions
    sub_n = (
        f"""
    | "(SELECT MAX(i) FROM " TABLE ")" | "(SELECT " n1 " FROM " TABLE " WHERE " b1 " LIMIT 1)"
    | "(SELECT COUNT(*) FROM t2 WHERE t2.i = " n1 ")" | "(SELECT " n1 ")" """
        if top
        else ""
    )
    sub_b = (
        f"""
    | {n} " IN (SELECT i FROM " TABLE ")" | "EXISTS (SELECT 1 FROM t2 WHERE t2.n > " n1 ")"
    | "NOT EXISTS (SELECT 1 FROM " TABLE " WHERE " b1 ")" | {n} " > ALL (SELECT i FROM t2)"
    | {n} " = ANY (SELECT n FROM t2)" """
        if top
        else ""
    )
    return f"""
any{k}: n{k} | s{k} | b{k} | t{k}
n{k}: {n} | {n} " + " {n} | {n} " - " {n} | {n} " * " {n} | {n} " / " {n} | {n} " % " {n}
    | "-(" {n} ")" | "(" {n} ")" | {n} " & " {n} | {n} " | " {n} | {n} " << " {n} | {n} " >> " {n}
    | "ABS(" {n} ")" | "ROUND(" {n} ", " SMALLINT ")" | "POWER(" {n} ", " {n} ")" | "SQRT(" {n} ")"
    | "LN(" {n} ")" | "LOG10(" {n} ")" | "EXP(" {n} ")" | "FLOOR(" {n} ")" | "CEIL(" {n} ")"
    | "SIGNUM(" {n} ")" | "TRUNC(" {n} ")" | "GCD(" {n} ", " {n} ")" | "FACTORIAL(" {n} ")"
    | "CAST(" {a} " AS " NUMTYPE ")" | "TRY_CAST(" {s} " AS " NUMTYPE ")" | "CAST(" {n} " AS " NUMTYPE ")"
    | "LENGTH(" {s} ")" | "STRPOS(" {s} ", " {s} ")" | "ASCII(" {s} ")" | "OCTET_LENGTH(" {s} ")"
    | "EXTRACT(" FIELD " FROM " {t} ")" | "DATE_PART('" PART "', " {t} ")"
    | "CASE WHEN " {b} " THEN " {n} " ELSE " {n} " END" | "CASE " {n} " WHEN " {n} " THEN " {n} " END"
    | "COALESCE(" {n} ", " {n} ")" | "NULLIF(" {n} ", " {n} ")" | "GREATEST(" {n} ", " {n} ")"
    | "LEAST(" {n} ", " {n} ", " {n} ")" | "NANVL(" {n} ", " {n} ")" | "RANDOM() * 0"{sub_n}
s{k}: {s} | {s} " || " {s} | "CONCAT(" {s} ", " {a} ")" | "CONCAT_WS(" {s} ", " {a} ", " {a} ")"
    | "UPPER(" {s} ")" | "LOWER(" {s} ")" | "TRIM(" {s} ")" | "BTRIM(" {s} ", " {s} ")" | "LTRIM(" {s} ")"
    | "SUBSTRING(" {s} " FROM " {n} " FOR " {n} ")" | "SUBSTR(" {s} ", " {n} ")" | "LEFT(" {s} ", " {n} ")"
    | "RIGHT(" {s} ", " {n} ")" | "REPLACE(" {s} ", " {s} ", " {s} ")" | "REVERSE(" {s} ")"
    | "INITCAP(" {s} ")" | "SPLIT_PART(" {s} ", " {s} ", " {n} ")" | "LPAD(" {s} ", " SMALLINT ", " {s} ")"
    | "RPAD(" {s} ", " SMALLINT ")" | "REPEAT(" {s} ", " SMALLINT ")" | "CAST(" {a} " AS " STRTYPE ")"
    | "TO_HEX(" {n} ")" | "MD5(" {s} ")" | "SHA256(" {s} ")" | "REGEXP_REPLACE(" {s} ", " STR ", " STR ")"
    | "TO_CHAR(" {t} ", " STR ")" | "CHR(" {n} ")" | "TRANSLATE(" {s} ", " {s} ", " {s} ")"
    | "SUBSTR_INDEX(" {s} ", " {s} ", " {n} ")" | "OVERLAY(" {s} " PLACING " {s} " FROM " {n} " FOR " {n} ")"
    | "CASE WHEN " {b} " THEN " {s} " ELSE " {s} " END" | "COALESCE(" {s} ", " {s} ")" | "UUID()" | "(" {s} ")"
    | "ARROW_TYPEOF(" {a} ")"
b{k}: {b} | {n} CMP {n} | {s} CMP {s} | {t} CMP {t} | {b} " AND " {b} | {b} " OR " {b} | "NOT " {b}
    | "(" {b} ")" | {a} " IS NULL" | {a} " IS NOT NULL" | {b} " IS TRUE" | {b} " IS NOT FALSE"
    | {b} " IS NOT DISTINCT FROM " {b} | {s} " LIKE " STR | {s} " ILIKE " STR | {s} " NOT LIKE " STR
    | {s} " ~ " STR | {s} " ~* " STR | {s} " SIMILAR TO " STR | {n} " BETWEEN " {n} " AND " {n}
    | {n} " IN (" {n} ", " {n} ")" | {s} " NOT IN (" {s} ", " {s} ")" | "STARTS_WITH(" {s} ", " {s} ")"
    | "CASE WHEN " {b} " THEN " {b} " ELSE " {b} " END" | "REGEXP_LIKE(" {s} ", " STR ")" | "ISNAN(" {n} ")"{sub_b}
t{k}: {t} | {t} " + " INTERVAL | {t} " - " INTERVAL | "DATE_TRUNC('" PART "', " {t} ")"
    | "DATE_BIN(" INTERVAL ", " {t} ")" | "DATE_BIN(" INTERVAL ", " {t} ", " TSLIT ")"
    | "CAST(" {s} " AS " TSTYPE ")" | "CAST(" {n} " AS " TSTYPE ")" | "TO_TIMESTAMP(" {s} ")"
    | "TO_TIMESTAMP(" {s} ", " STR ")" | "TO_TIMESTAMP_MILLIS(" {n} ")" | "TO_TIMESTAMP_SECONDS(" {n} ")"
    | "FROM_UNIXTIME(" {n} ")" | "CASE WHEN " {b} " THEN " {t} " ELSE " {t} " END" | "COALESCE(" {t} ", " {t} ")"
    | "MAKE_DATE(" {n} ", " {n} ", " {n} ")" | "CAST(" {t} " AS " TSTYPE ")"
"""


GRAMMAR = (
    r"""
start: stmt
stmt: query | query ";" | query "; " query | query " -- " COMMENT | "/* " COMMENT " */ " query
    | "EXPLAIN " query | "EXPLAIN ANALYZE " query

query: plain_select | agg_select | whole_agg | scalar_select | with_query | set_op | values_query

scalar_select: "SELECT " item | "SELECT " item ", " item
plain_select: "SELECT " "DISTINCT "? items " FROM " source where? order? limit?
agg_select: "SELECT " key_item ", " aggs " FROM " source where? " GROUP BY 1" having? agg_order? limit?
whole_agg: "SELECT " aggs " FROM " source where?
with_query: "WITH w AS (SELECT * FROM " source where? ") SELECT " items " FROM w" where? order? limit?
    | "WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r WHERE k < " RECN ") SELECT COUNT(*), MAX(k) FROM r"
    | "WITH a AS (SELECT " key_item ", " aggs " FROM " source " GROUP BY 1) SELECT * FROM a" order? limit?
set_op: "SELECT * FROM " source SETOP "SELECT * FROM " source order? limit?
    | "(" scalar_select ")" SETOP "(" scalar_select ")"
values_query: "SELECT * FROM " values_source order? limit?

where: " WHERE " b3
order: " ORDER BY 1" | " ORDER BY 1 DESC" | " ORDER BY " n2 " DESC NULLS FIRST" | " ORDER BY " s2 " ASC NULLS LAST" | " ORDER BY 1, 2"
agg_order: " ORDER BY 1" | " ORDER BY 2 DESC" | " ORDER BY k NULLS FIRST"
limit: " LIMIT " LIMITNUM | " LIMIT " LIMITNUM " OFFSET " LIMITNUM
having: " HAVING COUNT(*) > " SMALLINT | " HAVING SUM(" n1 ") IS NOT NULL" | " HAVING " b1

items: item | item ", " item | item ", " item ", " item | "*" | "*, " item | "t.*, " item
item: n3 | s3 | b3 | t3 | n3 " AS " ALIAS | s3 " AS " ALIAS | window_fn
key_item: n2 " AS k" | s2 " AS k" | b2 " AS k" | t2 " AS k" | "DATE_TRUNC('day', ts) AS k" | NCOL " AS k"
aggs: agg | agg ", " agg | agg ", " agg ", " agg
agg: "COUNT(*)" | "COUNT(" any2 ")" | "COUNT(DISTINCT " any2 ")" | "SUM(" n2 ")" | "AVG(" n2 ")"
    | "MIN(" any2 ")" | "MAX(" any2 ")" | "STDDEV(" n2 ")" | "VAR_POP(" n2 ")" | "MEDIAN(" n2 ")"
    | "APPROX_PERCENTILE_CONT(" n2 ", " FRACTION ")" | "STRING_AGG(" s2 ", '|')" | "ARRAY_AGG(" n2 ")"
    | "BOOL_AND(" b2 ")" | "BOOL_OR(" b2 ")" | "SUM(" n2 ") FILTER (WHERE " b2 ")" | "CORR(" n2 ", " n2 ")"
    | "FIRST_VALUE(" any2 " ORDER BY " n2 ")" | "BIT_AND(" n2 ")" | "APPROX_DISTINCT(" any2 ")"
    | "COUNT(*) FILTER (WHERE " b2 ")" | "SUM(DISTINCT " n2 ")"
window_fn: win_call " OVER (" window? ")"
win_call: "ROW_NUMBER()" | "RANK()" | "DENSE_RANK()" | "PERCENT_RANK()" | "CUME_DIST()" | "NTILE(" SMALLINT ")"
    | "SUM(" n1 ")" | "AVG(" n1 ")" | "COUNT(*)" | "MIN(" any1 ")" | "LAG(" any1 ", " SMALLINT ")"
    | "LEAD(" any1 ", " SMALLINT ", " any1 ")" | "FIRST_VALUE(" any1 ")" | "LAST_VALUE(" any1 ")"
    | "NTH_VALUE(" any1 ", " SMALLINT ")"
window: "ORDER BY " NCOL | "PARTITION BY " SCOL " ORDER BY " NCOL | "PARTITION BY " BCOL
    | "ORDER BY " NCOL " ROWS BETWEEN " FRAMEN " PRECEDING AND CURRENT ROW"
    | "ORDER BY " NCOL " ROWS BETWEEN CURRENT ROW AND " FRAMEN " FOLLOWING"
    | "ORDER BY ts RANGE BETWEEN " INTERVAL " PRECEDING AND CURRENT ROW"
    | "ORDER BY " NCOL " RANGE BETWEEN " FRAMEN " PRECEDING AND UNBOUNDED FOLLOWING"
    | "ORDER BY x GROUPS BETWEEN " FRAMEN " PRECEDING AND " FRAMEN " FOLLOWING"

source: TABLE " AS t" | TABLE " t" | "(SELECT * FROM " TABLE " WHERE " b2 ") AS t"
    | "(SELECT * FROM t1 UNION ALL SELECT * FROM t2) AS t" | join_source | "t1 NATURAL JOIN t2"
    | values_source | "(SELECT * FROM " TABLE " ORDER BY " NCOL " LIMIT " LIMITNUM ") AS t"
join_source: "(SELECT l.i, r.n, l.x, r.d, r.s, l.ts, l.b FROM " TABLE " AS l " JOIN " " TABLE " AS r ON " join_cond ") AS t"
    | "(SELECT l.* FROM " TABLE " AS l CROSS JOIN " TABLE " AS r) AS t"
    | "(SELECT l.* FROM " TABLE " AS l " SEMIJOIN " " TABLE " AS r ON " join_cond ") AS t"
    | "(SELECT l.* FROM " TABLE " AS l JOIN " TABLE " AS r USING (" NCOL ")) AS t"
join_cond: "l.i = r.i" | "l.s = r.s" | "l.i = r.i AND l.x < r.x" | "TRUE" | "FALSE" | "l.n > r.n"
    | "l.i = r.i OR l.s = r.s" | "l.ts = r.ts" | "l.d = r.x" | "l.i + 1 = r.i" | "l.s LIKE r.s"
    | "l.b IS NOT DISTINCT FROM r.b" | "l.i = (SELECT MIN(i) FROM t2)" | "l.i = r.i AND " b1
values_source: "(VALUES " row ", " row ") AS t(i, n, x, d, s, ts, b)" | "(VALUES " row ") AS t(i, n, x, d, s, ts, b)"
row: "(" NUM ", " NUM ", " NUM ", " NUM ", " STR ", " TSLIT ", " BOOL ")"

n0: NUM | NCOL
s0: STR | SCOL
b0: BOOL | BCOL
t0: TSLIT | TSCOL | "CURRENT_TIMESTAMP"
any0: n0 | s0 | b0 | t0
"""
    + "".join(_level(k) for k in range(1, LEVELS + 1))
    + r"""
NUM: /0/
STR: /'a'/
SMALLINT: /1/
LIMITNUM: /1/
FRAMEN: /1/
RECN: /1/
FRACTION: /0\.5/
NUMTYPE: /INT/
STRTYPE: /STRING/
TSTYPE: /TIMESTAMP/
TSLIT: /CURRENT_DATE/
INTERVAL: /INTERVAL '1' DAY/
FIELD: /YEAR/
PART: /day/
CMP: / = /
SETOP: / UNION /
JOIN: /JOIN/
SEMIJOIN: /LEFT SEMI JOIN/
TABLE: /t1/
ALIAS: /c/
NCOL: /i/
SCOL: /s/
BCOL: /b/
TSCOL: /ts/
BOOL: /TRUE/
COMMENT: /c/
"""
)


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


NASTY_TEXT = [
    "", "a", "abc", "A", "%", "_", "a%", "%a%", "\\", "'", "''", '"', "日本語", "🙂", "e\u0301",
    "\u202eabc", "NULL", "null", "2024-01-01", "2024-01-01 12:34:56.789", "2024-13-45", "1e3", "  7  ",
    "abc\ndef", "\x00", "\t", "[a-", "(?i)A.*", "(a+)+$", "\\d+", "a{1000}", "%Y-%m-%d %H:%M:%S", "%Q",
    "%", "%-", "${x}", "--", "/*", "*/", ";", "x" * 300, "\ufeff", "\uffff", "\U0010ffff",
]
STRINGS = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=12),
    st.text(alphabet="ab%_\\'", max_size=6),
).map(sql_string)

NUMBERS = st.one_of(
    st.sampled_from(
        [
            "0", "1", "-1", "2", "3", "7", "10", "42", "0.5", "-3.75", "0.0", "-0.0", "3.14159",
            "1e308", "-1e308", "1e-308", "1.7976931348623157E308", "4.9e-324", "1e309",
            "127", "128", "-129", "32767", "32768", "2147483647", "-2147483648", "2147483648",
            "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "18446744073709551615", "18446744073709551616", "99999999999999999999999999999999999999",
            "123456789012345678901234567890123456789012", "0.000000000000000000000000000000000000001",
            "99999999.995", "1.005",
        ]
    ),
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)

EXPLICIT = {
    "NUM": NUMBERS,
    "STR": STRINGS,
    "SMALLINT": st.sampled_from(["0", "1", "2", "3", "5", "-1", "10", "50"]),
    "LIMITNUM": st.sampled_from(
        ["0", "1", "2", "3", "5", "10", "1000", "9223372036854775807", "18446744073709551615", "18446744073709551616"]
    ),
    "FRAMEN": st.sampled_from(["0", "1", "2", "5", "9223372036854775807", "18446744073709551615"]),
    "RECN": st.sampled_from(["0", "1", "3", "10", "100", "1000"]),
    "FRACTION": st.sampled_from(["0", "0.5", "0.99", "1", "1.5", "-0.1"]),
    "NUMTYPE": st.sampled_from(
        [
            "INT", "BIGINT", "TINYINT", "SMALLINT", "DOUBLE", "FLOAT", "DECIMAL(10,2)", "DECIMAL(38,0)",
            "DECIMAL(38,38)", "DECIMAL(5,5)", "DECIMAL(1,0)", "DECIMAL", "DECIMAL(10)", "INTEGER", "REAL",
            "DOUBLE PRECISION", "DECIMAL(39,0)", "DECIMAL(0,0)", "DECIMAL(76,2)", "INT UNSIGNED",
        ]
    ),
    "STRTYPE": st.sampled_from(["STRING", "VARCHAR", "VARCHAR(3)", "CHAR(2)", "TEXT", "BYTES", "VARBINARY"]),
    "TSTYPE": st.sampled_from(
        ["TIMESTAMP(3)", "TIMESTAMP", "TIMESTAMP(0)", "TIMESTAMP(6)", "TIMESTAMP(9)", "TIMESTAMP_LTZ(3)", "DATE", "TIMESTAMP(12)"]
    ),
    "TSLIT": st.sampled_from(
        ["TIMESTAMP '2024-01-01 00:00:00'", "TIMESTAMP '2024-03-10 02:30:00.123'", "TIMESTAMP '2000-01-01 00:00:00'"] * 3
        + [
            "TIMESTAMP '2024-01-01 00:00:00'", "TIMESTAMP '2024-02-29 23:59:59.999'", "TIMESTAMP '1970-01-01 00:00:00'",
            "TIMESTAMP '1677-09-21 00:12:44'", "TIMESTAMP '2262-04-11 23:47:16.854775807'", "TIMESTAMP '9999-12-31 23:59:59'",
            "TIMESTAMP '0001-01-01 00:00:00'", "TIMESTAMP '2024-13-01 00:00:00'", "DATE '2024-01-01'",
            "CAST('2024-06-01 12:00:00' AS TIMESTAMP(3))", "CAST(NULL AS TIMESTAMP(3))",
        ]
    ),
    "INTERVAL": st.sampled_from(
        [
            "INTERVAL '1' DAY", "INTERVAL '1' SECOND", "INTERVAL '0' SECOND", "INTERVAL '-1' HOUR",
            "INTERVAL '100000' DAY", "INTERVAL '1' MONTH", "INTERVAL '1.5' SECOND", "INTERVAL '2147483647' YEAR",
            "INTERVAL '1 day 2 hours'", "INTERVAL '9223372036854775807' MILLISECOND", "INTERVAL '1' MILLISECOND",
        ]
    ),
    "FIELD": st.sampled_from(
        ["YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "EPOCH", "DOW", "DOY", "QUARTER", "WEEK", "MILLISECOND", "NANOSECOND", "CENTURY"]
    ),
    "PART": st.sampled_from(
        ["year", "month", "day", "hour", "minute", "second", "week", "quarter", "millisecond", "microsecond", "decade", "nope", ""]
    ),
    "CMP": st.sampled_from([" = ", " <> ", " < ", " <= ", " > ", " >= ", " != ", " IS DISTINCT FROM "]),
    "SETOP": st.sampled_from(
        [" UNION ", " UNION ALL ", " EXCEPT ", " INTERSECT ", " EXCEPT ALL ", " INTERSECT ALL ", " UNION DISTINCT "]
    ),
    "JOIN": st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "INNER JOIN", "LEFT OUTER JOIN", "FULL OUTER JOIN"]),
    "SEMIJOIN": st.sampled_from(["LEFT SEMI JOIN", "LEFT ANTI JOIN", "RIGHT SEMI JOIN", "RIGHT ANTI JOIN"]),
    "TABLE": st.sampled_from(TABLES * 8 + ["files", "T1", "nope"]),
    "ALIAS": st.sampled_from(["c", "total", '"Weird Name"', '"日本"', '""""', '"a""b"', "k"]),
    # Mostly real columns: an expression names several, and one unknown name fails the query.
    "NCOL": st.sampled_from(["i", "n", "x", "d"] * 12 + ["nope", '"I"', "t.i", "NULL", "CAST(NULL AS INT)", "CAST(NULL AS DECIMAL(10,2))"]),
    "SCOL": st.sampled_from(["s"] * 12 + ["nope", "NULL"]),
    "BCOL": st.sampled_from(["b"] * 12 + ["nope", "NULL"]),
    "TSCOL": st.sampled_from(["ts"] * 4 + ["t.ts"]),
    "BOOL": st.sampled_from(["TRUE", "FALSE", "NULL"]),
    "COMMENT": st.text(max_size=20).map(lambda c: c.replace("\n", " ").replace("\r", " ").replace("*/", "* /")),
}

SQL = from_lark(lark.Lark(GRAMMAR, start="start"), start="start", explicit=EXPLICIT)

# ---------------------------------------------------------------------------------------------
# Cells the grammar describes poorly: streams, magics, nesting, DDL, garbage.

STREAM_DURATION = st.sampled_from(["20s"] * 6 + ["5s", "1s", "0s", "1ms", "2s 500ms", "10000000000 years", "18446744073709551615s"])
STREAM_REFRESH = st.sampled_from(["100ms", "500ms", "1s", "0ms", "1ns", "10years", "1h", "abc", "-1s", ""])
# Window sizes: mostly valid, some zero, negative, huge, tiny or month-long.
SIZES = ["INTERVAL '1' SECOND", "INTERVAL '2' SECOND", "INTERVAL '10' SECOND", "INTERVAL '500' MILLISECOND",
         "INTERVAL '1' MINUTE", "INTERVAL '1' HOUR", "INTERVAL '1' DAY"] * 3 + [
         "INTERVAL '0' SECOND", "INTERVAL '-1' SECOND", "INTERVAL '100000' DAY", "INTERVAL '1' MILLISECOND",
         "INTERVAL '1' MONTH", "INTERVAL '3' SECOND", "INTERVAL '7' MILLISECOND"]


@st.composite
def stream_option_line(draw, allow_background: bool = True, duration=STREAM_DURATION) -> str:
    parts = ["%sql", "--duration", repr(draw(duration))]
    if draw(st.booleans()):
        parts += ["--refresh", repr(draw(STREAM_REFRESH))]
    if draw(st.booleans()):
        parts += ["--mode", draw(st.sampled_from(["append", "update", "changelog", "single", "bogus", "APPEND"]))]
    if draw(st.integers(0, 4)) == 0:
        parts += ["--max-rows", draw(st.sampled_from(["0", "1", "5", "18446744073709551615", "99999999999999999999999", "=-1"]))]
    if draw(st.integers(0, 4)) == 0:
        parts += ["--chart", draw(st.sampled_from(["line", "bar", "auto", "arc", "histogram", "nope"]))]
        parts += ["--x", draw(st.sampled_from(["window_start", "user_id", "nope"]))]
        parts += ["--y", draw(st.sampled_from(["c", "user_id", "nope"]))]
    if allow_background and draw(st.integers(0, 5)) == 0:
        parts.append("--background")
    return " ".join(parts)


@st.composite
def window_query(draw, table: str = "clicks", key: str = "user_id", value: str = "user_id", text: str = "url") -> str:
    size = draw(st.sampled_from(SIZES))
    small = draw(st.sampled_from(SIZES))
    tvf = draw(
        st.sampled_from(
            [
                f"TUMBLE(TABLE {table}, DESCRIPTOR(ts), {size})",
                f"TUMBLE(TABLE {table}, DESCRIPTOR(ts), {size})",
                f"TUMBLE(TABLE {table}, DESCRIPTOR(ts), {small})",
                f"HOP(TABLE {table}, DESCRIPTOR(ts), {small}, {size})",
                f"HOP(TABLE {table}, DESCRIPTOR(ts), {small}, {small})",
                f"CUMULATE(TABLE {table}, DESCRIPTOR(ts), {small}, {size})",
                f"SESSION(TABLE {table} PARTITION BY {key}, DESCRIPTOR(ts), {small})",
                f"SESSION(TABLE {table} PARTITION BY {key}, DESCRIPTOR(ts), {size})",
                f"TUMBLE(TABLE {table}, DESCRIPTOR({key}), {size})",
                f"TUMBLE(DATA => TABLE {table}, TIMECOL => DESCRIPTOR(ts), SIZE => {size})",
                f"TUMBLE(TABLE {table}, DESCRIPTOR(ts))",
            ]
        )
    )
    aggs = draw(
        st.lists(
            st.sampled_from(
                [
                    "COUNT(*) AS c", f"COUNT(DISTINCT {key}) AS users", f"SUM({value}) AS total", f"MAX({text}) AS top",
                    "MIN(ts) AS first_ts", f"AVG({value}) AS mean", f"STRING_AGG({text}, ',') AS texts",
                    f"SUM({value}) FILTER (WHERE {value} > 3) AS big", "MAX(window_time) AS wt",
                ]
            ),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    keys = ["window_start", "window_end"]
    if draw(st.booleans()):
        keys.append(key)
    if draw(st.integers(0, 6)) == 0:
        keys = draw(st.sampled_from([["window_start"], ["window_end"], [key], ["window_start", "window_end", "window_time"]]))
    where = draw(st.sampled_from(["", "", f" WHERE {key} > 2", f" WHERE {text} LIKE 'a%'", f" WHERE {value} / 0 > 1", " WHERE ts > TIMESTAMP '2024-01-01 00:00:05'"]))
    having = draw(st.sampled_from(["", "", "", " HAVING COUNT(*) > 3"]))
    order = draw(st.sampled_from(["", "", " ORDER BY window_start", " ORDER BY 1 DESC LIMIT 3"]))
    select = ", ".join(keys + aggs)
    return f"SELECT {select}\nFROM TABLE({tvf}){where}\nGROUP BY {', '.join(keys)}{having}{order}"


@st.composite
def plain_stream_query(draw) -> str:
    return draw(
        st.sampled_from(
            [
                "SELECT user_id, COUNT(*) AS c FROM clicks GROUP BY user_id",
                "SELECT * FROM clicks WHERE user_id > 5",
                "SELECT url, ts FROM clicks WHERE url LIKE 'a%'",
                "SELECT COUNT(*) AS c FROM clicks",
                "SELECT c.user_id, t2.s FROM clicks AS c JOIN t2 ON c.user_id = t2.i",
                "SELECT c.user_id, t2.s FROM clicks AS c LEFT JOIN t2 ON c.user_id = t2.i",
                "SELECT * FROM clicks ORDER BY ts LIMIT 5",
                "SELECT user_id, MAX(ts) AS last_ts FROM clicks GROUP BY user_id HAVING COUNT(*) > 10",
                "SELECT DISTINCT user_id FROM clicks",
                "SELECT user_id, ts, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM clicks",
                "SELECT * FROM clicks AS a JOIN clicks AS b ON a.user_id = b.user_id",
                "SELECT * FROM clicks UNION ALL SELECT * FROM clicks",
                "SELECT user_id / 0 AS boom FROM clicks",
                "SELECT CAST(url AS INT) AS n FROM clicks",
                "SELECT * FROM (SELECT user_id, COUNT(*) AS c FROM clicks GROUP BY user_id) WHERE c > 5",
                "INSERT INTO t0 SELECT * FROM clicks",
                "SELECT COUNT(*) FROM clicks GROUP BY user_id, url, ts",
            ]
        )
    )


@st.composite
def datagen_ddl(draw) -> str:
    """A datagen table `gen` with random (often bad) options, always with a row bound."""
    options = {
        "connector": "datagen",
        "number-of-rows": draw(st.sampled_from(["10", "200", "1000"] * 3 + ["0", "1", "-1", "abc", "18446744073709551616"])),
        "rows-per-second": draw(st.sampled_from(["100000"] * 10 + ["1e9", "1000000000", "0", "-5", "abc", "NaN", "inf", "1e-300", "0.5"])),
    }
    if draw(st.booleans()):
        options["seed"] = draw(st.sampled_from(["1", "0", "18446744073709551615", "-1", "x"]))
    field_options = [
        ("fields.k.kind", ["random", "sequence", "bogus"]),
        ("fields.k.min", ["0", "1", "-2147483648", "2147483647", "10", "x"]),
        ("fields.k.max", ["0", "9", "-5", "2147483647", "99999999999", "1.5"]),
        ("fields.k.start", ["0", "1", "2147483640"]),
        ("fields.k.end", ["0", "5", "2147483647", "-1"]),
        ("fields.k.null-rate", ["0", "0.5", "1", "2", "-1"]),
        ("fields.v.min", ["0", "-1e308", "1e308", "NaN"]),
        ("fields.v.max", ["1", "1e308", "-1e308", "inf"]),
        ("fields.s.length", ["0", "1", "10", "1000", "-1", "x"]),
        ("fields.s.var-len", ["true", "false", "maybe"]),
        ("fields.s.kind", ["random", "sequence"]),
        ("fields.s.start", ["1", "a"]),
        ("fields.s.end", ["3", "z"]),
        ("fields.ts.kind", ["sequence", "random", "sequence", "bogus"]),
        ("fields.ts.start", ["2024-01-01 00:00:00", "1970-01-01 00:00:00", "9999-12-31 23:59:59", "0001-01-01 00:00:00", "yesterday", "2262-04-11 23:47:16"]),
        ("fields.ts.step", ["100 ms", "1 s", "0 ms", "-1 s", "100000000 days", "1 ns", "x"]),
        ("fields.ts.max-past", ["0 s", "5 s", "-1 s", "100000 days"]),
    ]
    # Unknown keys, or a key for a column of another type, once in a while.
    field_options = field_options * 4 + [("fields.nope.kind", ["random"]), ("fields.k.length", ["3"]), ("nope", ["1"])]
    for key, values in draw(st.lists(st.sampled_from(field_options), max_size=4, unique_by=lambda kv: kv[0])):
        options[key] = draw(st.sampled_from(values))
    if draw(st.booleans()):
        options.setdefault("fields.ts.kind", "sequence")
        options.setdefault("fields.ts.start", "2024-01-01 00:00:00")
        options.setdefault("fields.ts.step", "100 ms")
    watermark = draw(st.sampled_from(["ts - INTERVAL '5' SECOND"] * 4 + ["ts", "ts - INTERVAL '0' SECOND", "ts + INTERVAL '1' DAY", "k", "ts - INTERVAL '100000' DAY"]))
    with_list = ",\n  ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in options.items())
    return (
        "DROP TABLE IF EXISTS gen;\n"
        f"CREATE TABLE gen (\n  k INT,\n  v DOUBLE,\n  s STRING,\n  ts TIMESTAMP(3),\n  WATERMARK FOR ts AS {watermark}\n"
        f") WITH (\n  {with_list}\n)"
    )


@st.composite
def stream_cells(draw) -> str:
    which = draw(st.integers(0, 9))
    if which <= 4:
        return draw(stream_option_line()) + "\n" + draw(window_query())
    if which <= 6:
        return draw(stream_option_line()) + "\n" + draw(plain_stream_query())
    if which <= 8:
        # A fresh random datagen table and a query over it, in one cell; no --background
        # (its rate may be tiny), and a short duration.
        ddl = draw(datagen_ddl())
        if draw(st.booleans()):
            return ddl
        line = draw(stream_option_line(allow_background=False, duration=st.just("3s")))
        return line + "\n" + ddl + ";\n" + draw(window_query(table="gen", key="k", value="v", text="s"))
    return draw(st.sampled_from(["%jobs", "%cancel all", "%cancel 1", "%cancel 999", "%cancel x", "%cancel", "%table clicks", "DESCRIBE clicks", "SHOW TABLES",
                                 # No cluster listens: connecting fails at once, and the session goes on.
                                 "%connect", "%connect df://127.0.0.1:1", "%connect df://", "%connect flink://127.0.0.1:1", "%disconnect"]))


CHART_QUERY = "SELECT s AS k, SUM(x) AS v, b AS c, ts, i FROM t1 GROUP BY s, b, ts, i"


@st.composite
def magic_cells(draw) -> str:
    which = draw(st.integers(0, 13))
    word = st.sampled_from(["k", "v", "c", "ts", "i", "nope", "''", "'k v'", "--x", "日本"])
    if which == 0:
        opts = ["--chart", draw(st.sampled_from(["bar", "line", "area", "point", "arc", "histogram", "auto", "pie", "nope", "''"]))]
        for flag in ("--x", "--y", "--color"):
            if draw(st.booleans()):
                opts += [flag, draw(word)]
        if draw(st.booleans()):
            opts += ["--title", draw(st.sampled_from(["'A title'", '"q\\"uote"', "'日本 🙂'", "''", "'unterminated", "x" * 200]))]
        query = draw(st.sampled_from([CHART_QUERY, "SELECT 1 AS k, 2 AS v", "SELECT * FROM t0", "SELECT NULL AS k, NULL AS v", "SELECT i AS k, x AS v FROM t1"]))
        return "%sql " + " ".join(opts) + "\n" + query
    if which == 1:
        tokens = st.sampled_from(
            ["--help", "-h", "--max-rows", "3", "--max-rows=0", "--nope", "'", '"', "--mode", "single", "--background",
             "--refresh", "1s", "--duration", "--", "-", "--chart=bar", "--x", "i", "日本", "\\", "--title='x y'"]
        )
        line = " ".join(draw(st.lists(tokens, max_size=5)))
        return f"%sql {line}\n" + draw(st.sampled_from(["SELECT * FROM t1", "SELECT 1", "", "SELECT * FROM t2 ORDER BY 1"]))
    if which == 2:
        name = draw(st.sampled_from(TABLES + ["clicks", "files", "nope", "t1 extra", '"t1"', "", "T1", "t1;", "information_schema.tables", "gen", "csv_t"]))
        opts = draw(st.sampled_from(["", " --chart bar --x i --y x", " --chart auto", " --help", " --chart nope", " --x", " --max-rows 1"]))
        return f"%table {name}{opts}"
    if which == 3:
        # Not t1/t2/clicks: replacing them would leave the rest of the run without its tables.
        name = draw(st.sampled_from(["csv_t", "csv_u", "tmp1", "tmp1_v", "nope nope", "日本", "csv_t extra"]))
        header = draw(st.sampled_from(["a,b,c", "a", "a,a", "", "a;b", '"a,b",c', "x,y\r"]))
        lines = draw(st.lists(st.sampled_from(["1,2,3", "1,2", "x,y,z", "", ",,", '"q""x",1,2', "1.5,NaN,inf", "\x00,\x01,\x02", "日本,🙂,é", "1,2,3,4"]) | st.text(max_size=15), max_size=6))
        return f"%table {name}\n" + "\n".join([header] + lines)
    if which == 4:
        name = draw(st.sampled_from(["year", "x", "s", "bad name", "", "1abc", "ü", "a.b"]))
        value = draw(st.sampled_from(["2019", "'quoted'", '"dq"', "", "O'Brien", "${year}", "1; DROP TABLE t1", "日本", "x" * 500]) | st.text(max_size=10))
        return f"%set {name}={value}" if draw(st.integers(0, 5)) else draw(st.sampled_from(["%set", "%set nothing", "%set =1"]))
    if which == 5:
        uses = draw(st.sampled_from(["SELECT ${year}", "SELECT ${year=2019} AS y", "SELECT * FROM t1 WHERE s = ${s}", "SELECT ${nope}", "SELECT ${", "SELECT ${x=}", "SELECT '${year}'", "SELECT ${year} + ${year}", "SELECT $${year}", "SELECT ${ year }"]))
        return uses
    if which == 6:
        setting = draw(
            st.sampled_from(
                ["max_rows=5", "max_rows=1", "max_rows=1000", "max_rows=0", "max_rows=-1", "max_rows=18446744073709551616",
                 "max_rows=abc", "progress_after_ms=0", "progress_after_ms=100", "progress_after_ms=2000",
                 "progress_after_ms=18446744073709551615", "progress_after_ms=-1", "memory_limit=1GB", "nope=1",
                 "garbage", "=", "max_rows", " max_rows = 7 "]
            )
        )
        return "%config" if draw(st.integers(0, 4)) == 0 else f"%config {setting}"
    if which == 7:
        body = draw(st.sampled_from(["# Title", "**bold** ${year}", "<script>alert(1)</script>", "${nope}", "| a | b |\n|---|---|\n| 1 | 2 |", "", "```\ncode\n```", "[link](javascript:alert(1))"]) | st.text(max_size=40))
        return draw(st.sampled_from(["%md ", "%md\n", "%markdown\n", "%md"])) + body
    if which == 8:
        return draw(st.sampled_from(["%foo", "%%sql\nSELECT 1", "%", "%%", "% sql\nSELECT 1", "%SQL\nSELECT 1", "%python print(1)", "%%%sql", "%sql\n%sql\nSELECT 1", "  %lsmagic", "\n\n%jobs", "%lsmagic extra", "%md%md", "%table\nCSV", "%set\n"]))
    if which == 9:
        return draw(st.sampled_from(["%lsmagic", "%jobs", "%cancel all", "%cancel", "%cancel 0", "%cancel -1", "%cancel 1 2", "%cancel 18446744073709551616"]))
    if which == 10:
        return "%sql --max-rows " + draw(st.sampled_from(["0", "1", "2", "18446744073709551615"])) + "\nSELECT * FROM t1; SELECT * FROM t2"
    if which == 11:
        return "%sql\n" + draw(SQL)
    if which == 12:
        return "%sql --duration " + draw(STREAM_DURATION) + "\n" + draw(SQL)
    return "%%sql --chart bar --x k --y v\n" + CHART_QUERY


@st.composite
def deep_cells(draw) -> str:
    """Nesting well below the recursion limits (depth < 200; the kernel has a separate cap)."""
    which = draw(st.integers(0, 9))
    k = draw(st.integers(1, 120))
    if which == 0:
        return "SELECT " + "(" * k + "1" + ")" * k
    if which == 1:
        # Planning time doubles with each nested scalar subquery (DataFusion's optimizer):
        # depth 16 takes 5 s in a debug build, 21 over a minute. Kept where it is quick, so
        # that a loaded machine does not turn it into a timeout.
        k = min(k, 12)
        return "SELECT " + "(SELECT " * k + "1" + ")" * k
    if which == 2:
        k = min(k, 50)
        return "SELECT " + "CASE WHEN TRUE THEN " * k + "1" + " END" * k
    if which == 3:
        return "SELECT " + "ABS(" * k + "-1" + ")" * k
    if which == 4:
        return "SELECT " + " + ".join(["1"] * k)
    if which == 5:
        return "SELECT " + "NOT " * k + "TRUE"
    if which == 6:
        return "SELECT 1;" * min(k, 60)
    if which == 7:
        return "SELECT " + ", ".join(f"{j} AS c{j}" for j in range(k * 8))
    if which == 8:
        return "SELECT 1 IN (" + ", ".join(str(j) for j in range(k * 16)) + ")"
    k = min(k, 20)
    inner = "SELECT * FROM t1"
    for j in range(k):
        inner = f"SELECT * FROM ({inner}) AS q{j} WHERE i IS NOT NULL OR i IS NULL"
    return inner


@st.composite
def ddl_cells(draw) -> str:
    name = draw(st.sampled_from(["tmp1", "tmp2", "tmp3"]))
    which = draw(st.integers(0, 11))
    if which == 0:
        return f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} AS " + draw(SQL).split(";")[0]
    if which == 1:
        return f"CREATE OR REPLACE VIEW {name}_v AS " + draw(SQL).split(";")[0]
    if which == 2:
        return draw(st.sampled_from([f"DROP TABLE {name}", f"DROP VIEW {name}_v", f"DROP TABLE IF EXISTS {name}", "DROP TABLE nope", "DROP VIEW v1_nope"]))
    if which == 3:
        return f"INSERT INTO {name} " + draw(st.sampled_from(["SELECT * FROM t1", "SELECT * FROM t2 LIMIT 1", "VALUES (1)", "SELECT 1, 2, 3, 4, 5, 6, 7"]))
    if which == 4:
        path = draw(st.sampled_from(list(FILES) + ["bin.csv", "dir", "dir/*.csv", "nope.csv", "", ".", "/proc/self/status", "good.csv/", "*"]))
        fmt = draw(st.sampled_from(["csv", "csv", "json", "parquet", "avro", "nope"]))
        extra = draw(
            st.lists(
                st.sampled_from(
                    ["'csv.ignore-parse-errors' = 'true'", "'csv.header' = 'false'", "'csv.field-delimiter' = ';'",
                     "'csv.field-delimiter' = ''", "'csv.field-delimiter' = 'ab'", "'csv.quote-character' = ''",
                     "'csv.escape-character' = '\\'", "'csv.null-literal' = ''", "'csv.allow-comments' = 'true'",
                     "'csv.field-delimiter' = '日'", "'nope' = '1'", "'source.monitor-interval' = '1 s'",
                     "'source.replay-speed' = '0'", "'csv.ignore-parse-errors' = 'maybe'"]
                ),
                max_size=3,
                unique=True,
            )
        )
        options = ", ".join([f"'connector' = 'filesystem'", f"'path' = {sql_string(path)}", f"'format' = '{fmt}'"] + extra)
        cols = draw(st.sampled_from(["i INT, s STRING, x DOUBLE", "i BIGINT", "i INT, s STRING, x DOUBLE, y DATE", "s STRING, i INT, x DECIMAL(3,2)", "i TIMESTAMP(3)"]))
        query = draw(st.sampled_from(["SELECT * FROM f", "SELECT COUNT(*) FROM f", "SELECT s, SUM(x) FROM f GROUP BY s", "SELECT * FROM f LIMIT 1"]))
        duration = "%sql --duration 5s\n" if "monitor" in options or "replay" in options else ""
        return f"{duration}DROP TABLE IF EXISTS f;\nCREATE TABLE f ({cols}) WITH ({options});\n{query}"
    if which == 5:
        return draw(st.sampled_from(["CACHE TABLE t1", "UNCACHE TABLE t1", "CACHE TABLE files", "UNCACHE TABLE files", "CACHE TABLE nope", "CACHE TABLE clicks", "CACHE TABLE v1", "UNCACHE TABLE t2"]))
    if which == 6:
        return draw(st.sampled_from(["SHOW TABLES", "DESCRIBE t1", "DESCRIBE nope", "SHOW COLUMNS FROM t1", "SHOW ALL", "SELECT * FROM information_schema.tables", "SHOW CREATE TABLE t1", "DESCRIBE clicks", "SHOW FUNCTIONS"]))
    if which == 7:
        fmt = draw(st.sampled_from(["csv", "json", "parquet", "arrow", "nope"]))
        return f"COPY (SELECT * FROM t1) TO 'out/{name}.{fmt}' STORED AS {fmt.upper()}"
    if which == 8:
        return draw(st.sampled_from(["CREATE TABLE t1 AS SELECT 1", "CREATE TABLE IF NOT EXISTS t1 AS SELECT 1", "CREATE TABLE x (a INT)", "CREATE TABLE x (a INT) WITH ()", "CREATE TABLE x (a NOPE) WITH ('connector' = 'datagen')", "CREATE TABLE x (a INT, WATERMARK FOR a AS a) WITH ('connector' = 'datagen')", "CREATE TABLE x (a INT) WITH ('connector' = 'socket', 'hostname' = 'localhost', 'port' = '1')", "CREATE TABLE x (a INT) WITH ('connector' = 'kafka')", "CREATE TEMPORARY TABLE x (a INT)", "ALTER TABLE t1 ADD COLUMN z INT", "TRUNCATE TABLE t1"]))
    if which == 9:
        return draw(st.sampled_from(["SET x = 1", "SET datafusion.nope = 1", "SET TIME ZONE 'UTC'", "RESET ALL", "BEGIN", "COMMIT", "ROLLBACK", "PREPARE p AS SELECT $1", "EXECUTE p(1)", "DEALLOCATE p", "CREATE FUNCTION f() RETURNS INT RETURN 1", "USE nope", "CREATE SCHEMA s1", "CREATE DATABASE db1", "ANALYZE TABLE t1"]))
    if which == 10:
        return f"DROP TABLE IF EXISTS {name};\nCREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in COLUMNS.items())}) WITH ('connector' = 'datagen', 'number-of-rows' = '{draw(st.sampled_from(['0', '5', '100']))}');\nSELECT * FROM {name}"
    return "EXPLAIN " + draw(SQL).split(";")[0]


SQL_TOKENS = ["(", ")", "'", '"', ";", "--", "/*", "*/", "${", "%", "SELECT", ",", "\n", "\x00", "\\", "é", "🙂", "FROM", "NULL", "`", "[", "]", "::", "$1", "?", "E'", "\u2028", "\r"]


@st.composite
def garbage_cells(draw) -> str:
    which = draw(st.integers(0, 6))
    if which == 0:
        return draw(st.text(max_size=200))
    if which == 1:
        data = draw(st.binary(max_size=200))
        return data.decode(draw(st.sampled_from(["latin-1", "utf-8"])), "replace") if data else ""
    if which == 2:
        return draw(st.sampled_from(["", " ", "\n\n", ";", ";;;", "--", "/*", "/* unterminated", "'", '"', "\x00", "SELECT", "SELECT 'abc", "\ufeffSELECT 1", "SELECT\u00a01", "ＳＥＬＥＣＴ 1", "SELECT 1 --\u2028 2", "\r\nSELECT 1\r\n"]))
    # Mutated grammar SQL: a few edits at random positions.
    text = draw(SQL)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        edit = draw(st.integers(0, 3))
        if edit == 0:
            text = text[:pos] + draw(st.sampled_from(SQL_TOKENS)) + text[pos:]
        elif edit == 1:
            end = draw(st.integers(pos, min(len(text), pos + 10)))
            text = text[:pos] + text[end:]
        elif edit == 2:
            text = text[:pos] + text[pos : pos + 8] + text[pos:]
        else:
            text = text[:pos]
    return text


@dataclasses.dataclass
class FuzzCell:
    kind: str
    code: str
    user_expressions: dict[str, str]
    probes: list[tuple[str, int]]


# Kinds and their weights (out of 100).
KINDS = [("sql", 42), ("stream", 12), ("magic", 17), ("deep", 7), ("ddl", 10), ("garbage", 12)]
KIND_STRATEGIES = {
    "sql": SQL,
    "stream": stream_cells(),
    "magic": magic_cells(),
    "deep": deep_cells(),
    "ddl": ddl_cells(),
    "garbage": garbage_cells(),
}


@st.composite
def fuzz_cells(draw) -> FuzzCell:
    roll = draw(st.integers(0, sum(w for _, w in KINDS) - 1))
    for kind, weight in KINDS:
        if roll < weight:
            break
        roll -= weight
    code = draw(KIND_STRATEGIES[kind])
    user_expressions = {}
    if draw(st.integers(0, 9)) == 0:
        user_expressions = {"e": draw(st.sampled_from(["1 + 1", "(SELECT COUNT(*) FROM t1)", "nope", "1/0", "", "'日本'", "1; DROP TABLE t1"]))}
    probes = []
    length = len(code)  # code points: what cursor_pos counts
    for _ in range(draw(st.integers(0, 3))):
        request = draw(st.sampled_from(["complete", "complete", "inspect", "is_complete"]))
        pos = draw(st.integers(0, length)) if draw(st.integers(0, 19)) else draw(st.sampled_from([length + 1, length + 100]))
        probes.append((request, pos))
    return FuzzCell(kind, code, user_expressions, probes)


# ---------------------------------------------------------------------------------------------
# The run.

BUG_ENAMES = ("InternalError", "Panic", "panic")

# What a caught panic says (kernel/src/error.rs, engine/src/stream/mod.rs).
PANIC_MARKER = "Eddy hit a bug"

# Panics in DataFusion's own functions, found by this fuzzer and contained (the cell fails
# with InternalError, the session stays: tests/kernel_limits.rs checks each reproducer). They
# are counted in the summary, not failed on, so that the test fails on new panics only. Each
# entry: what the cell contains, what the panic says, and where it comes from.
KNOWN_UPSTREAM_PANICS = [
    (r"[LR]PAD\(", "capacity overflow", "DataFusion lpad/rpad: a negative length with a column as fill"),
    (r"DATE_TRUNC\(", "overflow", "DataFusion date_trunc: a timestamp near the nanosecond range's ends"),
    (r"(?s)DISTINCT.*(LIMIT|OFFSET)", "multiply with overflow", "DataFusion: LIMIT/OFFSET near 2^63 over a DISTINCT"),
]


def known_upstream_panic(cell: str, evalue: str) -> str | None:
    for cell_pattern, message, origin in KNOWN_UPSTREAM_PANICS:
        if re.search(cell_pattern, cell) and message in evalue:
            return origin
    return None


@dataclasses.dataclass
class Problem:
    what: str
    cell: str
    detail: str

    def __str__(self) -> str:
        return f"{self.what}\n  cell: {self.cell!r}\n  {textwrap.indent(self.detail, '  ').strip()}"


class FuzzRun:
    def __init__(self, tmp_path, say):
        self.tmp_path = tmp_path
        self.say = say
        self.trace = open(LOG, "w") if LOG else None
        self.cwd = tmp_path / "notebook"
        self.cwd.mkdir()
        for name, text in FILES.items():
            path = self.cwd / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (self.cwd / "bin.csv").write_bytes(bytes(random.Random(SEED).randbytes(512)))
        (self.cwd / "out").mkdir()
        self.log = tmp_path / "kernel.log"
        self.kernel: KernelDriver | None = None
        self.cells = 0
        self.by_kind: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.enames: collections.Counter[str] = collections.Counter()
        self.probe_counts: collections.Counter[str] = collections.Counter()
        self.skipped_inputs = 0
        self.restarts = 0
        self.problems: list[Problem] = []
        self.upstream: collections.Counter[str] = collections.Counter()
        self.slowest: tuple[float, str] = (0.0, "")
        self.start()

    def start(self) -> None:
        if self.kernel is not None:
            try:
                self.kernel.shutdown()
            except Exception:
                pass
            self.restarts += 1
        self.kernel = KernelDriver(self.cwd, self.log)
        for code in SETUP:
            run = self.kernel.execute(code, timeout=120)
            assert run.status == "ok", f"setup cell failed: {code}\n{run.reply['content']}"

    def bug(self, ename: str, kind: str, cell: str, evalue: str) -> None:
        """An InternalError: a new panic fails the run; a known one of DataFusion's, and
        DataFusion's own internal errors (errors, not panics: the cell fails with a message,
        the session is untouched), are counted and shown in the summary."""
        if PANIC_MARKER not in evalue:
            self.upstream[f"DataFusion internal error: {evalue[:90]}"] += 1
            return
        origin = known_upstream_panic(cell, evalue)
        if origin is not None:
            self.upstream[f"known panic, {origin}"] += 1
            return
        self.problem(f"{ename} ({kind} cell)", cell, evalue[:2000])

    def problem(self, what: str, cell: str, detail: str) -> None:
        self.problems.append(Problem(what, cell, detail))
        self.say(f"\n!!! {what}: {cell!r}\n{detail[:1000]}")

    def died(self, cell: str, why: str, log_from: int) -> None:
        """A request got no reply (or the process exited): record it with what the kernel
        logged meanwhile, and start a fresh kernel so that the run goes on."""
        kernel = self.kernel
        assert kernel is not None
        alive = kernel.is_alive()
        state = "the kernel process is alive" if alive else f"the kernel process died (exit code {kernel.exit_code()})"
        hb = kernel.heartbeat(timeout=2) if alive else None
        state += f"; heartbeat {'answered' if hb is not None else 'did not answer'}"
        log = kernel.log_tail(3000, since=log_from) or "(nothing)"
        self.problem(f"{why}; {state}", cell, "kernel log meanwhile:\n" + log)
        if self.trace:
            self.trace.write(json.dumps({"kind": "?", "code": cell, "status": "no reply", "why": why}, ensure_ascii=False) + "\n")
        self.start()

    def run_cell(self, cell: FuzzCell) -> None:
        kernel = self.kernel
        assert kernel is not None
        self.cells += 1
        self.by_kind[cell.kind] += 1
        log_from = kernel.log_size()
        try:
            run = kernel.execute(cell.code, timeout=CELL_TIMEOUT, user_expressions=cell.user_expressions)
        except NoReply as error:
            self.died(cell.code, f"no reply to a {cell.kind} cell ({error})", log_from)
            return
        self.check_reply(cell, run)
        if self.trace:
            record = {"kind": cell.kind, "code": cell.code, "status": run.status, "ename": run.ename, "evalue": run.evalue[:500], "seconds": round(run.seconds, 3)}
            self.trace.write(json.dumps(record, ensure_ascii=False) + "\n")
        for request, pos in cell.probes:
            if not self.probe(cell.code, request, pos):
                return
        if not kernel.is_alive():
            self.died(cell.code, "the kernel exited after a cell", log_from)

    def check_reply(self, cell: FuzzCell, run: CellRun) -> None:
        if run.seconds > self.slowest[0]:
            self.slowest = (run.seconds, cell.code)
        status = run.status
        self.statuses[status] += 1
        errors = run.outputs("error")
        if status == "ok":
            if errors:
                self.problem("an ok reply came with an iopub error", cell.code, json.dumps(errors[0]["content"])[:500])
        elif status == "error":
            ename, evalue = run.ename, run.evalue
            self.enames[ename] += 1
            if len(errors) != 1:
                self.problem(f"{len(errors)} iopub error messages for one error reply", cell.code, json.dumps(run.reply["content"])[:500])
            elif (errors[0]["content"].get("ename"), errors[0]["content"].get("evalue")) != (ename, evalue):
                self.problem("the iopub error differs from the reply", cell.code, f"{errors[0]['content']}\n{run.reply['content']}")
            if not ename or not evalue:
                self.problem("an error with an empty ename or evalue", cell.code, json.dumps(run.reply["content"])[:500])
            if any(marker in ename for marker in BUG_ENAMES):
                self.bug(ename, cell.kind, cell.code, evalue)
        else:
            self.problem(f"execute_reply status {status!r}", cell.code, json.dumps(run.reply["content"])[:500])
        for name, value in run.reply["content"].get("user_expressions", {}).items():
            if value.get("status") not in ("ok", "error"):
                self.problem("a user expression without a status", cell.code, json.dumps(value)[:500])
            elif value.get("status") == "error" and any(m in value.get("ename", "") for m in BUG_ENAMES):
                self.problem(f"user expression {cell.user_expressions[name]!r}: {value['ename']}", cell.code, value.get("evalue", "")[:2000])

    def probe(self, code: str, request: str, pos: int) -> bool:
        """One complete/inspect/is_complete request; False if it got no reply."""
        kernel = self.kernel
        assert kernel is not None
        self.probe_counts[request] += 1
        in_range = pos <= len(code)
        log_from = kernel.log_size()
        try:
            if request == "complete":
                reply = kernel.complete(code, pos)
            elif request == "inspect":
                reply = kernel.inspect(code, pos, detail_level=pos % 2)
            else:
                reply = kernel.is_complete(code)
        except NoReply as error:
            self.died(code, f"no reply to {request}_request at cursor_pos {pos} ({error})", log_from)
            return False
        self.check_probe(code, request, pos, in_range, reply["content"])
        return True

    def check_probe(self, code: str, request: str, pos: int, in_range: bool, content: dict) -> None:
        where = f"{request}_request at cursor_pos {pos} of {len(code)}"
        status = content.get("status")
        if status == "error":
            ename = content.get("ename", "")
            if any(m in ename for m in BUG_ENAMES) or in_range:
                self.problem(f"{where}: error reply {ename}", code, content.get("evalue", "")[:2000])
            return
        if status != "ok" and request != "is_complete":
            self.problem(f"{where}: status {status!r}", code, json.dumps(content)[:500])
            return
        if request == "complete":
            start, end = content.get("cursor_start"), content.get("cursor_end")
            if not isinstance(content.get("matches"), list) or not (
                isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= max(len(code), pos)
            ):
                self.problem(f"{where}: malformed complete_reply", code, json.dumps(content)[:500])
        elif request == "inspect":
            if not isinstance(content.get("found"), bool):
                self.problem(f"{where}: malformed inspect_reply", code, json.dumps(content)[:500])
        elif content.get("status") not in ("complete", "incomplete", "invalid", "unknown"):
            self.problem(f"{where}: is_complete status {content.get('status')!r}", code, json.dumps(content)[:500])

    def raw_invalid_utf8(self) -> None:
        """An execute_request whose content frame is not UTF-8 (not JSON at all): the kernel
        may drop it (as ipykernel does), but must live on."""
        kernel = self.kernel
        assert kernel is not None
        session = kernel.kc.session
        message = session.msg("execute_request", {"code": "SELECT 1", "silent": False})
        frames = session.serialize(message)
        # [delimiter, signature, header, parent_header, metadata, content]
        frames[5] = b'{"code": "SELECT \xff\xfe\xc0\x80", "silent": false}'
        frames[1] = session.sign(frames[2:6])
        kernel.kc.shell_channel.socket.send_multipart(frames)
        time.sleep(0.5)
        info = kernel.kernel_info()
        assert info["content"]["status"] == "ok"

    def distinct_problems(self) -> list[tuple[Problem, int]]:
        """Problems grouped by what happened and the start of the message (numbers and quoted
        text blanked), each with its shortest cell and how often it came."""
        groups: dict[str, list[Problem]] = {}
        for p in self.problems:
            key = re.sub(r"'[^']*'|\d+", "_", p.what + " " + p.detail[:80])
            groups.setdefault(key, []).append(p)
        return [(min(ps, key=lambda p: len(p.cell)), len(ps)) for ps in groups.values()]

    def summary(self, elapsed: float) -> str:
        lines = [
            f"SQL fuzz: seed {SEED}, {elapsed:.0f} s, {self.cells} cells ({self.cells / max(elapsed, 1e-9):.1f}/s)"
            f", {self.skipped_inputs} inputs skipped (needed more than {INPUT_BYTES} bytes), {self.restarts} kernel restarts",
            "  by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items())),
            "  replies: " + ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())),
            "  errors by name: " + ", ".join(f"{k} {v}" for k, v in self.enames.most_common()),
            "  probes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.probe_counts.items())),
            f"  slowest cell: {self.slowest[0]:.1f} s: {self.slowest[1][:120]!r}",
            f"  problems: {len(self.problems)} ({len(self.distinct_problems())} distinct)",
            "  contained upstream bugs (not failed on): "
            + (", ".join(f"{k} ×{v}" for k, v in self.upstream.most_common()) or "none"),
        ]
        return "\n".join(lines)


_RUN: FuzzRun | None = None


@settings(database=None, deadline=None)
@given(fuzz_cells())
def _one_cell(cell: FuzzCell) -> None:
    assert _RUN is not None
    _RUN.run_cell(cell)


def test_sql_fuzz(tmp_path, capsys):
    global _RUN

    def say(text: str) -> None:
        with capsys.disabled():  # shown as it happens, with or without -s
            print(text, flush=True)

    say(f"\nSQL fuzz: EDDY_SQL_FUZZ_SEED={SEED} EDDY_SQL_FUZZ_SECONDS={SECONDS:g}")
    run = _RUN = FuzzRun(tmp_path, say)
    rng = random.Random(SEED)
    started = time.monotonic()
    try:
        run.raw_invalid_utf8()
        while time.monotonic() - started < SECONDS:
            if _one_cell.hypothesis.fuzz_one_input(rng.randbytes(INPUT_BYTES)) is None:
                run.skipped_inputs += 1
        kernel = run.kernel
        assert kernel is not None
        kernel.execute("%cancel all", timeout=CELL_TIMEOUT)
        alive = kernel.is_alive()
        info = kernel.kernel_info()
        heartbeat = kernel.heartbeat(timeout=10)
        after = kernel.execute("SELECT 1 + 1 AS two", timeout=CELL_TIMEOUT)
    finally:
        say("\n" + run.summary(time.monotonic() - started))
        _RUN = None
        if run.trace:
            run.trace.close()
        if run.kernel is not None:
            run.kernel.shutdown()
    assert alive, "the kernel process is not alive at the end of the run"
    assert info["content"]["status"] == "ok"
    assert heartbeat is not None, "no heartbeat at the end of the run"
    assert after.status == "ok", after.reply["content"]
    distinct = run.distinct_problems()
    assert not distinct, f"{len(distinct)} distinct problems in {len(run.problems)} (seed {SEED}); the shortest cell of each:\n\n" + "\n\n".join(
        f"[{count}x] {problem}" for problem, count in distinct
    )
