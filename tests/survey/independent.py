#!/usr/bin/env python3
"""An independent check of mobility's survey estimators with samplics (Taylor linearisation,
stratified, person = PSU, with replacement) on a data directory's Parquet tables.

    python3 tests/survey/independent.py <data-dir>

Prints one JSON object per line: indicator, breakdown, breakdown_value, key, estimate, se.
The y and x of each indicator are built here from trips with pandas, not from mobility's SQL.

A domain estimate is samplics' domain estimator written out: the ratio of y·1_d and x·1_d over
the whole sample (samplics' `domain=` does the same, but gives up on a whole breakdown when one
domain's estimate is 0, for it divides by the estimate for the CV). A domain where nobody has
y ≠ 0 (car drivers aged 13-17 on the shipped sample) has the estimate 0 and no CV; it is printed
with "left_out" and a reason instead of an SE, and the caller checks mobility's estimate is 0
there. Any other failure of samplics (a division by zero, an estimate that is not finite) stops
the script with a message and exit status 1.
"""
import json, math, sys, warnings

warnings.filterwarnings("ignore")
warnings.simplefilter("ignore")
import numpy as np
import pandas as pd
from samplics.estimation import TaylorEstimator
from samplics.utils.types import PopParam

data = sys.argv[1]
persons = pd.read_parquet(f"{data}/persons")
households = pd.read_parquet(f"{data}/households")
trips = pd.read_parquet(f"{data}/trips")
p = persons.merge(households[["household_id", "home_zone_id"]], on="household_id", how="left")
p["stratum"] = p["stratum"].fillna("")
age = p["age"]
p["age_band"] = np.select(
    [age.isna(), age < 18, age < 30, age < 45, age < 67],
    [None, "13-17", "18-29", "30-44", "45-66"], default="67+")


def per_person(series):
    return p["person_id"].map(series).fillna(0.0).astype(float).to_numpy()


def fail(msg):
    sys.exit(f"independent.py: {msg}")


def ratio(what, y, x):
    est = TaylorEstimator(PopParam.ratio)
    try:
        est.estimate(y=y, x=x, samp_weight=p["weight"].to_numpy(), stratum=p["stratum"].to_numpy(),
                     psu=p["person_id"].to_numpy(), remove_nan=False)
    except ZeroDivisionError as e:
        fail(f"{what}: samplics divided by zero ({e}); Σ w·y = {np.sum(p['weight'] * y)}, "
             f"Σ w·x = {np.sum(p['weight'] * x)}")
    e, s = float(est.point_est), float(est.stderror)
    if not (math.isfinite(e) and math.isfinite(s)):
        fail(f"{what}: samplics gave estimate {e}, se {s}")
    return e, s


def emit(indicator, breakdown, key, y, x):
    what = f"{indicator} by {breakdown}, key {key}"
    if breakdown == "all":
        e, s = ratio(what, y, x)
        print(json.dumps({"indicator": indicator, "breakdown": "all", "breakdown_value": None, "key": key,
                          "estimate": e, "se": s}))
        return
    labels = p[breakdown]
    values = sorted(labels.dropna().unique(), key=str)
    if not values:
        fail(f"{what}: no person has a {breakdown}")
    for v in values:
        inside = labels.eq(v).fillna(False).to_numpy(dtype=bool)
        cell = {"indicator": indicator, "breakdown": breakdown, "breakdown_value": str(v), "key": key}
        if not np.any(y[inside] != 0):
            cell.update(estimate=0.0, se=None,
                        left_out="nobody in the domain has y ≠ 0: the estimate is 0 and samplics cannot give its CV")
            print(json.dumps(cell))
            continue
        e, s = ratio(f"{what} = {v}", y * inside, x * inside)
        cell.update(estimate=e, se=s)
        print(json.dumps(cell))


ones = np.ones(len(p))
n_trips = per_person(trips.groupby("person_id").size())
km = per_person(trips.groupby("person_id")["distance_km"].sum())
for b in ["all", "gender", "age_band", "home_zone_id"]:
    emit("trips_per_person_day", b, None, n_trips, ones)
    emit("km_per_person_day", b, None, km, ones)
moded = trips[trips["mode"].notna()]
x_all = per_person(moded.groupby("person_id").size())
for mode in ["car_driver", "bike", "walk", "rail"]:
    y = per_person(moded[moded["mode"] == mode].groupby("person_id").size())
    for b in ["all", "age_band"]:
        emit("mode_share_trips", b, mode, y, x_all)
car = trips[trips["mode"].isin(["car_driver", "car_passenger"])]
y = per_person(car.groupby("person_id")["distance_km"].sum())
x = per_person(car[car["mode"] == "car_driver"].groupby("person_id")["distance_km"].sum())
for b in ["all", "gender"]:
    emit("car_occupancy", b, None, y, x)
