SELECT
  "custody_snapshot"."race" AS "programs__race",
  (
    countMerge("custody_snapshot"."record_count__0")
  ) AS "programs__record_count",
  sumMerge("custody_snapshot"."total_enrollments__0") AS "programs__total_enrollments",
  toUInt64(
    countMerge("custody_snapshot"."distinct_people__0s") - (
      length(groupArrayArrayMerge("custody_snapshot"."distinct_people__0d")) - length(arrayDistinct(groupArrayArrayMerge("custody_snapshot"."distinct_people__0d")))
    )
  ) AS "programs__distinct_people"
FROM crosstrack_v1.custody_snapshot__by_demographics AS "custody_snapshot"
WHERE
  (
    "custody_snapshot"."__grouping" = 63
    AND "custody_snapshot"."snapshot_year" = 2021
  )
  AND (
    "custody_snapshot"."age_group" <> '18-24'
    OR "custody_snapshot"."age_group" IS NULL
  )
GROUP BY
  "programs__race"
ORDER BY
  "programs__record_count" DESC,
  "programs__race" ASC
LIMIT 10000
