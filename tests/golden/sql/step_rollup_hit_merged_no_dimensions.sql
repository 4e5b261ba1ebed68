SELECT
  countMerge("custody_snapshot"."people__0") AS "population__people",
  toUInt64(
    sumMerge("custody_snapshot"."cell_key__0s") - (
      arraySum(groupArrayArrayMerge("custody_snapshot"."cell_key__0d")) - arraySum(arrayDistinct(groupArrayArrayMerge("custody_snapshot"."cell_key__0d")))
    )
  ) % 4294967296 AS "population__cell_key"
FROM crosstrack_v1.custody_snapshot__by_agency AS "custody_snapshot"
WHERE
  "custody_snapshot"."__grouping" = 15
  AND "custody_snapshot"."snapshot_year" = 2020
ORDER BY
  "population__people" DESC
LIMIT 10000
