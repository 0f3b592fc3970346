-- Monthly average daily traffic (MDT) per counting point, for all days, weekdays (Monday to
-- Friday except public holidays, trafikkdata.no's working days), weekends and public holidays
-- (DOMAIN.md §2.3): daily_average over the month's days with coverage ≥ 95 %; its coverage
-- is the mean coverage of those days × their number / the days of that type in the month;
-- se has the finite-population correction. kind: vehicle or bicycle (trp_kind), so bicycle
-- points' MDT and ÅDT follow the same rules (for bicycles, `mdt`/`adt`; no length classes). Light and heavy MDT count only days whose length
-- quality is also ≥ 95 %, and heavy_share is their heavy share.
CREATE OR REPLACE VIEW traffic_mdt AS
WITH d AS (
  SELECT t.*,
    CAST(date_part('year', date) AS BIGINT) AS year,
    CAST(date_part('month', date) AS BIGINT) AS month,
    day_type(date) AS dt,
    CASE WHEN length_quality_pct >= 95 THEN coverage_pct ELSE 0 END AS length_coverage
  FROM traffic_daily t
),
x AS (
  SELECT trp_id, year, month, 'all' AS day_type, volume, volume_lt_5_6m, volume_ge_5_6m, coverage_pct, length_coverage, length_quality_pct FROM d
  UNION ALL
  SELECT trp_id, year, month, dt, volume, volume_lt_5_6m, volume_ge_5_6m, coverage_pct, length_coverage, length_quality_pct FROM d
),
a AS (
  SELECT trp_id, year, month, day_type,
    daily_average(volume, coverage_pct, days_in(year, month, day_type)) AS t,
    daily_average(volume_lt_5_6m, length_coverage, days_in(year, month, day_type)) AS l,
    daily_average(volume_ge_5_6m, length_coverage, days_in(year, month, day_type)) AS hv,
    avg(CASE WHEN coverage_pct >= 95 THEN length_quality_pct END) AS length_quality_pct
  FROM x
  GROUP BY trp_id, year, month, day_type
)
SELECT trp_id, year, month, day_type,
  t['mean'] AS mdt, t['n_days'] AS n_days, t['days_in_period'] AS days_in_period,
  t['coverage_pct'] AS coverage_pct, l['coverage_pct'] AS length_coverage_pct, t['sd'] AS sd, t['se'] AS se,
  t['ci_lower'] AS ci_lower, t['ci_upper'] AS ci_upper,
  l['mean'] AS mdt_lt_5_6m, hv['mean'] AS mdt_ge_5_6m,
  hv['mean'] / NULLIF(l['mean'] + hv['mean'], 0) AS heavy_share,
  length_quality_pct,
  trp_kind(trp_id) AS kind
FROM a
