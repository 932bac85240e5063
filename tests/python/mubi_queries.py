"""The five queries of the original MUBI demo, in DuckDB's and in Eddy's (DataFusion's) SQL.

Both versions read three tables named `movies`, `ratings` and `rating_users`, shaped like the
Kaggle MUBI files that `mubi-gen` writes (mubi_movie_data.csv, mubi_ratings_data.csv,
mubi_ratings_user_data.csv). Every query orders its result completely, so two engines' rows
can be compared one by one:

- NULLS LAST is spelled out wherever a NULL can sort: DataFusion puts NULLs first in a
  descending sort (as PostgreSQL does), DuckDB and Flink last.
- "Top N" queries break ties on average and count with the movie id.

Differences between the dialects are kept to what each engine spells differently: a
timestamp formatted as 'YYYY-MM' is `strftime(ts, fmt)` in DuckDB and `to_char(ts, fmt)` in
DataFusion.
"""

from __future__ import annotations

from dataclasses import dataclass

# File name of each table, as mubi-gen and the Kaggle data set name them.
TABLE_FILES = {
    "movies": "mubi_movie_data.csv",
    "ratings": "mubi_ratings_data.csv",
    "rating_users": "mubi_ratings_user_data.csv",
}

# Q4 keeps films with at least this many scored ratings (of the real data; tests of tiny
# generated data pass a smaller number).
DEFAULT_MIN_RATINGS = 50
# The year whose films Q4 ranks.
TOP_YEAR = 2019


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    duckdb: str
    eddy: str

    def sql(self, engine: str, min_ratings: int = DEFAULT_MIN_RATINGS) -> str:
        """The query text for `engine` ("duckdb" or "eddy")."""
        text = {"duckdb": self.duckdb, "eddy": self.eddy}[engine]
        return text.format(min_ratings=min_ratings, year=TOP_YEAR).strip()


def _same(sql: str) -> dict[str, str]:
    return {"duckdb": sql, "eddy": sql}


def _by_name(queries: list[Query]) -> dict[str, Query]:
    return {q.name: q for q in queries}


_MONTHLY_USERS = """
SELECT {fn}(rating_timestamp_utc, '%Y-%m') AS month,
       COUNT(DISTINCT user_id) AS active_users
FROM ratings
GROUP BY 1
ORDER BY 1
"""

QUERIES = _by_name(
    [
        Query(
            "q1_row_count",
            "How many ratings there are.",
            **_same("SELECT COUNT(*) AS n_ratings FROM ratings"),
        ),
        Query(
            "q2_popularity_by_year",
            "Average popularity of the films of each release year (NULL year last).",
            **_same(
                """
SELECT movie_release_year,
       AVG(movie_popularity) AS avg_popularity,
       COUNT(*) AS n_movies
FROM movies
GROUP BY movie_release_year
ORDER BY movie_release_year NULLS LAST
"""
            ),
        ),
        Query(
            "q3_active_users_by_month",
            "Distinct users who rated something, per month.",
            duckdb=_MONTHLY_USERS.replace("{fn}", "strftime"),
            eddy=_MONTHLY_USERS.replace("{fn}", "to_char"),
        ),
        Query(
            "q4_top10_of_year",
            "The ten best-rated films released in {year}, among those with enough ratings.",
            **_same(
                """
SELECT m.movie_id,
       m.movie_title,
       AVG(r.rating_score) AS avg_score,
       COUNT(r.rating_score) AS n_ratings
FROM ratings AS r
JOIN movies AS m ON r.movie_id = m.movie_id
WHERE m.movie_release_year = {year}
GROUP BY m.movie_id, m.movie_title
HAVING COUNT(r.rating_score) >= {min_ratings}
ORDER BY avg_score DESC NULLS LAST, n_ratings DESC, m.movie_id
LIMIT 10
"""
            ),
        ),
        Query(
            "q5_score_histogram_2018_2020",
            "How many ratings gave each score, 2018 to 2020.",
            **_same(
                """
SELECT rating_score, COUNT(*) AS n_ratings
FROM ratings
WHERE EXTRACT(YEAR FROM rating_timestamp_utc) BETWEEN 2018 AND 2020
  AND rating_score IS NOT NULL
GROUP BY rating_score
ORDER BY rating_score
"""
            ),
        ),
    ]
)


# Three of the questions as a Flink SQL user writes them (issue 19): Flink's date functions
# `YEAR` and `MONTH` (DuckDB has both), and Q4 aggregating each film's ratings before joining
# the year's films. They ask the same questions (the tests check their answers against
# DuckDB's); how fast they run must not depend on the phrasing.
FLINK_PHRASINGS = _by_name(
    [
        Query(
            "q3_flink_year_month",
            "Distinct users who rated something, per month, grouped by YEAR and MONTH.",
            **_same(
                """
SELECT YEAR(rating_timestamp_utc) AS rating_year,
       MONTH(rating_timestamp_utc) AS rating_month,
       COUNT(DISTINCT user_id) AS active_users
FROM ratings
GROUP BY YEAR(rating_timestamp_utc), MONTH(rating_timestamp_utc)
ORDER BY rating_year NULLS LAST, rating_month NULLS LAST
"""
            ),
        ),
        Query(
            "q4_flink_aggregate_then_join",
            "Q4 with each film's ratings aggregated first, then joined with the year's films.",
            **_same(
                """
SELECT m.movie_id, m.movie_title, r.avg_score, r.n_ratings
FROM (SELECT movie_id, AVG(rating_score) AS avg_score, COUNT(rating_score) AS n_ratings
      FROM ratings
      GROUP BY movie_id) AS r
JOIN movies AS m ON r.movie_id = m.movie_id
WHERE m.movie_release_year = {year} AND r.n_ratings >= {min_ratings}
ORDER BY r.avg_score DESC NULLS LAST, r.n_ratings DESC, m.movie_id
LIMIT 10
"""
            ),
        ),
        Query(
            "q5_flink_year",
            "Q5 with the years picked by YEAR(ts).",
            **_same(
                """
SELECT rating_score, COUNT(*) AS n_ratings
FROM ratings
WHERE YEAR(rating_timestamp_utc) BETWEEN 2018 AND 2020
  AND rating_score IS NOT NULL
GROUP BY rating_score
ORDER BY rating_score
"""
            ),
        ),
    ]
)

def duckdb_table_ddl(table: str, path: str) -> str:
    """A DuckDB view over one CSV file (types detected by DuckDB's sniffer)."""
    return f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_csv('{path}', header = true)"


# The columns of each file, with Flink's types, as notebooks/mubi_exploration.ipynb
# declares them.
EDDY_COLUMNS = {
    "movies": """movie_id BIGINT, movie_title STRING, movie_release_year INT, movie_url STRING,
        movie_title_language STRING, movie_popularity INT, movie_image_url STRING,
        director_id STRING, director_name STRING, director_url STRING""",
    "ratings": """movie_id BIGINT, rating_id BIGINT, rating_url STRING, rating_score INT,
        rating_timestamp_utc TIMESTAMP(3), critic STRING, critic_likes INT,
        critic_comments INT, user_id BIGINT, user_trialist INT, user_subscriber INT,
        user_eligible_for_trial INT, user_has_payment_method INT""",
    "rating_users": """user_id BIGINT, rating_date_utc DATE, user_trialist INT,
        user_subscriber INT, user_avatar_image_url STRING, user_cover_image_url STRING,
        user_eligible_for_trial INT, user_has_payment_method INT""",
}


def eddy_table_ddl(table: str, path: str, lenient: bool = False, name: str | None = None) -> str:
    """An Eddy table over one CSV file, declared with Flink's DDL (named `name`, or after the
    table; skipping malformed rows when `lenient`)."""
    options = ", 'csv.ignore-parse-errors' = 'true'" if lenient else ""
    return (
        f"CREATE TABLE {name or table} ({EDDY_COLUMNS[table]}) WITH ("
        f"'connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv'{options})"
    )
