-- title: Car occupancy
-- estimator: ratio
-- unit: persons/car
-- needs: persons, households, trips
-- y = the person's km as car driver or passenger, x = the person's km as driver
-- (DOMAIN.md §2.1): person-km in cars per car-km.
SELECT person_id, purpose, distance_band(distance_km) AS distance_band,
  distance_km AS y,
  CASE WHEN mode = 'car_driver' THEN distance_km ELSE 0 END AS x
FROM trips
WHERE mode IN ('car_driver', 'car_passenger')
