-- The point index over the kept months of each pair of years (see traffic_point_index_monthly);
-- last_month < 12 makes it a year-to-date index.
CREATE OR REPLACE VIEW traffic_point_index AS
SELECT trp_id, base_year, calc_year,
  sum(base_volume) AS base_volume, sum(calc_volume) AS calc_volume,
  100.0 * (sum(calc_volume) / sum(base_volume) - 1) AS index_p,
  count(*) AS n_months, sum(n_days) AS n_days, max(month) AS last_month
FROM traffic_point_index_monthly
GROUP BY 1, 2, 3
