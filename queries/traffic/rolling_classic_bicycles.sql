-- title: Rolling bicycle index: each bicycle point's monthly MDT (classic)
-- needs: traffic_hourly
-- views: traffic_mdt, traffic_index_subsets
-- Per subset, bicycle point and month: the MDT of every bicycle on all days, with coverage
-- ≥ 50 % (bicycles have no length classes, so the length rules of Statens vegvesen's
-- calculate_rolling_indices_by_mdt in snohan/byindeks give way to the coverage; DOMAIN.md
-- §2.4, docs/traffic.md). `mobility run` averages them per point over the reference year
-- (≥ 10 months) and over each 12-, 24- and 36-month window (≥ 9, 20, 31 values), and sums the
-- points that have both into the area index (bike_traffic_index_rolling). Bicycle points are
-- those whose trp_kind is 'bicycle'.
SELECT s.subset, m.trp_id, m.year, m.month, m.mdt
FROM traffic_mdt m JOIN traffic_index_subsets s ON s.trp_id = m.trp_id
WHERE m.day_type = 'all' AND m.coverage_pct >= 50 AND m.mdt IS NOT NULL
  AND trp_kind(m.trp_id) = 'bicycle'
