SELECT
  CASE
    WHEN "orders"."amount" >= 100
    THEN 'large'
    WHEN "orders"."amount" >= 20
    THEN 'medium'
    ELSE 'small'
  END AS "orders__size",
  (
    count(CASE WHEN (
      "orders"."status" = 'paid'
    ) THEN "orders"."id" END)
  ) / (
    count("orders"."id")
  ) AS "orders__paid_share",
  uniqExact("orders"."user_id") AS "orders__buyers"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  "orders"."status" = 'paid'
GROUP BY
  "orders__size"
ORDER BY
  "orders__paid_share" DESC,
  "orders__size" ASC
LIMIT 10000
