"""The yearly prize cap (Russian Tax Code art. 217 p. 28).

Prizes up to 4,000 rubles (400,000 kopecks) per person per calendar year are free of personal income
tax; above that, 35 % applies and the retailer becomes a tax agent. So, by default, an account is
**not eligible** for a draw if

    prizes already won in the calendar year + the largest prize of this draw > cap

where the calendar year is the year of the draw's freeze time in the retailer's time zone, "already
won" counts every credit of an earlier draw not cancelled by a disqualification, and ``cap`` is a
setting (default 400,000 kopecks). The largest prize is used because at freeze time nobody knows
which prize an account will win: the rule is conservative, so no winner can cross the cap.
Reserves are treated the same way: a reserve who is promoted receives one of this draw's prizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

DEFAULT_YEARLY_CAP_KOPECKS = 400_000


def exceeds_yearly_cap(
    won_this_year_kopecks: int, largest_prize_kopecks: int, cap_kopecks: int = DEFAULT_YEARLY_CAP_KOPECKS
) -> bool:
    """True if the account is ineligible: ``won + largest prize > cap`` (integers, kopecks)."""
    for name, value in (
        ("won_this_year_kopecks", won_this_year_kopecks),
        ("largest_prize_kopecks", largest_prize_kopecks),
        ("cap_kopecks", cap_kopecks),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer number of kopecks, got {value!r}")
    return won_this_year_kopecks + largest_prize_kopecks > cap_kopecks


def capped_accounts(
    won_this_year: Mapping[str, int],
    largest_prize_kopecks: int,
    cap_kopecks: int = DEFAULT_YEARLY_CAP_KOPECKS,
) -> set[str]:
    """Accounts of ``won_this_year`` (account -> kopecks won this year) that the cap excludes."""
    return {
        account
        for account, won in won_this_year.items()
        if exceeds_yearly_cap(won, largest_prize_kopecks, cap_kopecks)
    }


def largest_prize(amounts: Iterable[int]) -> int:
    """The largest prize amount of a draw (0 if there is none)."""
    return max(amounts, default=0)
