SELECT
  "custody_snapshot"."agency" AS "population__agency",
  count() AS "population__people"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
WHERE
  (
    "custody_snapshot"."race" IN ('W', 'B')
    AND "custody_snapshot"."snapshot_year" = 2020
  )
  AND "custody_snapshot"."offender_status" = 'SENTENCED'
GROUP BY
  "population__agency"
ORDER BY
  "population__people" DESC,
  "population__agency" ASC
LIMIT 10000
