-- title: Traffic index between consecutive years: each point's volumes (classic)
-- needs: traffic_hourly
-- views: traffic_point_index, traffic_index_subsets
-- Per subset, vehicle point and pair of consecutive years: the light-vehicle base and calc
-- volumes of the point index (traffic_point_index: hour-matched, as Statens vegvesen's
-- calculate_trp_index in snohan/byindeks; DOMAIN.md §2.4, docs/traffic.md) and the last month
-- they cover. `mobility run` sums them per subset into the area index (calculate_area_index:
-- R = Σ calc / Σ base) and chains consecutive years (calculate_two_year_index). Vehicle
-- points are those whose trp_kind is not 'bicycle' (an id of another form stays). One row
-- per point: two points with equal volumes are two points.
SELECT s.subset, i.base_year, i.calc_year, max(i.last_month) AS last_month,
  i.base_volume, i.calc_volume
FROM traffic_point_index i JOIN traffic_index_subsets s ON s.trp_id = i.trp_id
WHERE trp_kind(i.trp_id) IS DISTINCT FROM 'bicycle'
GROUP BY s.subset, i.trp_id, 2, 3, 5, 6
