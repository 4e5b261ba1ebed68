SELECT
  "custody_snapshot"."snapshot_year" AS "population__snapshot_year",
  "custody_snapshot"."offender_status" AS "population__offender_status",
  count() AS "population__people",
  sumDistinct("custody_snapshot"."record_key") % 4294967296 AS "population__cell_key"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "population__snapshot_year",
  "population__offender_status"
ORDER BY
  "population__people" DESC,
  "population__snapshot_year" ASC,
  "population__offender_status" ASC
LIMIT 10000
