SELECT
  "q_0"."orders__total_amount" AS "orders__total_amount",
  "q_1"."line_items__count" AS "line_items__count"
FROM (
  SELECT
    sum("orders"."amount") AS "orders__total_amount"
  FROM (
    SELECT DISTINCT
      "orders"."id" AS "__pk_0"
    FROM crosstrack_v1.shop_orders AS "orders"
    LEFT JOIN crosstrack_v1.shop_line_items AS "line_items"
      ON "orders"."id" = "line_items"."order_id"
  ) AS "keys"
  LEFT JOIN crosstrack_v1.shop_orders AS "orders"
    ON "keys"."__pk_0" = "orders"."id"
) AS "q_0"
CROSS JOIN (
  SELECT
    count("line_items"."id") AS "line_items__count"
  FROM crosstrack_v1.shop_orders AS "orders"
  LEFT JOIN crosstrack_v1.shop_line_items AS "line_items"
    ON "orders"."id" = "line_items"."order_id"
) AS "q_1"
ORDER BY
  "orders__total_amount" DESC
LIMIT 10000
