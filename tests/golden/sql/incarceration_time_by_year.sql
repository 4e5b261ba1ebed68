SELECT
  "custody_snapshot"."snapshot_year" AS "incarceration_time__snapshot_year",
  count() AS "incarceration_time__people",
  avg("custody_snapshot"."incarceration_days") AS "incarceration_time__mean_days",
  quantileExactInclusive(0.5)("custody_snapshot"."incarceration_days") AS "incarceration_time__median_days"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "incarceration_time__snapshot_year"
ORDER BY
  "incarceration_time__people" DESC,
  "incarceration_time__snapshot_year" ASC
LIMIT 10000
