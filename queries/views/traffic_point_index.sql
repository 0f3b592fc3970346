-- Statens vegvesen's point index between consecutive years (DOMAIN.md §2.4, snohan/byindeks
-- calculate_trp_index): light vehicles (< 5.6 m); hours with coverage ≥ 99 % and length
-- quality ≥ 95 % after rounding to whole percent as R's round() does (half to even, so the
-- tests read > 98.5 and > 94.5); base and calc year matched date for date, hour for hour on
-- local (month, day, hour); days kept with ≥ 16 matched hours and a daily length quality that
-- rounds to ≥ 95 % in both years; months kept with ≥ 16 such days; index_p =
-- 100·(Σ calc / Σ base − 1) over the kept months. One row per point and month (month_index)
-- and per point and year (the view traffic_point_index).
-- The 16-hour rule stood beside the length-quality rule in calculate_trp_index from 2023-11
-- (8a0d218) until a Tromsø tourist-season index, which keeps only hours 9–14 and 17–23,
-- commented it out (da57f3e, 2026-02); without that hour filter it applies (docs/traffic.md).
CREATE OR REPLACE VIEW traffic_point_index_monthly AS
WITH h AS (
  SELECT trp_id, to_local_time(hour_start AT TIME ZONE 'Europe/Oslo') AS t, volume_lt_5_6m AS v
  FROM traffic_hourly
  WHERE scope = 'total' AND coverage_pct > 98.5 AND length_quality_pct > 94.5 AND volume_lt_5_6m IS NOT NULL
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
  WHERE d.hours >= 16 AND qb.length_quality_pct > 94.5 AND qc.length_quality_pct > 94.5
)
SELECT trp_id, base_year, calc_year, month,
  CAST(sum(base) AS DOUBLE) AS base_volume, CAST(sum(calc) AS DOUBLE) AS calc_volume,
  100.0 * (CAST(sum(calc) AS DOUBLE) / sum(base) - 1) AS index_p,
  count(*) AS n_days
FROM good
GROUP BY 1, 2, 3, 4
HAVING count(*) >= 16
