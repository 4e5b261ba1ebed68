SELECT
  count("orders"."id") AS "orders__count"
FROM crosstrack_v1.shop_orders AS "orders"
ORDER BY
  "orders__count" DESC
LIMIT 10000
