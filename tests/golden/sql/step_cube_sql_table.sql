SELECT
  count("big_orders"."id") AS "big_orders__count",
  sum("big_orders"."amount") AS "big_orders__total"
FROM (
  SELECT
    id,
    user_id,
    amount
  FROM crosstrack_v1.shop_orders
  WHERE
    amount >= 100
) AS "big_orders"
ORDER BY
  "big_orders__count" DESC
LIMIT 10000
