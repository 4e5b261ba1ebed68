SELECT
  "custody_snapshot"."agency" AS "population__agency",
  "custody_snapshot"."people__f" AS "population__people"
FROM crosstrack_v1.custody_snapshot__by_agency AS "custody_snapshot"
WHERE
  (
    (
      "custody_snapshot"."__grouping" = 7
      AND "custody_snapshot"."offender_status" = 'SENTENCED'
    )
    AND "custody_snapshot"."snapshot_year" = 2020
  )
  AND "custody_snapshot"."people__f" >= 5
ORDER BY
  "population__people" DESC,
  "population__agency" ASC
LIMIT 10000
