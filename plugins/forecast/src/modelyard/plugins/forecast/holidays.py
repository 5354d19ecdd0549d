"""Public holidays for the `holiday` calendar feature, computed once at training time and stored in the model (so the
edge needs neither this module nor any holiday package, and training and edge always agree).

Source: the `holidays` package (`holidays.country_holidays(country, years=...)`) when it is installed; otherwise
this module's fixed table below. The model's spec records which one was used (`holiday_source`).

The fixed table: public holidays by rule, without substitute ("observed") days (a holiday falling on a weekend is
not moved). Easter Sunday is computed with the anonymous Gregorian algorithm (Meeus/Jones/Butcher); "Easter +n" is n
days after Easter Sunday. For AT, DE and US it lists the same 2026 dates as `holidays` 0.86 (whose US list adds the
observed Jul 3); for CH it adds Good Friday, Easter Monday, Whit Monday and Dec 26, which `holidays` counts as
cantonal but most cantons keep; for GB it is England and Wales (`holidays` defaults to the whole UK).

- AT: Jan 1, Jan 6, Easter +1, May 1, Easter +39 (Ascension), Easter +50 (Whit Monday), Easter +60 (Corpus
  Christi), Aug 15, Oct 26, Nov 1, Dec 8, Dec 25, Dec 26.
- DE: Jan 1, Easter -2 (Good Friday), Easter +1, May 1, Easter +39, Easter +50, Oct 3, Dec 25, Dec 26.
- CH: Jan 1, Easter -2, Easter +1, Easter +39, Easter +50, Aug 1, Dec 25, Dec 26.
- GB (England and Wales): Jan 1, Easter -2, Easter +1, first Monday of May, last Monday of May, last Monday of
  August, Dec 25, Dec 26.
- US (federal): Jan 1, third Monday of January, third Monday of February, last Monday of May, Jun 19, Jul 4, first
  Monday of September, second Monday of October, Nov 11, fourth Thursday of November, Dec 25.
- none: no holidays.
"""

from __future__ import annotations

import calendar
import importlib
from collections.abc import Iterable
from datetime import date, timedelta

COUNTRIES = ("none", "AT", "DE", "CH", "GB", "US")
FUTURE_YEARS = 10  # the table covers the training years and this many after them
FIXED_TABLE = "fixed table"

# (month, day) fixed dates, Easter offsets in days, and (month, weekday, n) "n-th weekday" rules (n = -1: last).
_FIXED: dict[str, tuple[tuple[int, int], ...]] = {
    "AT": ((1, 1), (1, 6), (5, 1), (8, 15), (10, 26), (11, 1), (12, 8), (12, 25), (12, 26)),
    "DE": ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26)),
    "CH": ((1, 1), (8, 1), (12, 25), (12, 26)),
    "GB": ((1, 1), (12, 25), (12, 26)),
    "US": ((1, 1), (6, 19), (7, 4), (11, 11), (12, 25)),
}
_EASTER: dict[str, tuple[int, ...]] = {
    "AT": (1, 39, 50, 60),
    "DE": (-2, 1, 39, 50),
    "CH": (-2, 1, 39, 50),
    "GB": (-2, 1),
    "US": (),
}
_MON, _THU = calendar.MONDAY, calendar.THURSDAY
_NTH: dict[str, tuple[tuple[int, int, int], ...]] = {
    "GB": ((5, _MON, 1), (5, _MON, -1), (8, _MON, -1)),
    "US": ((1, _MON, 3), (2, _MON, 3), (5, _MON, -1), (9, _MON, 1), (10, _MON, 2), (11, _THU, 4)),
}


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based; -1 = last) given weekday of a month."""
    days = [d for d in range(1, calendar.monthrange(year, month)[1] + 1) if date(year, month, d).weekday() == weekday]
    return date(year, month, days[n - 1 if n > 0 else n])


def fixed_table(country: str, years: Iterable[int]) -> list[date]:
    """The fixed table's holidays of `country` in `years`, sorted."""
    if country not in COUNTRIES:
        raise ValueError(f"no holiday table for {country!r}; known: {', '.join(COUNTRIES)}")
    if country == "none":
        return []
    found: set[date] = set()
    for year in years:
        found.update(date(year, month, day) for month, day in _FIXED[country])
        easter = easter_sunday(year)
        found.update(easter + timedelta(days=offset) for offset in _EASTER[country])
        found.update(nth_weekday(year, month, weekday, n) for month, weekday, n in _NTH.get(country, ()))
    return sorted(found)


def holiday_dates(country: str, first_year: int, last_year: int) -> tuple[list[date], str]:
    """Holidays of `country` from first_year to last_year + FUTURE_YEARS, and where they came from."""
    years = range(first_year, last_year + FUTURE_YEARS + 1)
    if country == "none":
        return [], "none"
    try:
        package = importlib.import_module("holidays")
    except ImportError:
        return fixed_table(country, years), FIXED_TABLE
    found = package.country_holidays(country, years=list(years))
    return sorted(found.keys()), f"holidays {getattr(package, '__version__', '?')}"
