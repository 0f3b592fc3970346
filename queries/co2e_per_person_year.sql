-- title: CO₂e per person per year from daily travel
-- estimator: mean
-- unit: kg CO₂e/person/year
-- needs: persons, households, trips, emission_factors, fleet_mix, occupancy
-- y = 365 × the person's travel-day kilometres × g CO₂e per person-km of the mode
-- (mode_factors: car-driver km as vehicle-km with the fleet's factor, public transport per
-- person-km) / 1000, x = 1. Linear in the person's km by mode with the factors fixed, so its
-- SE is linearised; `--variance bootstrap` gives the Rao–Wu bootstrap instead.
SELECT t.person_id, t.purpose, distance_band(t.distance_km) AS distance_band,
  365.0 * t.distance_km * f.g_per_pkm / 1000.0 AS y
FROM trips t
JOIN mode_factors f ON f.mode = t.mode
WHERE t.distance_km IS NOT NULL
