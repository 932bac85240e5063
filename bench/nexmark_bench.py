"""Nexmark on Eddy, through the kernel: events per second per core for each Nexmark query Eddy
runs, beside Flink's published per-core figures.

A measurement, not a test: it prints one row per query and exits 0 whatever the figures are.
Run it through dev/bench-nexmark, which builds the release binary and installs its kernelspec
into a throwaway Jupyter path.

Each query runs as the benchmark runs it: the `nexmark` source (Nexmark's ddl_gen.sql, with
--events events, as fast as they are taken), Nexmark's views, and the query's result written
into a `blackhole` table (q10 into partitioned csv files, as Nexmark writes it). Each query gets a fresh kernel, so the peak memory printed (the
kernel's VmHWM) is that query's. Seconds run from sending the cell to its reply; events/s per
core divides the events by those seconds and by the cores the machine has (Eddy generates
and runs on all of them).

`source only` writes the events' kind into a blackhole: the cost of generating the events
and assembling the nested rows, which every query pays; its share of each query's time is
printed beside it.

Flink's figures are the nexmark/nexmark README's "Flink V1" per-core throughput (8 cores per
TaskManager, 10M events/s source). The target is at least 3x Flink per core.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import queue
import tempfile
import time

from jupyter_client.manager import KernelManager

FLINK_PER_CORE = {
    "q0": 155.0e3,
    "q1": 157.9e3,
    "q2": 175.2e3,
    "q3": 152.1e3,
    "q4": 34.3e3,
    "q5": 22.1e3,
    "q7": 12.3e3,
    "q8": 146.1e3,
    "q9": 14.2e3,
    "q10": 57.8e3,
    "q11": 39.7e3,
    "q12": 75.7e3,
    "q13": 130.7e3,
    "q14": 161.2e3,
    "q15": 72.4e3,
    "q16": 18.7e3,
    "q17": 116.8e3,
    "q18": 53.7e3,
    "q19": 44.0e3,
    "q20": 19.0e3,
    "q21": 98.5e3,
    "q22": 130.0e3,
}

ROWS = """event_type INT,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR,
        state VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
        reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT,
        category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
        `dateTime` TIMESTAMP(3), extra VARCHAR>"""

VIEWS = """CREATE VIEW person AS SELECT person.id, person.name, person.emailAddress,
    person.creditCard, person.city, person.state, `dateTime`, person.extra
    FROM datagen WHERE event_type = 0;
CREATE VIEW auction AS SELECT auction.id, auction.itemName, auction.description,
    auction.initialBid, auction.reserve, `dateTime`, auction.expires, auction.seller,
    auction.category, auction.extra FROM datagen WHERE event_type = 1;
CREATE VIEW bid AS SELECT bid.auction, bid.bidder, bid.price, bid.channel, bid.url,
    `dateTime`, bid.extra FROM datagen WHERE event_type = 2"""

# q13's side input: Nexmark reads 10,000 keys and values from a file.
SIDE_INPUT = (
    "CREATE TABLE side_input AS SELECT value AS `key`, CAST(value * 7 AS VARCHAR) AS `value` "
    "FROM generate_series(0, 9999)"
)

# q15 and q16 count bids, bidders and auctions in three price ranges.
RANK_COLUMNS = [
    f"{rank}_{what}"
    for what in ("bids", "bidders", "auctions")
    for rank in ("total", "rank1", "rank2", "rank3")
]
RANK_COUNTS = (
    "count(*) AS total_bids, "
    "count(*) FILTER (WHERE price < 10000) AS rank1_bids, "
    "count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids, "
    "count(*) FILTER (WHERE price >= 1000000) AS rank3_bids, "
    "count(DISTINCT bidder) AS total_bidders, "
    "count(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders, "
    "count(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders, "
    "count(DISTINCT bidder) FILTER (WHERE price >= 1000000) AS rank3_bidders, "
    "count(DISTINCT auction) AS total_auctions, "
    "count(DISTINCT auction) FILTER (WHERE price < 10000) AS rank1_auctions, "
    "count(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_auctions, "
    "count(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions "
)

# Queries whose result goes into files rather than a blackhole, as Nexmark writes them
# ({dir} is a temporary directory).
SINKS = {
    "q10": "PARTITIONED BY (dt, hm) WITH ('connector' = 'filesystem', 'path' = '{dir}', "
    "'format' = 'csv', 'sink.partition-commit.trigger' = 'partition-time', "
    "'partition.time-extractor.timestamp-pattern' = '$dt $hm:00', "
    "'sink.partition-commit.delay' = '1 min', 'sink.partition-commit.policy.kind' = 'success-file', "
    "'sink.rolling-policy.rollover-interval' = '1 min', 'sink.rolling-policy.check-interval' = '1 min')",
}

# name -> (the sink's columns, the query)
QUERIES = {
    "source only": ("event_type INT", "SELECT event_type FROM datagen"),
    "q0": (
        "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra VARCHAR",
        "SELECT auction, bidder, price, `dateTime`, extra FROM bid",
    ),
    "q1": (
        "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), `dateTime` TIMESTAMP(3), extra VARCHAR",
        "SELECT auction, bidder, 0.908 * price AS price, `dateTime`, extra FROM bid",
    ),
    "q2": (
        "auction BIGINT, price BIGINT",
        "SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0",
    ),
    "q3": (
        "name VARCHAR, city VARCHAR, state VARCHAR, id BIGINT",
        "SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P "
        "ON A.seller = P.id WHERE A.category = 10 "
        "AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')",
    ),
    "q4": (
        "category BIGINT, avg_final DOUBLE",
        "SELECT Q.category, AVG(Q.final) FROM (SELECT MAX(B.price) AS final, A.category "
        "FROM auction A, bid B WHERE A.id = B.auction "
        "AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires GROUP BY A.id, A.category) Q "
        "GROUP BY Q.category",
    ),
    "q5": (
        "auction BIGINT, num BIGINT",
        "SELECT AuctionBids.auction, AuctionBids.num FROM (SELECT auction, count(*) AS num, "
        "window_start AS starttime, window_end AS endtime FROM TABLE(HOP(TABLE bid, "
        "DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) "
        "GROUP BY auction, window_start, window_end) AS AuctionBids JOIN (SELECT "
        "max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM (SELECT "
        "count(*) AS num, window_start AS starttime, window_end AS endtime FROM TABLE(HOP(TABLE "
        "bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) "
        "GROUP BY auction, window_start, window_end) AS CountBids "
        "GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids "
        "ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime "
        "AND AuctionBids.num >= MaxBids.maxn",
    ),
    "q7": (
        "auction BIGINT, price BIGINT, bidder BIGINT, `dateTime` TIMESTAMP(3), extra VARCHAR",
        "SELECT B.auction, B.price, B.bidder, B.`dateTime`, B.extra FROM bid B JOIN (SELECT "
        "MAX(price) AS maxprice, window_end AS `dateTime` FROM TABLE(TUMBLE(TABLE bid, "
        "DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) GROUP BY window_start, window_end) B1 "
        "ON B.price = B1.maxprice "
        "WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '10' SECOND AND B1.`dateTime`",
    ),
    "q8": (
        "id BIGINT, name VARCHAR, stime TIMESTAMP(3)",
        "SELECT P.id, P.name, P.starttime FROM (SELECT P.id, P.name, "
        "TUMBLE_START(P.`dateTime`, INTERVAL '10' SECOND) AS starttime, "
        "TUMBLE_END(P.`dateTime`, INTERVAL '10' SECOND) AS endtime FROM person P "
        "GROUP BY P.id, P.name, TUMBLE(P.`dateTime`, INTERVAL '10' SECOND)) P JOIN (SELECT "
        "A.seller, TUMBLE_START(A.`dateTime`, INTERVAL '10' SECOND) AS starttime, "
        "TUMBLE_END(A.`dateTime`, INTERVAL '10' SECOND) AS endtime FROM auction A "
        "GROUP BY A.seller, TUMBLE(A.`dateTime`, INTERVAL '10' SECOND)) A "
        "ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime",
    ),
    "q9": (
        "id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, "
        "`dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, "
        "extra VARCHAR, auction BIGINT, bidder BIGINT, price BIGINT, bid_dateTime TIMESTAMP(3), "
        "bid_extra VARCHAR",
        "SELECT id, itemName, description, initialBid, reserve, `dateTime`, expires, seller, "
        "category, extra, auction, bidder, price, bid_dateTime, bid_extra FROM (SELECT A.*, "
        "B.auction, B.bidder, B.price, B.`dateTime` AS bid_dateTime, B.extra AS bid_extra, "
        "ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.`dateTime` ASC) AS rownum "
        "FROM auction A, bid B WHERE A.id = B.auction "
        "AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires) WHERE rownum <= 1",
    ),
    "q10": (
        "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra VARCHAR, "
        "dt STRING, hm STRING",
        "SELECT auction, bidder, price, `dateTime`, extra, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd'), "
        "DATE_FORMAT(`dateTime`, 'HH:mm') FROM bid",
    ),
    "q11": (
        "bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3)",
        "SELECT B.bidder, count(*) AS bid_count, "
        "SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) AS starttime, "
        "SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) AS endtime "
        "FROM bid B GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND)",
    ),
    "q12": (
        "bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3)",
        "SELECT B.bidder, count(*) AS bid_count, "
        "TUMBLE_START(B.p_time, INTERVAL '10' SECOND) AS starttime, "
        "TUMBLE_END(B.p_time, INTERVAL '10' SECOND) AS endtime "
        "FROM (SELECT *, PROCTIME() AS p_time FROM bid) B "
        "GROUP BY B.bidder, TUMBLE(B.p_time, INTERVAL '10' SECOND)",
    ),
    "q13": (
        "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), `value` VARCHAR",
        "SELECT B.auction, B.bidder, B.price, B.`dateTime`, S.`value` "
        "FROM (SELECT *, PROCTIME() AS p_time FROM bid) B "
        "JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S ON mod(B.auction, 10000) = S.`key`",
    ),
    # q14 calls Nexmark's Java function count_char(extra, 'c'), which Eddy cannot load: the
    # same count as a SQL expression.
    "q14": (
        "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), bidTimeType VARCHAR, "
        "`dateTime` TIMESTAMP(3), extra VARCHAR, c_counts BIGINT",
        "SELECT auction, bidder, 0.908 * price AS price, CASE "
        "WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime' "
        "WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime' "
        "ELSE 'otherTime' END AS bidTimeType, `dateTime`, extra, "
        "CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts FROM bid "
        "WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000",
    ),
    "q15": (
        "`day` VARCHAR, " + ", ".join(f"{c} BIGINT" for c in RANK_COLUMNS),
        "SELECT DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`, " + RANK_COUNTS
        + "FROM bid GROUP BY DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')",
    ),
    "q16": (
        "channel VARCHAR, `day` VARCHAR, `minute` VARCHAR, "
        + ", ".join(f"{c} BIGINT" for c in RANK_COLUMNS),
        "SELECT channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`, "
        "max(DATE_FORMAT(`dateTime`, 'HH:mm')) AS `minute`, " + RANK_COUNTS
        + "FROM bid GROUP BY channel, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')",
    ),
    "q17": (
        "auction BIGINT, `day` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, "
        "rank3_bids BIGINT, min_price BIGINT, max_price BIGINT, avg_price BIGINT, sum_price BIGINT",
        "SELECT auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`, count(*) AS total_bids, "
        "count(*) FILTER (WHERE price < 10000) AS rank1_bids, "
        "count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids, "
        "count(*) FILTER (WHERE price >= 1000000) AS rank3_bids, "
        "min(price) AS min_price, max(price) AS max_price, CAST(avg(price) AS BIGINT) AS avg_price, "
        "sum(price) AS sum_price FROM bid GROUP BY auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd')",
    ),
    "q18": (
        "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, "
        "`dateTime` TIMESTAMP(3), extra VARCHAR",
        "SELECT auction, bidder, price, channel, url, `dateTime`, extra FROM (SELECT *, "
        "ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number "
        "FROM bid) WHERE rank_number <= 1",
    ),
    "q19": (
        "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, "
        "`dateTime` TIMESTAMP(3), extra VARCHAR, rank_number BIGINT",
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) "
        "AS rank_number FROM bid) WHERE rank_number <= 10",
    ),
    "q20": (
        "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, "
        "bid_dateTime TIMESTAMP(3), bid_extra VARCHAR, itemName VARCHAR, description VARCHAR, "
        "initialBid BIGINT, reserve BIGINT, auction_dateTime TIMESTAMP(3), expires TIMESTAMP(3), "
        "seller BIGINT, category BIGINT, auction_extra VARCHAR",
        "SELECT auction, bidder, price, channel, url, B.`dateTime`, B.extra, itemName, description, "
        "initialBid, reserve, A.`dateTime`, expires, seller, category, A.extra "
        "FROM bid AS B INNER JOIN auction AS A ON B.auction = A.id WHERE A.category = 10",
    ),
    "q21": (
        "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, channel_id VARCHAR",
        "SELECT auction, bidder, price, channel, CASE WHEN lower(channel) = 'apple' THEN '0' "
        "WHEN lower(channel) = 'google' THEN '1' WHEN lower(channel) = 'facebook' THEN '2' "
        "WHEN lower(channel) = 'baidu' THEN '3' "
        "ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id FROM bid "
        "WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL "
        "OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')",
    ),
    "q22": (
        "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, dir1 VARCHAR, dir2 VARCHAR, "
        "dir3 VARCHAR",
        "SELECT auction, bidder, price, channel, SPLIT_INDEX(url, '/', 3) AS dir1, "
        "SPLIT_INDEX(url, '/', 4) AS dir2, SPLIT_INDEX(url, '/', 5) AS dir3 FROM bid",
    ),
}


class Kernel:
    def __init__(self) -> None:
        self.km = KernelManager(kernel_name="eddy")
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float) -> tuple[float, str]:
        """Runs a cell; returns the seconds to its reply and its last text. Fails on error."""
        started = time.perf_counter()
        msg_id = self.kc.execute(code, store_history=False)
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        seconds = time.perf_counter() - started
        text = ""
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            data = msg["content"].get("data", {})
            if "text/plain" in data:
                text = data["text/plain"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code[:80]}…: {reply['content'].get('evalue')}")
        return seconds, text

    def peak_memory(self) -> int:
        """The kernel process's peak resident memory, in bytes."""
        pid = self.km.provisioner.pid  # type: ignore[union-attr]
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def run_query(name: str, events: int, timeout: float) -> tuple[float, int, str]:
    columns, query = QUERIES[name]
    kernel = Kernel()
    try:
        kernel.run(
            f"CREATE TABLE datagen ({ROWS},\n"
            "    `dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime`\n"
            "        WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END,\n"
            "    WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND\n"
            ") WITH ('connector' = 'nexmark', 'first-event.rate' = '10000000',\n"
            f"    'next-event.rate' = '10000000', 'events.num' = '{events}')",
            timeout,
        )
        kernel.run(VIEWS, timeout)
        kernel.run(SIDE_INPUT, timeout)
        with tempfile.TemporaryDirectory(prefix="eddy-nexmark-") as out:
            sink = SINKS.get(name, "WITH ('connector' = 'blackhole')").replace("{dir}", out)
            kernel.run(f"CREATE TABLE sink ({columns}) {sink}", timeout)
            seconds, text = kernel.run(f"INSERT INTO sink {query}", timeout)
        return seconds, kernel.peak_memory(), text.splitlines()[-1] if text else ""
    finally:
        kernel.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("queries", nargs="*", default=list(QUERIES))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{args.events:,} events per query, {cores} cores; Flink: nexmark/nexmark's V1 per-core figures")
    print(
        f"{'query':<12} {'seconds':>8} {'events/s/core':>14} {'Flink/core':>11} {'x Flink':>8} "
        f"{'source share':>12} {'peak MiB':>9}  sink"
    )
    source_seconds = None
    for name in args.queries:
        try:
            seconds, peak, sunk = run_query(name, args.events, args.timeout)
        except Exception as error:  # a query that fails is a figure too
            print(f"{name:<12} failed: {error}")
            continue
        per_core = args.events / seconds / cores
        if name == "source only":
            source_seconds = seconds
        flink = FLINK_PER_CORE.get(name)
        ratio = f"{per_core / flink:.2f}" if flink else "-"
        flink_text = f"{flink / 1e3:.1f}K" if flink else "-"
        share = f"{source_seconds / seconds:.0%}" if source_seconds and name != "source only" else "-"
        print(
            f"{name:<12} {seconds:>8.2f} {per_core / 1e3:>13.1f}K {flink_text:>11} {ratio:>8} "
            f"{share:>12} {peak / 2**20:>9.0f}  {sunk}",
            flush=True,
        )


if __name__ == "__main__":
    main()
