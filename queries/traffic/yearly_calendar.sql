-- title: Traffic index between consecutive years: each point's volumes (calendar-adjusted MDT)
-- needs: traffic_hourly
-- views: traffic_mdt_calendar, traffic_index_subsets
-- Per subset, vehicle point and pair of consecutive years: the sums of the point's rounded
-- light-vehicle calendar-adjusted MDTs (traffic_mdt_calendar: Statens vegvesen's 2027 byindeks
-- method, calculate_calendar_adjusted_mdt in snohan/byindeks; docs/traffic.md) over the months
-- both years have, and the last of those months (`mobility run --index-method calendar`).
-- `mobility run` sums them per subset into the area index (calculate_area_index:
-- R = Σ calc / Σ base) and chains consecutive years (calculate_two_year_index). Vehicle
-- points are those whose trp_kind is not 'bicycle' (an id of another form stays). One row
-- per point.
SELECT s.subset, b.year AS base_year, c.year AS calc_year, max(b.month) AS last_month,
  sum(b.mdt_lt_5_6m_rounded) AS base_volume, sum(c.mdt_lt_5_6m_rounded) AS calc_volume
FROM traffic_mdt_calendar b
JOIN traffic_mdt_calendar c ON c.trp_id = b.trp_id AND c.year = b.year + 1 AND c.month = b.month
JOIN traffic_index_subsets s ON s.trp_id = b.trp_id
WHERE b.period = 'month' AND c.period = 'month'
  AND b.mdt_lt_5_6m_rounded IS NOT NULL AND c.mdt_lt_5_6m_rounded IS NOT NULL
  AND trp_kind(b.trp_id) IS DISTINCT FROM 'bicycle'
GROUP BY s.subset, b.trp_id, b.year, c.year
