SELECT
  "custody_snapshot"."agency" AS "population__agency",
  count() AS "population__people"
FROM crosstrack_v1.custody_facts AS "custody_snapshot"
WHERE
  (
    "custody_snapshot"."race" = 'W'
    OR (
      "custody_snapshot"."ethnicity" = 'H'
      AND (
        NOT (
          "custody_snapshot"."age_group" IN ('18-24', '60+')
        )
        OR "custody_snapshot"."age_group" IS NULL
      )
    )
  )
GROUP BY
  "population__agency"
ORDER BY
  "population__people" DESC,
  "population__agency" ASC
LIMIT 10000
