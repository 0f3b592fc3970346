#!/usr/bin/env python3
"""An independent check of mobility's survey estimators with samplics (Taylor linearisation,
stratified, person = PSU, with replacement) on a data directory's Parquet tables.

    python3 tests/survey/independent.py <data-dir>

Prints one JSON object per line: indicator, breakdown, breakdown_value, key, estimate, se.
The y and x of each indicator are built here from trips with pandas, not from mobility's SQL.
"""
import json, sys, warnings

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


def ratio(y, x, domain=None):
    est = TaylorEstimator(PopParam.ratio)
    est.estimate(y=y, x=x, samp_weight=p["weight"].to_numpy(), stratum=p["stratum"].to_numpy(),
                 psu=p["person_id"].to_numpy(), domain=domain, remove_nan=False)
    return est.point_est, est.stderror


def emit(indicator, breakdown, key, y, x):
    if breakdown == "all":
        e, s = ratio(y, x)
        print(json.dumps({"indicator": indicator, "breakdown": "all", "breakdown_value": None, "key": key,
                          "estimate": float(e), "se": float(s)}))
        return
    dom = p[breakdown].astype(object).where(p[breakdown].notna(), "__none__").to_numpy()
    try:
        e, s = ratio(y, x, dom)
    except ZeroDivisionError:
        # samplics divides by a domain's estimate for its CV; a domain where nobody used the
        # mode stops it, so such a combination is left out of the check.
        return
    for v in e:
        if v == "__none__":
            continue
        print(json.dumps({"indicator": indicator, "breakdown": breakdown, "breakdown_value": str(v), "key": key,
                          "estimate": float(e[v]), "se": float(s[v])}))


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
