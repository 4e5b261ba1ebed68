SELECT
  "orders"."id" AS "orders__id"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  (
    (
      CASE
        WHEN "orders"."amount" >= 100
        THEN 'large'
        WHEN "orders"."amount" >= 20
        THEN 'medium'
        ELSE 'small'
      END ILIKE CONCAT('%', 'ar', '%')
    )
    AND (
      "orders"."status" <> 'void' OR "orders"."status" IS NULL
    )
  )
  AND "orders"."status" = 'paid'
GROUP BY
  "orders__id"
ORDER BY
  "orders__id" ASC
LIMIT 10000
