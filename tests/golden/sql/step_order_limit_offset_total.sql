SELECT
  "orders"."status" AS "orders__status",
  "orders"."is_gift" AS "orders__is_gift",
  count("orders"."id") AS "orders__count",
  min("orders"."amount") AS "orders__min_amount"
FROM crosstrack_v1.shop_orders AS "orders"
GROUP BY
  "orders__status",
  "orders__is_gift"
ORDER BY
  "orders__min_amount" ASC,
  "orders__status" DESC,
  "orders__is_gift" ASC
LIMIT 2
OFFSET 1
-- total
SELECT
  count() AS "total"
FROM (
  SELECT
    "orders"."status" AS "orders__status",
    "orders"."is_gift" AS "orders__is_gift",
    count("orders"."id") AS "orders__count",
    min("orders"."amount") AS "orders__min_amount"
  FROM crosstrack_v1.shop_orders AS "orders"
  GROUP BY
    "orders__status",
    "orders__is_gift"
) AS "q"
