-- title: Residents within walking distance of a public-transport stop
-- estimator: ratio
-- unit: share of persons
-- needs: persons, households, pt_stops
-- y = 1 if the person's home is within `within_m` metres (geodesic, nearest_stop_m) of a stop
-- of pt_stops, x = 1 for every person whose home has coordinates (DOMAIN.md §2.1): the
-- weighted share of residents, per home zone through the home_zone breakdown. Persons whose
-- home has no coordinates are in no cell's denominator.
SELECT p.person_id, b.within_m,
  CASE WHEN nearest_stop_m(h.home_lon, h.home_lat) <= b.within_m THEN 1.0 ELSE 0.0 END AS y,
  1.0 AS x
FROM persons p
JOIN households h ON h.household_id = p.household_id
CROSS JOIN (VALUES (300), (500), (1000)) AS b(within_m)
WHERE h.home_lon IS NOT NULL AND h.home_lat IS NOT NULL
