SELECT
  "custody_snapshot"."agency" AS "population__agency",
  "custody_snapshot"."race" AS "population__race",
  count() AS "population__people"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "population__agency",
  "population__race"
HAVING
  count() >= 10
ORDER BY
  "population__people" DESC,
  "population__agency" ASC,
  "population__race" ASC
LIMIT 10000
