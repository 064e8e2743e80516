"""Distances and the grid the finder searches: pure functions, no I/O.

The grid is cells of `CELL_DEGREES` in latitude and longitude; each position stores its cell,
and the finder reads the square of cells around a point, ring by ring, until the k nearest
are certain (see `finder.py`).
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # the IUGG mean Earth radius
CELL_DEGREES = 0.02  # about 2.2 km north-south: a few city blocks hold a handful of positions
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180
# China's mainland and islands lie within these bounds (with a margin).
LATITUDE_RANGE = (3.0, 54.0)
LONGITUDE_RANGE = (73.0, 136.0)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def cell_of(latitude: float, longitude: float) -> tuple[int, int]:
    """(row, column) of the grid cell holding a point."""
    return math.floor(latitude / CELL_DEGREES), math.floor(longitude / CELL_DEGREES)


def covered_radius_km(latitude: float, ring: int) -> float:
    """How far from a point the square of cells `ring` away on every side is certainly
    searched: the point may sit at the edge of its own cell, so only `ring` whole cells count,
    and a degree of longitude shrinks with the cosine of the highest latitude in the square."""
    if ring <= 0:
        return 0.0
    highest = min(89.9, abs(latitude) + (ring + 1) * CELL_DEGREES)
    return ring * CELL_DEGREES * KM_PER_DEGREE * math.cos(math.radians(highest))


def check_point(latitude: float, longitude: float) -> None:
    if not LATITUDE_RANGE[0] <= latitude <= LATITUDE_RANGE[1]:
        raise ValueError(
            f"纬度 {latitude} 不在我国范围内（{LATITUDE_RANGE[0]}～{LATITUDE_RANGE[1]}）"
        )
    if not LONGITUDE_RANGE[0] <= longitude <= LONGITUDE_RANGE[1]:
        raise ValueError(
            f"经度 {longitude} 不在我国范围内（{LONGITUDE_RANGE[0]}～{LONGITUDE_RANGE[1]}）"
        )
