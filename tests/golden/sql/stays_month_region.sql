SELECT
  "agencies"."region" AS "agencies__region",
  toStartOfMonth(toDateTime("placements"."admitted_at", 'UTC')) AS "placements__admitted_at_month",
  count("placements"."id") AS "placements__count",
  count(CASE WHEN (
    "placements"."days" > 100
  ) THEN "placements"."id" END) AS "placements__long_stays"
FROM crosstrack_v1.stay_agencies AS "agencies"
LEFT JOIN crosstrack_v1.stay_placements AS "placements"
  ON "agencies"."code" = "placements"."agency"
WHERE
  "placements"."admitted_at" >= toDateTime64('2021-01-01 00:00:00.000', 3, 'UTC')
  AND "placements"."admitted_at" <= toDateTime64('2021-03-31 23:59:59.999', 3, 'UTC')
GROUP BY
  "agencies__region",
  "placements__admitted_at_month"
ORDER BY
  "placements__admitted_at_month" ASC,
  "agencies__region" ASC
LIMIT 10000
