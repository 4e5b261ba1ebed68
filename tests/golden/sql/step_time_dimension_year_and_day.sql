SELECT
  "orders"."created_at" AS "orders__created_at",
  toStartOfYear(toDateTime("orders"."created_at", 'UTC')) AS "orders__created_at_year",
  toStartOfDay(toDateTime("orders"."created_at", 'UTC')) AS "orders__created_at_day"
FROM crosstrack_v1.shop_orders AS "orders"
GROUP BY
  "orders__created_at",
  "orders__created_at_year",
  "orders__created_at_day"
ORDER BY
  "orders__created_at_year" ASC,
  "orders__created_at" ASC,
  "orders__created_at_day" ASC
LIMIT 10000
