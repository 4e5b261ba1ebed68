SELECT
  "orders"."status" AS "orders__status",
  CASE
    WHEN "orders"."amount" >= 100
    THEN 'large'
    WHEN "orders"."amount" >= 20
    THEN 'medium'
    ELSE 'small'
  END AS "orders__size",
  count("orders"."id") AS "orders__count"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  (
    (
      (
        (
          (
            (
              (
                (
                  "orders"."status" IN ('paid', 'open')
                  AND (
                    "orders"."status" <> 'void' OR "orders"."status" IS NULL
                  )
                )
                AND (
                  CASE
                    WHEN "orders"."amount" >= 100
                    THEN 'large'
                    WHEN "orders"."amount" >= 20
                    THEN 'medium'
                    ELSE 'small'
                  END ILIKE CONCAT('%', 'ar', '%')
                )
              )
              AND (
                (
                  NOT CASE
                    WHEN "orders"."amount" >= 100
                    THEN 'large'
                    WHEN "orders"."amount" >= 20
                    THEN 'medium'
                    ELSE 'small'
                  END ILIKE CONCAT('%', 'x', '%')
                  AND NOT CASE
                    WHEN "orders"."amount" >= 100
                    THEN 'large'
                    WHEN "orders"."amount" >= 20
                    THEN 'medium'
                    ELSE 'small'
                  END ILIKE CONCAT('%', 'y', '%')
                )
                OR CASE
                  WHEN "orders"."amount" >= 100
                  THEN 'large'
                  WHEN "orders"."amount" >= 20
                  THEN 'medium'
                  ELSE 'small'
                END IS NULL
              )
            )
            AND (
              CASE
                WHEN "orders"."amount" >= 100
                THEN 'large'
                WHEN "orders"."amount" >= 20
                THEN 'medium'
                ELSE 'small'
              END ILIKE CONCAT('la', '%')
            )
          )
          AND (
            (
              NOT CASE
                WHEN "orders"."amount" >= 100
                THEN 'large'
                WHEN "orders"."amount" >= 20
                THEN 'medium'
                ELSE 'small'
              END ILIKE CONCAT('sm', '%')
            )
            OR CASE
              WHEN "orders"."amount" >= 100
              THEN 'large'
              WHEN "orders"."amount" >= 20
              THEN 'medium'
              ELSE 'small'
            END IS NULL
          )
        )
        AND (
          CASE
            WHEN "orders"."amount" >= 100
            THEN 'large'
            WHEN "orders"."amount" >= 20
            THEN 'medium'
            ELSE 'small'
          END ILIKE CONCAT('%', 'ge')
          OR CASE
            WHEN "orders"."amount" >= 100
            THEN 'large'
            WHEN "orders"."amount" >= 20
            THEN 'medium'
            ELSE 'small'
          END ILIKE CONCAT('%', 'um')
        )
      )
      AND (
        (
          NOT CASE
            WHEN "orders"."amount" >= 100
            THEN 'large'
            WHEN "orders"."amount" >= 20
            THEN 'medium'
            ELSE 'small'
          END ILIKE CONCAT('%', 'll')
        )
        OR CASE
          WHEN "orders"."amount" >= 100
          THEN 'large'
          WHEN "orders"."amount" >= 20
          THEN 'medium'
          ELSE 'small'
        END IS NULL
      )
    )
    AND NOT (
      "orders"."status" IS NULL
    )
  )
  AND CASE
    WHEN "orders"."amount" >= 100
    THEN 'large'
    WHEN "orders"."amount" >= 20
    THEN 'medium'
    ELSE 'small'
  END IS NULL
GROUP BY
  "orders__status",
  "orders__size"
ORDER BY
  "orders__count" DESC,
  "orders__status" ASC,
  "orders__size" ASC
LIMIT 10000
