SELECT
  count() AS "charges__f",
  count(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__f",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__f",
  uniqExact("charge_snapshot"."person_key") AS "distinct_people__f",
  sumDistinct("charge_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("charge_snapshot"."row_key") AS "charges_key__f",
  sum(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  "charge_snapshot"."snapshot_year",
  "charge_snapshot"."offense_type",
  "charge_snapshot"."offense_subtype",
  "charge_snapshot"."severity"
-- next
SELECT
  "charge_snapshot"."snapshot_year" AS "snapshot_year",
  "charge_snapshot"."offense_type" AS "offense_type",
  "charge_snapshot"."offense_subtype" AS "offense_subtype",
  "charge_snapshot"."severity" AS "severity",
  toUInt64(15) AS "__grouping",
  countState() AS "charges__0",
  countState(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__0",
  uniqExactState(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__0",
  uniqExactState("charge_snapshot"."person_key") AS "distinct_people__0",
  sumDistinctState("charge_snapshot"."record_key") AS "cell_key__0",
  sumState("charge_snapshot"."row_key") AS "charges_key__0",
  sumState(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__0",
  count() AS "charges__f",
  count(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__f",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__f",
  uniqExact("charge_snapshot"."person_key") AS "distinct_people__f",
  sumDistinct("charge_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("charge_snapshot"."row_key") AS "charges_key__f",
  sum(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  "snapshot_year",
  "offense_type",
  "offense_subtype",
  "severity"
-- next
SELECT
  "charge_snapshot"."snapshot_year" AS "snapshot_year",
  "charge_snapshot"."offense_type" AS "offense_type",
  "charge_snapshot"."offense_subtype" AS "offense_subtype",
  "charge_snapshot"."severity" AS "severity",
  toUInt64(15) AS "__grouping",
  countState() AS "charges__0",
  countState(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__0",
  uniqExactState(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__0",
  uniqExactState("charge_snapshot"."person_key") AS "distinct_people__0",
  sumDistinctState("charge_snapshot"."record_key") AS "cell_key__0",
  sumState("charge_snapshot"."row_key") AS "charges_key__0",
  sumState(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__0",
  CAST(count(), 'SimpleAggregateFunction(anyLast, Nullable(Float64))') AS "charges__f",
  CAST(
    count(CASE WHEN (
      "charge_snapshot"."convicted" = 1
    ) THEN 1 END),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "convictions__f",
  CAST(
    uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "people__f",
  CAST(
    uniqExact("charge_snapshot"."person_key"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "distinct_people__f",
  CAST(
    sumDistinct("charge_snapshot"."record_key") % 4294967296,
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "cell_key__f",
  CAST(
    sum("charge_snapshot"."row_key"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "charges_key__f",
  CAST(
    sum(
      CASE
        WHEN (
          "charge_snapshot"."convicted" = 1
        )
        THEN "charge_snapshot"."row_key"
      END
    ),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  "snapshot_year",
  "offense_type",
  "offense_subtype",
  "severity"
-- next
SELECT
  "charge_snapshot"."snapshot_year" AS "snapshot_year",
  "charge_snapshot"."offense_type" AS "offense_type",
  "charge_snapshot"."offense_subtype" AS "offense_subtype",
  "charge_snapshot"."severity" AS "severity",
  toUInt64(
    (
      (
        1 - GROUPING("charge_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("charge_snapshot"."offense_type")
      ) * 2 + (
        1 - GROUPING("charge_snapshot"."offense_subtype")
      ) * 4 + (
        1 - GROUPING("charge_snapshot"."severity")
      ) * 8
    )
  ) AS "__grouping",
  count() AS "charges__f",
  count(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__f",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__f",
  uniqExact("charge_snapshot"."person_key") AS "distinct_people__f",
  sumDistinct("charge_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("charge_snapshot"."row_key") AS "charges_key__f",
  sum(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "charge_snapshot"."offense_type",
      "charge_snapshot"."offense_subtype",
      "charge_snapshot"."severity"
    ),
    (
      "charge_snapshot"."snapshot_year",
      "charge_snapshot"."offense_subtype",
      "charge_snapshot"."severity"
    ),
    (
      "charge_snapshot"."snapshot_year",
      "charge_snapshot"."offense_type",
      "charge_snapshot"."severity"
    ),
    (
      "charge_snapshot"."snapshot_year",
      "charge_snapshot"."offense_type",
      "charge_snapshot"."offense_subtype"
    )
  )
-- next
SELECT
  "charge_snapshot"."snapshot_year" AS "snapshot_year",
  "charge_snapshot"."offense_type" AS "offense_type",
  "charge_snapshot"."offense_subtype" AS "offense_subtype",
  "charge_snapshot"."severity" AS "severity",
  toUInt64(
    (
      (
        1 - GROUPING("charge_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("charge_snapshot"."offense_type")
      ) * 2 + (
        1 - GROUPING("charge_snapshot"."offense_subtype")
      ) * 4 + (
        1 - GROUPING("charge_snapshot"."severity")
      ) * 8
    )
  ) AS "__grouping",
  count() AS "charges__f",
  count(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__f",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__f",
  uniqExact("charge_snapshot"."person_key") AS "distinct_people__f",
  sumDistinct("charge_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("charge_snapshot"."row_key") AS "charges_key__f",
  sum(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  GROUPING SETS (
    ("charge_snapshot"."offense_subtype", "charge_snapshot"."severity"),
    ("charge_snapshot"."offense_type", "charge_snapshot"."severity"),
    ("charge_snapshot"."snapshot_year", "charge_snapshot"."severity"),
    ("charge_snapshot"."offense_type", "charge_snapshot"."offense_subtype")
  )
-- next
SELECT
  "charge_snapshot"."snapshot_year" AS "snapshot_year",
  "charge_snapshot"."offense_type" AS "offense_type",
  "charge_snapshot"."offense_subtype" AS "offense_subtype",
  "charge_snapshot"."severity" AS "severity",
  toUInt64(
    (
      (
        1 - GROUPING("charge_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("charge_snapshot"."offense_type")
      ) * 2 + (
        1 - GROUPING("charge_snapshot"."offense_subtype")
      ) * 4 + (
        1 - GROUPING("charge_snapshot"."severity")
      ) * 8
    )
  ) AS "__grouping",
  count() AS "charges__f",
  count(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__f",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__f",
  uniqExact("charge_snapshot"."person_key") AS "distinct_people__f",
  sumDistinct("charge_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("charge_snapshot"."row_key") AS "charges_key__f",
  sum(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  GROUPING SETS (
    ("charge_snapshot"."snapshot_year", "charge_snapshot"."offense_subtype"),
    ("charge_snapshot"."snapshot_year", "charge_snapshot"."offense_type"),
    ("charge_snapshot"."severity"),
    ("charge_snapshot"."offense_subtype")
  )
-- next
SELECT
  "charge_snapshot"."snapshot_year" AS "snapshot_year",
  "charge_snapshot"."offense_type" AS "offense_type",
  toUInt64(
    (
      (
        1 - GROUPING("charge_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("charge_snapshot"."offense_type")
      ) * 2
    )
  ) AS "__grouping",
  count() AS "charges__f",
  count(CASE WHEN (
    "charge_snapshot"."convicted" = 1
  ) THEN 1 END) AS "convictions__f",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "people__f",
  uniqExact("charge_snapshot"."person_key") AS "distinct_people__f",
  sumDistinct("charge_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("charge_snapshot"."row_key") AS "charges_key__f",
  sum(
    CASE
      WHEN (
        "charge_snapshot"."convicted" = 1
      )
      THEN "charge_snapshot"."row_key"
    END
  ) AS "convictions_key__f"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
GROUP BY
  GROUPING SETS (
    ("charge_snapshot"."offense_type"),
    ("charge_snapshot"."snapshot_year")
  )
