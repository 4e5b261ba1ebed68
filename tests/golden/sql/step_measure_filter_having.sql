SELECT
  "orders"."status" AS "orders__status",
  avg("orders"."amount") AS "orders__avg_amount"
FROM crosstrack_v1.shop_orders AS "orders"
GROUP BY
  "orders__status"
HAVING
  (
    count("orders"."id") >= 2 OR max("orders"."amount") < 50
  )
ORDER BY
  "orders__avg_amount" DESC,
  "orders__status" ASC
LIMIT 10000
