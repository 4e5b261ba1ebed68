SELECT
  "orders"."status" AS "orders__status",
  "users"."city" AS "users__city"
FROM crosstrack_v1.shop_orders AS "orders"
LEFT JOIN crosstrack_v1.shop_users AS "users"
  ON "orders"."user_id" = "users"."id"
GROUP BY
  "orders__status",
  "users__city"
ORDER BY
  "orders__status" ASC,
  "users__city" ASC
LIMIT 10000
