SELECT
  "orders"."amount" AS "orders__amount",
  sum("orders"."amount") AS "orders__total_amount"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  (
    (
      (
        (
          (
            (
              "orders"."amount" > 5 AND "orders"."amount" >= 5
            )
            AND "orders"."amount" < 300.5
          )
          AND "orders"."amount" <= 300
        )
        AND "orders"."amount" IN (120, 15)
      )
      AND (
        "orders"."amount" <> 40 OR "orders"."amount" IS NULL
      )
    )
    AND "orders"."is_gift" = TRUE
  )
  AND (
    "orders"."is_gift" <> FALSE OR "orders"."is_gift" IS NULL
  )
GROUP BY
  "orders__amount"
ORDER BY
  "orders__total_amount" DESC,
  "orders__amount" ASC
LIMIT 10000
