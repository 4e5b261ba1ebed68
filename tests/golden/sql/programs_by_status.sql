SELECT
  "custody_snapshot"."snapshot_year" AS "programs__snapshot_year",
  "custody_snapshot"."offender_status" AS "programs__offender_status",
  (
    count()
  ) AS "programs__record_count",
  sum("custody_snapshot"."enrollments_total") AS "programs__total_enrollments",
  sum("custody_snapshot"."enrollments_beh") AS "programs__enrollments_beh",
  sum("custody_snapshot"."enrollments_edu") AS "programs__enrollments_edu",
  sum("custody_snapshot"."enrollments_sup") AS "programs__enrollments_sup",
  sum("custody_snapshot"."enrollments_work") AS "programs__enrollments_work",
  sum("custody_snapshot"."enrollments_reinv") AS "programs__enrollments_reinv",
  sum("custody_snapshot"."enrollments_relig") AS "programs__enrollments_relig"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
GROUP BY
  "programs__snapshot_year",
  "programs__offender_status"
ORDER BY
  "programs__record_count" DESC,
  "programs__snapshot_year" ASC,
  "programs__offender_status" ASC
LIMIT 10000
