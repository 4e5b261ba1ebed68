SELECT
  "orders"."status" AS "orders__status",
  count("orders"."id") AS "orders__count"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  "orders"."created_at" >= toDateTime64('2021-03-31 00:00:00.000', 3, 'UTC')
  AND "orders"."created_at" <= toDateTime64('2021-03-31 23:59:59.999', 3, 'UTC')
GROUP BY
  "orders__status"
ORDER BY
  "orders__count" DESC,
  "orders__status" ASC
LIMIT 10000
