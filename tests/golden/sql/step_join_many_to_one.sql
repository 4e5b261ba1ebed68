SELECT
  "q_0"."users__city" AS "users__city",
  "q_0"."orders__count" AS "orders__count",
  "q_1"."users__count" AS "users__count"
FROM (
  SELECT
    "users"."city" AS "users__city",
    count("orders"."id") AS "orders__count"
  FROM crosstrack_v1.shop_orders AS "orders"
  LEFT JOIN crosstrack_v1.shop_users AS "users"
    ON "orders"."user_id" = "users"."id"
  GROUP BY
    "users__city"
) AS "q_0"
INNER JOIN (
  SELECT
    "keys"."users__city" AS "users__city",
    count("users"."id") AS "users__count"
  FROM (
    SELECT DISTINCT
      "users"."city" AS "users__city",
      "users"."id" AS "__pk_0"
    FROM crosstrack_v1.shop_orders AS "orders"
    LEFT JOIN crosstrack_v1.shop_users AS "users"
      ON "orders"."user_id" = "users"."id"
  ) AS "keys"
  LEFT JOIN crosstrack_v1.shop_users AS "users"
    ON "keys"."__pk_0" = "users"."id"
  GROUP BY
    "users__city"
) AS "q_1"
  ON assumeNotNull("q_0"."users__city") = assumeNotNull("q_1"."users__city")
ORDER BY
  "orders__count" DESC,
  "users__city" ASC
LIMIT 10000
