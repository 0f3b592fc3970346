-- title: Trips per person per day
-- kind: ratio
-- unit: trips/person/day
-- needs: persons, households, trips
-- y = the person's trips on the travel day (0 without trips), x = 1 (DOMAIN.md §2.1).
-- Returns the per-stratum sums the ratio estimator needs (mobility-stats, ratio.rs).
WITH y AS (
  SELECT person_id, CAST(count(*) AS DOUBLE) AS y FROM trips GROUP BY person_id
)
SELECT
  d.breakdown,
  d.breakdown_value,
  d.stratum,
  count(*) AS n_d,
  sum(d.w) AS sw,
  sum(d.w * d.w) AS sw2,
  sum(d.w * COALESCE(y.y, 0)) AS sw_y,
  sum(d.w) AS sw_x,
  sum(d.w * d.w * COALESCE(y.y, 0) * COALESCE(y.y, 0)) AS sw2_yy,
  sum(d.w * d.w * COALESCE(y.y, 0)) AS sw2_xy,
  sum(d.w * d.w) AS sw2_xx
FROM person_domains d
LEFT JOIN y ON y.person_id = d.person_id
GROUP BY d.breakdown, d.breakdown_value, d.stratum
