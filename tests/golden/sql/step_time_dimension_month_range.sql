SELECT
  toStartOfMonth(toDateTime("orders"."created_at", 'UTC')) AS "orders__created_at_month",
  count("orders"."id") AS "orders__count",
  sum("orders"."amount") AS "orders__total_amount"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  "orders"."created_at" >= toDateTime64('2021-01-01 00:00:00.000', 3, 'UTC')
  AND "orders"."created_at" <= toDateTime64('2021-03-31 23:59:59.999', 3, 'UTC')
GROUP BY
  "orders__created_at_month"
ORDER BY
  "orders__created_at_month" ASC
LIMIT 10000
