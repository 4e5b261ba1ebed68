SELECT
  "custody_snapshot"."race" AS "programs__race",
  uniqExact("custody_snapshot"."person_key") AS "programs__distinct_people",
  sum("custody_snapshot"."enrollments_total") AS "programs__total_enrollments"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "programs__race"
ORDER BY
  "programs__distinct_people" DESC,
  "programs__race" ASC
LIMIT 10000
