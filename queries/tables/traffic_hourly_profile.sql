-- title: Hourly profile of each counting point on working days: mean traffic per hour
-- unit: vehicles/hour
-- needs: traffic_hourly
-- The section total (scope `total`) of each counting point, in hours with coverage ≥ 99 %
-- (Statens vegvesen's threshold for a complete hour, DOMAIN.md §2.3), on working days
-- (day_type = 'weekday': Monday to Friday except Norway's public holidays), by the hour of
-- the day in local time (Europe/Oslo). mean_volume is the mean over those hours; se its
-- standard error treating the days as independent (sd / √n), ci_lower/ci_upper
-- mean ± 1.96·se, n the hours counted. The report draws it as the hourly profile.
WITH h AS (
  SELECT t.trp_id,
    CAST(date_part('hour', to_local_time(t.hour_start AT TIME ZONE 'Europe/Oslo')) AS BIGINT) AS hour,
    t.volume
  FROM traffic_hourly t
  WHERE t.scope = 'total' AND t.coverage_pct >= 99
    AND day_type(CAST(to_local_time(t.hour_start AT TIME ZONE 'Europe/Oslo') AS DATE)) = 'weekday'
),
m AS (
  SELECT trp_id, hour, avg(volume) AS mean_volume,
    stddev_samp(volume) / sqrt(CAST(count(volume) AS DOUBLE)) AS se,
    count(volume) AS n
  FROM h
  GROUP BY trp_id, hour
)
SELECT trp_id, hour, mean_volume, se,
  mean_volume - 1.96 * se AS ci_lower, mean_volume + 1.96 * se AS ci_upper, n
FROM m
ORDER BY trp_id, hour
