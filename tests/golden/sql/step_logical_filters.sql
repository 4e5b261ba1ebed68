SELECT
  "orders"."status" AS "orders__status",
  count("orders"."id") AS "orders__count"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  (
    "orders"."status" = 'paid'
    OR (
      "orders"."amount" >= 20 AND "orders"."is_gift" = FALSE
    )
  )
  AND TRUE
GROUP BY
  "orders__status"
ORDER BY
  "orders__count" DESC,
  "orders__status" ASC
LIMIT 10000
