SELECT
  "q_0"."agencies__region" AS "agencies__region",
  "q_0"."placements__admitted_at_quarter" AS "placements__admitted_at_quarter",
  "q_0"."placements__count" AS "placements__count",
  "q_1"."agencies__count" AS "agencies__count"
FROM (
  SELECT
    "agencies"."region" AS "agencies__region",
    toStartOfQuarter(toDateTime("placements"."admitted_at", 'UTC')) AS "placements__admitted_at_quarter",
    count("placements"."id") AS "placements__count"
  FROM crosstrack_v1.stay_agencies AS "agencies"
  LEFT JOIN crosstrack_v1.stay_placements AS "placements"
    ON "agencies"."code" = "placements"."agency"
  GROUP BY
    "agencies__region",
    "placements__admitted_at_quarter"
) AS "q_0"
INNER JOIN (
  SELECT
    "keys"."agencies__region" AS "agencies__region",
    "keys"."placements__admitted_at_quarter" AS "placements__admitted_at_quarter",
    count("agencies"."code") AS "agencies__count"
  FROM (
    SELECT DISTINCT
      "agencies"."region" AS "agencies__region",
      toStartOfQuarter(toDateTime("placements"."admitted_at", 'UTC')) AS "placements__admitted_at_quarter",
      "agencies"."code" AS "__pk_0"
    FROM crosstrack_v1.stay_agencies AS "agencies"
    LEFT JOIN crosstrack_v1.stay_placements AS "placements"
      ON "agencies"."code" = "placements"."agency"
  ) AS "keys"
  LEFT JOIN crosstrack_v1.stay_agencies AS "agencies"
    ON "keys"."__pk_0" = "agencies"."code"
  GROUP BY
    "agencies__region",
    "placements__admitted_at_quarter"
) AS "q_1"
  ON assumeNotNull("q_0"."agencies__region") = assumeNotNull("q_1"."agencies__region")
  AND assumeNotNull("q_0"."placements__admitted_at_quarter") = assumeNotNull("q_1"."placements__admitted_at_quarter")
ORDER BY
  "placements__admitted_at_quarter" ASC,
  "agencies__region" ASC
LIMIT 10000
