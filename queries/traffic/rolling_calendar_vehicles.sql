-- title: Rolling traffic index: each vehicle point's monthly light-vehicle MDT (calendar-adjusted)
-- needs: traffic_hourly
-- views: traffic_mdt_calendar, traffic_index_subsets
-- Per subset, vehicle point and month: the rounded light-vehicle calendar-adjusted MDT
-- (traffic_mdt_calendar: Statens vegvesen's 2027 byindeks method, calculate_calendar_adjusted_mdt
-- in snohan/byindeks; docs/traffic.md), for `mobility run --index-method calendar`. Its own
-- day filter (coverage ≥ 99 %, length quality ≥ 97.5 %) and month rule (≥ 7 working, ≥ 3
-- non-working days) replace the MDT filters of the classic index. `mobility run` averages
-- them per point over the reference year (≥ 10 months) and over each 12-, 24- and 36-month
-- window (≥ 9, 20, 31 values; calculate_rolling_indices_by_mdt), and sums the points that have
-- both into the area index (traffic_index_rolling, nullvekst). Vehicle points are those whose
-- trp_kind is not 'bicycle' (an id of another form stays).
SELECT s.subset, m.trp_id, m.year, m.month, m.mdt_lt_5_6m_rounded
FROM traffic_mdt_calendar m JOIN traffic_index_subsets s ON s.trp_id = m.trp_id
WHERE m.period = 'month' AND m.mdt_lt_5_6m_rounded IS NOT NULL
  AND trp_kind(m.trp_id) IS DISTINCT FROM 'bicycle'
