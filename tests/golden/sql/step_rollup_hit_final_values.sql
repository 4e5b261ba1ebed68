SELECT
  "custody_snapshot"."snapshot_year" AS "population__snapshot_year",
  "custody_snapshot"."offender_status" AS "population__offender_status",
  "custody_snapshot"."people__f" AS "population__people",
  "custody_snapshot"."cell_key__f" AS "population__cell_key"
FROM crosstrack_v1.custody_snapshot__by_agency AS "custody_snapshot"
WHERE
  "custody_snapshot"."__grouping" = 5
ORDER BY
  "population__people" DESC,
  "population__snapshot_year" ASC,
  "population__offender_status" ASC
LIMIT 10000
