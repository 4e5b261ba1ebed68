SELECT
  "q_0"."sales__users_city" AS "sales__users_city",
  "q_0"."sales__total_amount" AS "sales__total_amount",
  "q_1"."sales__units" AS "sales__units",
  "q_0"."sales__count" AS "sales__count"
FROM (
  SELECT
    "keys"."sales__users_city" AS "sales__users_city",
    sum("orders"."amount") AS "sales__total_amount",
    count("orders"."id") AS "sales__count"
  FROM (
    SELECT DISTINCT
      "users"."city" AS "sales__users_city",
      "orders"."id" AS "__pk_0"
    FROM crosstrack_v1.shop_orders AS "orders"
    LEFT JOIN crosstrack_v1.shop_line_items AS "line_items"
      ON "orders"."id" = "line_items"."order_id"
    LEFT JOIN crosstrack_v1.shop_users AS "users"
      ON "orders"."user_id" = "users"."id"
  ) AS "keys"
  LEFT JOIN crosstrack_v1.shop_orders AS "orders"
    ON "keys"."__pk_0" = "orders"."id"
  GROUP BY
    "sales__users_city"
) AS "q_0"
INNER JOIN (
  SELECT
    "users"."city" AS "sales__users_city",
    sum("line_items"."qty") AS "sales__units"
  FROM crosstrack_v1.shop_orders AS "orders"
  LEFT JOIN crosstrack_v1.shop_line_items AS "line_items"
    ON "orders"."id" = "line_items"."order_id"
  LEFT JOIN crosstrack_v1.shop_users AS "users"
    ON "orders"."user_id" = "users"."id"
  GROUP BY
    "sales__users_city"
) AS "q_1"
  ON assumeNotNull("q_0"."sales__users_city") = assumeNotNull("q_1"."sales__users_city")
WHERE
  "q_0"."sales__total_amount" > 10
ORDER BY
  "sales__total_amount" DESC,
  "sales__users_city" ASC
LIMIT 10000
