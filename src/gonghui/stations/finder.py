"""The nearest open positions to a point, filtered by type and amenities; and the open
positions whose district, address or name holds what a member typed (芝罘区, 南大街).

Each position stores its grid cell (`geo.cell_of`); the finder reads the square of cells
around the point, widening it ring by ring (doubling), and ranks the candidates by exact
haversine distance. It stops once the k-th nearest lies within the radius the square is
certain to cover, so the answer is the same as a scan of every position (a property test
holds it to that), while reading only a few cells' rows through the (cell_row, cell_col) index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from gonghui.stations.geo import cell_of, covered_radius_km, haversine_km
from gonghui.stations.models import Position
from gonghui.stations.rules import OPEN_STATUSES

MAX_RESULTS = 50
# Past this many cells on each side (about 1,100 km) the whole table is read instead.
MAX_RING = 512


MAX_QUERY = 30  # characters of a district, street or address fragment


@dataclass(frozen=True)
class Place:
    """An open position as a list of results shows it; `Found` when its distance is known."""

    position_id: int
    name: str
    latitude: float
    longitude: float
    type_mask: int
    amenity_mask: int
    open_24h: bool
    address: str
    hours: str
    district: str


@dataclass(frozen=True)
class Found(Place):
    distance_km: float


def _filters(type_mask: int, amenity_mask: int) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if type_mask:
        conditions.append(Position.type_mask.op("&")(type_mask) == type_mask)
    if amenity_mask:
        conditions.append(Position.amenity_mask.op("&")(amenity_mask) == amenity_mask)
    return conditions


_COLUMNS = (
    Position.id,
    Position.name,
    Position.latitude,
    Position.longitude,
    Position.type_mask,
    Position.amenity_mask,
    Position.open_24h,
    Position.address,
    Position.hours,
    Position.district,
)
# Closed and red-carded positions are dropped after the read, not in the WHERE clause: with a
# condition on status there, SQLite's planner may pick the status index (nearly every
# position is active) over the cell index, and read the whole table.
_OPEN = [status.value for status in OPEN_STATUSES]


def _ranked(rows: list[tuple[object, ...]], latitude: float, longitude: float) -> list[Found]:
    found = [
        Found(*row, distance_km=haversine_km(latitude, longitude, row[2], row[3]))  # type: ignore[arg-type, misc]
        for row in rows
    ]
    # Ties broken by id, so the index and the scan give the very same list.
    found.sort(key=lambda one: (one.distance_km, one.position_id))
    return found


def nearest(
    session: Session,
    latitude: float,
    longitude: float,
    k: int = 10,
    *,
    type_mask: int = 0,
    amenity_mask: int = 0,
) -> list[Found]:
    k = max(1, min(k, MAX_RESULTS))
    row, col = cell_of(latitude, longitude)
    conditions = _filters(type_mask, amenity_mask)
    ring = 1
    while ring <= MAX_RING:
        square = select(*_COLUMNS, Position.status).where(
            *conditions,
            Position.cell_row.between(row - ring, row + ring),
            Position.cell_col.between(col - ring, col + ring),
        )
        rows = [tuple(r)[:-1] for r in session.execute(square) if r[-1] in _OPEN]
        found = _ranked(rows, latitude, longitude)
        if len(found) >= k and found[k - 1].distance_km <= covered_radius_km(latitude, ring):
            return found[:k]
        ring *= 2
    return scan(session, latitude, longitude, k, type_mask=type_mask, amenity_mask=amenity_mask)


def scan(
    session: Session,
    latitude: float,
    longitude: float,
    k: int = 10,
    *,
    type_mask: int = 0,
    amenity_mask: int = 0,
) -> list[Found]:
    """Every open position ranked: the reference the index must agree with."""
    conditions = [*_filters(type_mask, amenity_mask), Position.status.in_(OPEN_STATUSES)]
    rows = session.execute(select(*_COLUMNS).where(*conditions))
    return _ranked([tuple(r) for r in rows], latitude, longitude)[:k]


def _terms(text: str) -> list[str]:
    """What a member typed, as words (any space, the full-width one too), each bounded."""
    return [term for term in text[:MAX_QUERY].split() if term]


def _matching(term: str) -> ColumnElement[bool]:
    return or_(
        *(
            column.contains(term, autoescape=True)
            for column in (Position.district, Position.address, Position.name)
        )
    )


def search(
    session: Session,
    text: str,
    *,
    near: tuple[float, float] | None = None,
    type_mask: int = 0,
    amenity_mask: int = 0,
    limit: int = MAX_RESULTS,
) -> list[Place]:
    """The open positions whose district, address or name holds every word of `text`: nearest
    first (as `Found`) when the member's location is known, else by district and name."""
    terms = _terms(text)
    if not terms:
        return []
    limit = max(1, min(limit, MAX_RESULTS))
    conditions = [
        *_filters(type_mask, amenity_mask),
        Position.status.in_(OPEN_STATUSES),
        and_(*(_matching(term) for term in terms)),
    ]
    statement = select(*_COLUMNS).where(*conditions)
    if near is None:
        ordered = statement.order_by(Position.district, Position.name, Position.id).limit(limit)
        return [Place(*tuple(row)) for row in session.execute(ordered)]
    latitude, longitude = near
    # Ordered in SQL by the flat-earth distance (plain arithmetic, the same on SQLite and
    # PostgreSQL), twice the rows read, then ranked by the exact one: at a city's scale the
    # two orders differ only among near ties, well inside the margin.
    shrink = math.cos(math.radians(latitude))
    flat = (Position.latitude - latitude) * (Position.latitude - latitude) + (
        (Position.longitude - longitude) * shrink
    ) * ((Position.longitude - longitude) * shrink)
    rows = session.execute(statement.order_by(flat, Position.id).limit(2 * limit))
    return list(_ranked([tuple(row) for row in rows], latitude, longitude)[:limit])
