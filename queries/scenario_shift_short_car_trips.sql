-- title: Scenario: a share of short car trips made by bike or on foot
-- estimator: mean
-- unit: see measure
-- needs: persons, households, trips, emission_factors, fleet_mix, occupancy
-- scenario: shift-short-car-trips
-- A share s of every car-driver trip under 5 km is made by bike or on foot instead, so s of
-- its kilometres are no longer driven (expected value per trip). Per person: the baseline and
-- the change of car vehicle-km per day and of CO₂e per year. s is the named parameter
-- $shift_short_car_trips, set by `mobility run --scenario shift-short-car-trips=s`.
SELECT person_id, measure, sum(y) AS y FROM (
  SELECT t.person_id, 'vehicle_km_per_day_baseline' AS measure, t.distance_km AS y
  FROM trips t WHERE t.mode = 'car_driver' AND t.distance_km IS NOT NULL
  UNION ALL
  SELECT t.person_id, 'vehicle_km_per_day_change', -$shift_short_car_trips * t.distance_km
  FROM trips t WHERE t.mode = 'car_driver' AND t.distance_km < 5
  UNION ALL
  SELECT t.person_id, 'co2e_kg_per_year_baseline', 365.0 * t.distance_km * f.g_per_pkm / 1000.0
  FROM trips t JOIN mode_factors f ON f.mode = t.mode WHERE t.distance_km IS NOT NULL
  UNION ALL
  SELECT t.person_id, 'co2e_kg_per_year_change', -$shift_short_car_trips * 365.0 * t.distance_km * f.g_per_pkm / 1000.0
  FROM trips t JOIN mode_factors f ON f.mode = t.mode WHERE t.mode = 'car_driver' AND t.distance_km < 5
) s
GROUP BY 1, 2
