SELECT
  "custody_snapshot"."snapshot_year" AS "population__snapshot_year",
  "custody_snapshot"."offender_status" AS "population__offender_status",
  uniqExactMerge("custody_snapshot"."people__0") AS "population__people",
  sumDistinctMerge("custody_snapshot"."cell_key__0") % 4294967296 AS "population__cell_key"
FROM crosstrack_v1.custody_snapshot__by_agency AS "custody_snapshot"
GROUP BY
  "population__snapshot_year",
  "population__offender_status"
ORDER BY
  "population__people" DESC,
  "population__snapshot_year" ASC,
  "population__offender_status" ASC
LIMIT 10000
