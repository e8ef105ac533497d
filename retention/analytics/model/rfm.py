"""Reference computation of the model inputs (x, t_x, T, m_x) from raw orders.

Production computes these in SQL; this is the executable definition (kpis.md) that tests
and the SQL are checked against. Dates are UTC: timezone-aware values are converted to UTC
before their date is taken, naive values are taken to be UTC already.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Rfm:
    """One entry per customer with a purchase on or before ``as_of``, sorted by id.

    ``m_x`` is NaN for customers with x == 0 (no repeat purchase day to average).
    """

    customer_ids: npt.NDArray[Any]
    x: npt.NDArray[np.int64]
    t_x: npt.NDArray[np.int64]
    T: npt.NDArray[np.int64]
    m_x: npt.NDArray[np.float64]


def _utc_naive(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _to_days(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Dates or datetimes -> days since 1970-01-01 (UTC calendar date)."""
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.array([_utc_naive(v) for v in arr.ravel()], dtype="datetime64[ns]")
    elif arr.dtype.kind in "US":
        arr = arr.astype("datetime64[ns]")
    # datetime64 -> coarser unit floors, so 23:59 stays on its own day.
    return np.asarray(arr.astype("datetime64[D]").astype(np.int64), dtype=np.int64).ravel()


def rfm_from_purchases(
    customer_ids: npt.ArrayLike,
    dates: npt.ArrayLike,
    revenue: npt.ArrayLike,
    as_of: Any,
) -> Rfm:
    """x, t_x, T, m_x per customer for a calibration period ending on day ``as_of`` (inclusive).

    One row per order (columns of a DataFrame work). Several orders on one day are one
    purchase day whose revenue is their sum; orders after ``as_of`` are ignored.
    """
    ids = np.asarray(customer_ids).ravel()
    days = _to_days(dates)
    rev = np.asarray(revenue, dtype=np.float64).ravel()
    if not (ids.size == days.size == rev.size):
        raise ValueError(f"columns differ in length: {ids.size}, {days.size}, {rev.size}")
    end = int(_to_days([_utc_naive(as_of) if not isinstance(as_of, str) else as_of])[0])

    keep = days <= end
    ids, days, rev = ids[keep], days[keep], rev[keep]
    uniq_ids, code = np.unique(ids, return_inverse=True)

    # Collapse orders to (customer, day) purchase days, sorted by customer then day.
    order = np.lexsort((days, code))
    code, days, rev = code[order], days[order], rev[order]
    new_day = np.ones(code.size, dtype=bool)
    new_day[1:] = (code[1:] != code[:-1]) | (days[1:] != days[:-1])
    starts = np.flatnonzero(new_day)
    pd_code, pd_day = code[starts], days[starts]
    pd_rev = np.add.reduceat(rev, starts) if starts.size else np.zeros(0)

    first_idx = np.flatnonzero(np.r_[True, pd_code[1:] != pd_code[:-1]]) if starts.size else starts
    last_idx = np.r_[first_idx[1:] - 1, pd_code.size - 1] if starts.size else starts
    n_days = last_idx - first_idx + 1
    first_day, last_day = pd_day[first_idx], pd_day[last_idx]

    x = (n_days - 1).astype(np.int64)
    total = np.add.reduceat(pd_rev, first_idx) if starts.size else np.zeros(0)
    repeat_rev = total - pd_rev[first_idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        m_x = np.where(x > 0, repeat_rev / x, np.nan)
    return Rfm(
        customer_ids=uniq_ids,
        x=x,
        t_x=(last_day - first_day).astype(np.int64),
        T=(end - first_day).astype(np.int64),
        m_x=m_x.astype(np.float64),
    )
