-- title: Weekday profile of each counting point: mean daily traffic by day of the week
-- unit: vehicles/day
-- needs: traffic_hourly
-- The daily totals of `traffic_daily` with coverage ≥ 95 % (the day rule of the ÅDT,
-- DOMAIN.md §2.3), by day of the week (weekday 0 = Monday … 6 = Sunday, public holidays
-- included in their weekday). mean_volume is the mean over those days; se its standard
-- error (sd / √n), ci_lower/ci_upper mean ± 1.96·se, n the days counted. The report draws
-- it as the weekday profile.
WITH d AS (
  SELECT t.trp_id, CAST((date_part('dow', t.date) + 6) % 7 AS BIGINT) AS weekday, t.volume
  FROM traffic_daily t
  WHERE t.coverage_pct >= 95
),
m AS (
  SELECT trp_id, weekday, avg(volume) AS mean_volume,
    stddev_samp(volume) / sqrt(CAST(count(volume) AS DOUBLE)) AS se,
    count(volume) AS n
  FROM d
  GROUP BY trp_id, weekday
)
SELECT trp_id, weekday, mean_volume, se,
  mean_volume - 1.96 * se AS ci_lower, mean_volume + 1.96 * se AS ci_upper, n
FROM m
ORDER BY trp_id, weekday
