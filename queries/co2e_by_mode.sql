-- title: CO₂e per person per year by mode
-- estimator: mean
-- unit: kg CO₂e/person/year
-- needs: persons, households, trips, emission_factors, fleet_mix, occupancy
-- As co2e_per_person_year, one cell per mode; the modes sum to the total.
SELECT t.person_id, t.mode, 365.0 * t.distance_km * f.g_per_pkm / 1000.0 AS y
FROM trips t
JOIN mode_factors f ON f.mode = t.mode
WHERE t.distance_km IS NOT NULL
