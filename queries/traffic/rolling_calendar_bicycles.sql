-- title: Rolling bicycle index: each bicycle point's monthly MDT (calendar-adjusted)
-- needs: traffic_hourly
-- views: traffic_mdt_calendar, traffic_index_subsets
-- Per subset, bicycle point and month: the rounded calendar-adjusted MDT of every bicycle
-- (traffic_mdt_calendar: Statens vegvesen's 2027 byindeks method, calculate_calendar_adjusted_mdt
-- in snohan/byindeks; docs/traffic.md; bicycle days kept by coverage alone), for
-- `mobility run --index-method calendar`. Its own day filter and month rule (≥ 7 working,
-- ≥ 3 non-working days) replace the MDT filters of the classic index. `mobility run` averages
-- them per point over the reference year (≥ 10 months) and over each 12-, 24- and 36-month
-- window (≥ 9, 20, 31 values; calculate_rolling_indices_by_mdt), and sums the points that have
-- both into the area index (bike_traffic_index_rolling). Bicycle points are those whose
-- trp_kind is 'bicycle'.
SELECT s.subset, m.trp_id, m.year, m.month, m.mdt_rounded
FROM traffic_mdt_calendar m JOIN traffic_index_subsets s ON s.trp_id = m.trp_id
WHERE m.period = 'month' AND m.mdt_rounded IS NOT NULL
  AND trp_kind(m.trp_id) = 'bicycle'
