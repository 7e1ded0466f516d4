"""RFC 3797 mode: the section 6 worked example and key canonicalisation (section 4)."""

from __future__ import annotations

import pytest

from draws.errors import MalformedEntropy, PoolTooLarge, TooManyPrizes
from draws.rfc3797 import canonical_key, parse_public_numbers, rfc3797_select, rfc3797_steps

KEY = "9319./2.5.8.10.12./9.18.26.34.41.45./"


def test_section6_key() -> None:
    assert canonical_key([["9319"], ["2", "5", "12", "8", "10"], ["9", "18", "26", "34", "41", "45"]]) == KEY


def test_section6_selections() -> None:
    assert rfc3797_select(KEY, 25, 11) == [17, 7, 2, 16, 25, 23, 8, 24, 19, 13, 22]
    first = rfc3797_steps(KEY, 25, 1)[0]
    assert first.md5_hex == "990DD0A5692A029A98B5E01AA28F3459" and first.divisor == 25


def test_canonical_values() -> None:
    assert canonical_key([["007", "0", "10"]]) == "0.7.10./"
    assert canonical_key([["12.50", "3.000", "0.25"]]) == "0.253.12.5/"
    assert canonical_key([[5, 3]]) == "3.5./"


def test_parse_staff_input() -> None:
    text = "# Gosloto 5/36\n5, 17 3 29;11\n\n2871.45\n"
    assert parse_public_numbers(text) == [["5", "17", "3", "29", "11"], ["2871.45"]]


@pytest.mark.parametrize("text", ["", "# only a comment", "1 2 x", "-3", "1e5", "1..2", "12.", ".5"])
def test_malformed_public_numbers(text: str) -> None:
    with pytest.raises(MalformedEntropy):
        parse_public_numbers(text)


def test_limits() -> None:
    with pytest.raises(PoolTooLarge):
        rfc3797_select(KEY, 65_536, 1)
    with pytest.raises(TooManyPrizes):
        rfc3797_select(KEY, 3, 4)
    assert len(rfc3797_select(KEY, 65_535, 3)) == 3


def test_only_ascii_white_space_is_removed_around_a_public_number() -> None:
    from draws.errors import MalformedEntropy
    from draws.rfc3797 import canonical_value

    assert canonical_value(" \t17\r\n")[1] == "17."
    for spaced in ("\u00a017", "17\u2003", "\u300017"):  # no-break space, em space, ideographic space
        with pytest.raises(MalformedEntropy):
            canonical_value(spaced)
