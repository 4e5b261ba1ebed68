SELECT
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "custody_snapshot"."snapshot_year",
  "custody_snapshot"."offender_status",
  "custody_snapshot"."age_group",
  "custody_snapshot"."assigned_sex",
  "custody_snapshot"."race",
  "custody_snapshot"."ethnicity"
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(63) AS "__grouping",
  countState() AS "people__0",
  uniqExactState("custody_snapshot"."person_key") AS "distinct_people__0",
  countState("custody_snapshot"."person_key") AS "distinct_people__0s",
  groupArrayArrayState(
    CASE
      WHEN ("custody_snapshot"."snapshot_year", "custody_snapshot"."person_key") IN (
        SELECT
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."person_key"
        FROM crosstrack_v1.custody_facts AS "custody_snapshot"
        GROUP BY
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."person_key"
        HAVING
          count() > 1
      )
      THEN ["custody_snapshot"."person_key"]
      ELSE []
    END
  ) AS "distinct_people__0d",
  avgState("custody_snapshot"."incarceration_days") AS "mean_days__0",
  quantileExactInclusiveState(0.5)("custody_snapshot"."incarceration_days") AS "median_days__0",
  countState() AS "record_count__0",
  sumState("custody_snapshot"."enrollments_total") AS "total_enrollments__0",
  sumState("custody_snapshot"."enrollments_beh") AS "enrollments_beh__0",
  sumState("custody_snapshot"."enrollments_edu") AS "enrollments_edu__0",
  sumState("custody_snapshot"."enrollments_sup") AS "enrollments_sup__0",
  sumState("custody_snapshot"."enrollments_work") AS "enrollments_work__0",
  sumState("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__0",
  sumState("custody_snapshot"."enrollments_relig") AS "enrollments_relig__0",
  sumDistinctState("custody_snapshot"."record_key") AS "cell_key__0",
  sumState("custody_snapshot"."record_key") AS "cell_key__0s",
  groupArrayArrayState(
    CASE
      WHEN ("custody_snapshot"."snapshot_year", "custody_snapshot"."record_key") IN (
        SELECT
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."record_key"
        FROM crosstrack_v1.custody_facts AS "custody_snapshot"
        GROUP BY
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."record_key"
        HAVING
          count() > 1
      )
      THEN ["custody_snapshot"."record_key"]
      ELSE []
    END
  ) AS "cell_key__0d",
  sumState("custody_snapshot"."row_key") AS "records_key__0",
  sumState("custody_snapshot"."enrollment_key") AS "enrollments_key__0",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "snapshot_year",
  "offender_status",
  "age_group",
  "assigned_sex",
  "race",
  "ethnicity"
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(63) AS "__grouping",
  countState() AS "people__0",
  uniqExactState("custody_snapshot"."person_key") AS "distinct_people__0",
  countState("custody_snapshot"."person_key") AS "distinct_people__0s",
  groupArrayArrayState(
    CASE
      WHEN ("custody_snapshot"."snapshot_year", "custody_snapshot"."person_key") IN (
        SELECT
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."person_key"
        FROM crosstrack_v1.custody_facts AS "custody_snapshot"
        GROUP BY
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."person_key"
        HAVING
          count() > 1
      )
      THEN ["custody_snapshot"."person_key"]
      ELSE []
    END
  ) AS "distinct_people__0d",
  avgState("custody_snapshot"."incarceration_days") AS "mean_days__0",
  quantileExactInclusiveState(0.5)("custody_snapshot"."incarceration_days") AS "median_days__0",
  countState() AS "record_count__0",
  sumState("custody_snapshot"."enrollments_total") AS "total_enrollments__0",
  sumState("custody_snapshot"."enrollments_beh") AS "enrollments_beh__0",
  sumState("custody_snapshot"."enrollments_edu") AS "enrollments_edu__0",
  sumState("custody_snapshot"."enrollments_sup") AS "enrollments_sup__0",
  sumState("custody_snapshot"."enrollments_work") AS "enrollments_work__0",
  sumState("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__0",
  sumState("custody_snapshot"."enrollments_relig") AS "enrollments_relig__0",
  sumDistinctState("custody_snapshot"."record_key") AS "cell_key__0",
  sumState("custody_snapshot"."record_key") AS "cell_key__0s",
  groupArrayArrayState(
    CASE
      WHEN ("custody_snapshot"."snapshot_year", "custody_snapshot"."record_key") IN (
        SELECT
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."record_key"
        FROM crosstrack_v1.custody_facts AS "custody_snapshot"
        GROUP BY
          "custody_snapshot"."snapshot_year",
          "custody_snapshot"."record_key"
        HAVING
          count() > 1
      )
      THEN ["custody_snapshot"."record_key"]
      ELSE []
    END
  ) AS "cell_key__0d",
  sumState("custody_snapshot"."row_key") AS "records_key__0",
  sumState("custody_snapshot"."enrollment_key") AS "enrollments_key__0",
  CAST(count(), 'SimpleAggregateFunction(anyLast, Nullable(Float64))') AS "people__f",
  CAST(
    uniqExact("custody_snapshot"."person_key"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "distinct_people__f",
  CAST(
    avg("custody_snapshot"."incarceration_days"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "mean_days__f",
  CAST(
    quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "median_days__f",
  CAST((
    count()
  ), 'SimpleAggregateFunction(anyLast, Nullable(Float64))') AS "record_count__f",
  CAST(
    sum("custody_snapshot"."enrollments_total"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "total_enrollments__f",
  CAST(
    sum("custody_snapshot"."enrollments_beh"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_beh__f",
  CAST(
    sum("custody_snapshot"."enrollments_edu"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_edu__f",
  CAST(
    sum("custody_snapshot"."enrollments_sup"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_sup__f",
  CAST(
    sum("custody_snapshot"."enrollments_work"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_work__f",
  CAST(
    sum("custody_snapshot"."enrollments_reinv"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_reinv__f",
  CAST(
    sum("custody_snapshot"."enrollments_relig"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_relig__f",
  CAST(
    sumDistinct("custody_snapshot"."record_key") % 4294967296,
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "cell_key__f",
  CAST(
    sum("custody_snapshot"."row_key"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "records_key__f",
  CAST(
    sum("custody_snapshot"."enrollment_key"),
    'SimpleAggregateFunction(anyLast, Nullable(Float64))'
  ) AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "snapshot_year",
  "offender_status",
  "age_group",
  "assigned_sex",
  "race",
  "ethnicity"
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16 + (
        1 - GROUPING("custody_snapshot"."ethnicity")
      ) * 32
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."ethnicity"
    )
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16 + (
        1 - GROUPING("custody_snapshot"."ethnicity")
      ) * 32
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    )
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16 + (
        1 - GROUPING("custody_snapshot"."ethnicity")
      ) * 32
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race"
    )
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16 + (
        1 - GROUPING("custody_snapshot"."ethnicity")
      ) * 32
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group",
      "custody_snapshot"."race"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."race",
      "custody_snapshot"."ethnicity"
    )
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16 + (
        1 - GROUPING("custody_snapshot"."ethnicity")
      ) * 32
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."ethnicity"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."assigned_sex",
      "custody_snapshot"."race"
    )
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."race"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."race"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."age_group",
      "custody_snapshot"."assigned_sex"
    ),
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."assigned_sex"
    )
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  "custody_snapshot"."assigned_sex" AS "assigned_sex",
  "custody_snapshot"."race" AS "race",
  "custody_snapshot"."ethnicity" AS "ethnicity",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4 + (
        1 - GROUPING("custody_snapshot"."assigned_sex")
      ) * 8 + (
        1 - GROUPING("custody_snapshot"."race")
      ) * 16 + (
        1 - GROUPING("custody_snapshot"."ethnicity")
      ) * 32
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    (
      "custody_snapshot"."snapshot_year",
      "custody_snapshot"."offender_status",
      "custody_snapshot"."age_group"
    ),
    ("custody_snapshot"."snapshot_year", "custody_snapshot"."ethnicity"),
    ("custody_snapshot"."snapshot_year", "custody_snapshot"."race"),
    ("custody_snapshot"."snapshot_year", "custody_snapshot"."assigned_sex")
  )
-- next
SELECT
  "custody_snapshot"."snapshot_year" AS "snapshot_year",
  "custody_snapshot"."offender_status" AS "offender_status",
  "custody_snapshot"."age_group" AS "age_group",
  toUInt64(
    (
      (
        1 - GROUPING("custody_snapshot"."snapshot_year")
      ) * 1 + (
        1 - GROUPING("custody_snapshot"."offender_status")
      ) * 2 + (
        1 - GROUPING("custody_snapshot"."age_group")
      ) * 4
    )
  ) AS "__grouping",
  count() AS "people__f",
  uniqExact("custody_snapshot"."person_key") AS "distinct_people__f",
  avg("custody_snapshot"."incarceration_days") AS "mean_days__f",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "median_days__f",
  (
    count()
  ) AS "record_count__f",
  sum("custody_snapshot"."enrollments_total") AS "total_enrollments__f",
  sum("custody_snapshot"."enrollments_beh") AS "enrollments_beh__f",
  sum("custody_snapshot"."enrollments_edu") AS "enrollments_edu__f",
  sum("custody_snapshot"."enrollments_sup") AS "enrollments_sup__f",
  sum("custody_snapshot"."enrollments_work") AS "enrollments_work__f",
  sum("custody_snapshot"."enrollments_reinv") AS "enrollments_reinv__f",
  sum("custody_snapshot"."enrollments_relig") AS "enrollments_relig__f",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "cell_key__f",
  sum("custody_snapshot"."row_key") AS "records_key__f",
  sum("custody_snapshot"."enrollment_key") AS "enrollments_key__f"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  GROUPING SETS (
    ("custody_snapshot"."snapshot_year", "custody_snapshot"."age_group"),
    ("custody_snapshot"."snapshot_year", "custody_snapshot"."offender_status"),
    ("custody_snapshot"."snapshot_year")
  )
