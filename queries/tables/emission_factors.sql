-- title: The emission factors the run used, with their sources
-- unit: g CO2e per vehicle-km and per person-km
-- needs: emission_factors
-- The rows of `emission_factors` (from the data directory, or from `run --factors`) as the
-- CO₂e indicators read them, so the outputs say which factors they rest on.
SELECT year, mode, fuel, g_co2e_per_vkm, g_co2e_per_pkm, source
FROM emission_factors
ORDER BY mode, fuel, year
