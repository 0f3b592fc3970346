-- Daily traffic per counting point, from the `total` rows (all lanes) of traffic_hourly.
-- - date: the local date in Europe/Oslo of the hour's start.
-- - volume and the light (< 5.6 m) / heavy (≥ 5.6 m) volumes: sums over the day's hours
--   (an hour without a count adds nothing).
-- - coverage_pct: the day's hourly coverage summed over the hours the local day has, 24, or
--   23 on the last Sunday of March and 25 on the last Sunday of October (the EU summer-time
--   rule Norway follows), so a missing hour lowers it. The repeated hour in October is two
--   distinct UTC hours and both count, as Statens vegvesen sums them.
-- - length_quality_pct: the hours' length quality weighted by their volume.
-- - day_type: weekday, weekend or holiday (day_type(date): Norway's public holidays and the
--   kommune's own from mobility.toml).
CREATE OR REPLACE VIEW traffic_daily AS
WITH h AS (
  SELECT trp_id,
    CAST(to_local_time(hour_start AT TIME ZONE 'Europe/Oslo') AS DATE) AS date,
    volume, coverage_pct, length_quality_pct, volume_lt_5_6m, volume_ge_5_6m
  FROM traffic_hourly
  WHERE scope = 'total'
),
d AS (
  SELECT trp_id, date,
    sum(volume) AS volume,
    sum(volume_lt_5_6m) AS volume_lt_5_6m,
    sum(volume_ge_5_6m) AS volume_ge_5_6m,
    sum(COALESCE(coverage_pct, 0)) AS coverage_sum,
    sum(length_quality_pct * volume) / NULLIF(sum(CASE WHEN length_quality_pct IS NOT NULL THEN volume END), 0)
      AS length_quality_pct,
    count(*) AS hours
  FROM h
  GROUP BY trp_id, date
)
SELECT trp_id, date, volume, volume_lt_5_6m, volume_ge_5_6m,
  least(100.0, coverage_sum / CASE
    WHEN date_part('month', date) = 3 AND date_part('dow', date) = 0 AND date_part('day', date) > 24 THEN 23.0
    WHEN date_part('month', date) = 10 AND date_part('dow', date) = 0 AND date_part('day', date) > 24 THEN 25.0
    ELSE 24.0 END) AS coverage_pct,
  length_quality_pct,
  hours,
  day_type(date) AS day_type
FROM d
