-- Calendar-adjusted MDT per counting point (Statens vegvesen's 2027 byindeks method, as coded
-- in snohan/byindeks calculate_calendar_adjusted_mdt(), calendar_effects.R; docs/traffic.md):
-- - days kept: total coverage ≥ 99 % and length quality ≥ 97.5 % (bicycle points, which count
--   no lengths: coverage only);
-- - each day's class, calendar_day_class(date): working, non_working, or the Easter and
--   Whitsun periods, which are periods of their own;
-- - per month (period = 'month'): the plain means of the working and of the non-working days,
--   and mdt = w·working_mean + (1 − w)·non_working_mean with w = working_day_weight(month),
--   only when the month has ≥ 7 working and ≥ 3 non-working days kept; mdt_rounded to 10
--   vehicles as Statens vegvesen publishes it; the same for light vehicles (< 5.6 m);
-- - per Easter or Whitsun period (period = 'easter' / 'whitsun', month NULL: Easter can span
--   March and April): the plain mean of its days, only when every day of the period is kept
--   (11 and 4 days).
CREATE OR REPLACE VIEW traffic_mdt_calendar AS
WITH d AS (
  SELECT trp_id, date, volume, volume_lt_5_6m,
    CAST(date_part('year', date) AS BIGINT) AS year,
    CAST(date_part('month', date) AS BIGINT) AS month,
    calendar_day_class(date) AS class
  FROM traffic_daily
  -- Bicycle points count no lengths: length quality applies to vehicle points only.
  WHERE coverage_pct >= 99
    AND (length_quality_pct >= 97.5 OR trp_kind(trp_id) = 'bicycle')
),
m AS (
  SELECT trp_id, year, month,
    sum(CASE WHEN class = 'working' THEN 1 ELSE 0 END) AS working_days,
    sum(CASE WHEN class = 'non_working' THEN 1 ELSE 0 END) AS non_working_days,
    avg(CASE WHEN class = 'working' THEN volume END) AS working_mean,
    avg(CASE WHEN class = 'non_working' THEN volume END) AS non_working_mean,
    avg(CASE WHEN class = 'working' THEN volume_lt_5_6m END) AS working_mean_lt_5_6m,
    avg(CASE WHEN class = 'non_working' THEN volume_lt_5_6m END) AS non_working_mean_lt_5_6m
  FROM d
  WHERE class IN ('working', 'non_working')
  GROUP BY trp_id, year, month
),
months AS (
  SELECT trp_id, year, month, 'month' AS period, working_days, non_working_days,
    working_mean, non_working_mean, working_day_weight(month) AS weight,
    CASE WHEN working_days >= 7 AND non_working_days >= 3 THEN
      working_day_weight(month) * working_mean + (1 - working_day_weight(month)) * non_working_mean
    END AS mdt,
    CASE WHEN working_days >= 7 AND non_working_days >= 3 THEN
      working_day_weight(month) * working_mean_lt_5_6m
        + (1 - working_day_weight(month)) * non_working_mean_lt_5_6m
    END AS mdt_lt_5_6m
  FROM m
),
holidays AS (
  SELECT trp_id, year, CAST(NULL AS BIGINT) AS month, class AS period,
    count(*) AS days,
    avg(volume) AS mean,
    avg(volume_lt_5_6m) AS mean_lt_5_6m
  FROM d
  WHERE class IN ('easter', 'whitsun')
  GROUP BY trp_id, year, class
)
SELECT trp_id, year, month, period, working_days, non_working_days, working_mean,
  non_working_mean, weight, mdt, round(mdt, -1) AS mdt_rounded, mdt_lt_5_6m,
  round(mdt_lt_5_6m, -1) AS mdt_lt_5_6m_rounded
FROM months
UNION ALL
SELECT trp_id, year, month, period, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS DOUBLE),
  CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE),
  CASE WHEN days = CASE period WHEN 'easter' THEN 11 ELSE 4 END THEN mean END,
  CASE WHEN days = CASE period WHEN 'easter' THEN 11 ELSE 4 END THEN round(mean, -1) END,
  CASE WHEN days = CASE period WHEN 'easter' THEN 11 ELSE 4 END THEN mean_lt_5_6m END,
  CASE WHEN days = CASE period WHEN 'easter' THEN 11 ELSE 4 END THEN round(mean_lt_5_6m, -1) END
FROM holidays
