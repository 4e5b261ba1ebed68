SELECT
  "charge_snapshot"."offense_type" AS "charges__offense_type",
  "charge_snapshot"."charges__f" AS "charges__charges",
  "charge_snapshot"."people__f" AS "charges__people"
FROM crosstrack_v1.charge_snapshot__by_offense AS "charge_snapshot"
WHERE
  "charge_snapshot"."__grouping" = 3 AND "charge_snapshot"."snapshot_year" = 2019
ORDER BY
  "charges__charges" DESC,
  "charges__offense_type" ASC
LIMIT 10000
