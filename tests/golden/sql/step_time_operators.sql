SELECT
  count("orders"."id") AS "orders__count"
FROM crosstrack_v1.shop_orders AS "orders"
WHERE
  (
    (
      (
        (
          (
            (
              (
                "orders"."created_at" >= toDateTime64('2021-01-01 00:00:00.000', 3, 'UTC')
                AND "orders"."created_at" <= toDateTime64('2021-12-31 23:59:59.999', 3, 'UTC')
              )
              AND (
                "orders"."created_at" < toDateTime64('2021-02-01 00:00:00.000', 3, 'UTC')
                OR "orders"."created_at" > toDateTime64('2021-02-28 12:00:00', 3, 'UTC')
              )
            )
            AND "orders"."created_at" < toDateTime64('2022-01-01 00:00:00.000', 3, 'UTC')
          )
          AND "orders"."created_at" <= toDateTime64('2021-12-31 23:59:59.999', 3, 'UTC')
        )
        AND "orders"."created_at" > toDateTime64('2020-12-31 00:00:00.000', 3, 'UTC')
      )
      AND "orders"."created_at" >= toDateTime64('2021-01-01 00:00', 3, 'UTC')
    )
    AND "orders"."created_at" = toDateTime64('2021-01-05 00:00:00.000', 3, 'UTC')
  )
  AND "orders"."created_at" <= toDateTime64('2021-06-30 23:59:59.999', 3, 'UTC')
ORDER BY
  "orders__count" DESC
LIMIT 10000
