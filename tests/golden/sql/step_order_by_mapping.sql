SELECT
  "orders"."status" AS "orders__status",
  count("orders"."id") AS "orders__count",
  uniq("orders"."user_id") AS "orders__buyers_approx"
FROM crosstrack_v1.shop_orders AS "orders"
GROUP BY
  "orders__status"
ORDER BY
  "orders__count" DESC,
  "orders__status" ASC
LIMIT 10000
