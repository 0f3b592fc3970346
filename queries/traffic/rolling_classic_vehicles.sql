-- title: Rolling traffic index: each vehicle point's monthly light-vehicle MDT (classic)
-- needs: traffic_hourly
-- views: traffic_mdt, traffic_index_subsets
-- Per subset, vehicle point and month: the light-vehicle (< 5.6 m) MDT of all days that
-- Statens vegvesen's rolling index reads (calculate_rolling_indices_by_mdt in snohan/byindeks;
-- DOMAIN.md §2.4, docs/traffic.md): length coverage ≥ 50 % and length quality ≥ 98.5 %.
-- `mobility run` averages them per point over the reference year (≥ 10 months) and over each
-- 12-, 24- and 36-month window (≥ 9, 20, 31 values), and sums the points that have both into
-- the area index (traffic_index_rolling, nullvekst). Vehicle points are those whose trp_kind
-- is not 'bicycle' (an id of another form stays).
SELECT s.subset, m.trp_id, m.year, m.month, m.mdt_lt_5_6m
FROM traffic_mdt m JOIN traffic_index_subsets s ON s.trp_id = m.trp_id
WHERE m.day_type = 'all' AND m.length_coverage_pct >= 50 AND m.length_quality_pct >= 98.5
  AND m.mdt_lt_5_6m IS NOT NULL
  AND trp_kind(m.trp_id) IS DISTINCT FROM 'bicycle'
