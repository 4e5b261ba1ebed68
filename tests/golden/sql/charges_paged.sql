SELECT
  "charge_snapshot"."offense_type" AS "charges__offense_type",
  "charge_snapshot"."offense_subtype" AS "charges__offense_subtype",
  count() AS "charges__charges",
  uniqExact(("charge_snapshot"."snapshot_year", "charge_snapshot"."person_key")) AS "charges__people"
FROM crosstrack_v1.charge_facts AS "charge_snapshot"
WHERE
  "charge_snapshot"."severity" = 'F'
GROUP BY
  "charges__offense_type",
  "charges__offense_subtype"
ORDER BY
  "charges__offense_subtype" ASC,
  "charges__offense_type" ASC
LIMIT 15
OFFSET 3
