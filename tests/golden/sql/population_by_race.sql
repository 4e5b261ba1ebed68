SELECT
  "custody_snapshot"."race" AS "population__race",
  count() AS "population__people"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
WHERE
  "custody_snapshot"."agency" = 'DOC' AND "custody_snapshot"."snapshot_year" = 2020
GROUP BY
  "population__race"
ORDER BY
  "population__people" DESC,
  "population__race" ASC
LIMIT 10000
