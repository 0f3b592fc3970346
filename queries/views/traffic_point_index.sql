-- Statens vegvesen's point index between consecutive years (DOMAIN.md §2.4, snohan/byindeks
-- calculate_trp_index): light vehicles (< 5.6 m); hours with coverage ≥ 99 % and length
-- quality ≥ 95 %; base and calc year matched date for date, hour for hour on local (month,
-- day, hour); days kept where the daily length quality is ≥ 95 % in both years; months kept
-- with ≥ 16 such days; index_p = 100·(Σ calc / Σ base − 1) over the kept months. One row per
-- point and month (month_index) and per point and year (the view traffic_point_index).
CREATE OR REPLACE VIEW traffic_point_index_monthly AS
WITH h AS (
  SELECT trp_id, to_local_time(hour_start AT TIME ZONE 'Europe/Oslo') AS t, volume_lt_5_6m AS v
  FROM traffic_hourly
  WHERE scope = 'total' AND coverage_pct >= 99 AND length_quality_pct >= 95 AND volume_lt_5_6m IS NOT NULL
),
k AS (
  SELECT trp_id,
    CAST(date_part('year', t) AS BIGINT) AS year, CAST(date_part('month', t) AS BIGINT) AS month,
    CAST(date_part('day', t) AS BIGINT) AS day, CAST(date_part('hour', t) AS BIGINT) AS hour,
    sum(v) AS v
  FROM h
  GROUP BY 1, 2, 3, 4, 5
),
days AS (
  SELECT b.trp_id, b.year AS base_year, c.year AS calc_year, b.month, b.day,
    sum(b.v) AS base, sum(c.v) AS calc, count(*) AS hours
  FROM k b
  JOIN k c ON c.trp_id = b.trp_id AND c.year = b.year + 1 AND c.month = b.month AND c.day = b.day AND c.hour = b.hour
  GROUP BY 1, 2, 3, 4, 5
),
good AS (
  SELECT d.* FROM days d
  JOIN traffic_daily qb ON qb.trp_id = d.trp_id AND qb.date = make_date(d.base_year, d.month, d.day)
  JOIN traffic_daily qc ON qc.trp_id = d.trp_id AND qc.date = make_date(d.calc_year, d.month, d.day)
  WHERE qb.length_quality_pct >= 95 AND qc.length_quality_pct >= 95
)
SELECT trp_id, base_year, calc_year, month,
  CAST(sum(base) AS DOUBLE) AS base_volume, CAST(sum(calc) AS DOUBLE) AS calc_volume,
  100.0 * (CAST(sum(calc) AS DOUBLE) / sum(base) - 1) AS index_p,
  count(*) AS n_days
FROM good
GROUP BY 1, 2, 3, 4
HAVING count(*) >= 16
