"""The pure code core: format, check symbol, normalisation, malformed reasons, prefix rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partners import codes
from partners.codes import ALPHABET, CHECK_ALPHABET, InvalidPrefix, MalformedCode

LETTERS = ALPHABET[10:]

prefixes = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(LETTERS),
    st.text(alphabet=ALPHABET, min_size=1, max_size=5),
)
values = st.integers(min_value=0, max_value=2**60 - 1)


def reason_of(text: str) -> str:
    with pytest.raises(MalformedCode) as info:
        codes.parse(text)
    return info.value.reason


# --- round trip --------------------------------------------------------------------------------


@given(prefixes, values)
def test_round_trip(prefix: str, value: int) -> None:
    text = codes.format_code(prefix, value)
    parsed = codes.parse(text)
    assert (parsed.prefix, parsed.value) == (prefix, value)
    assert str(parsed) == text
    assert parsed.compact == text.replace("-", "")
    assert len(parsed.body) == 12


def test_display_shape() -> None:
    text = codes.format_code("GSRV", 0)
    assert text == "GSRV-0000-0000-0000-" + codes.check_symbol("GSRV", 0)
    assert codes.format_code("AB", 2**60 - 1).startswith("AB-ZZZZ-ZZZZ-ZZZZ-")
    with pytest.raises(ValueError):
        codes.format_code("AB", 2**60)


def test_check_symbol_is_crockford_mod_37_over_prefix_and_body() -> None:
    # The documented definition, computed the slow way.
    prefix, value = "GSRV", 123456789012345
    n = 0
    for symbol in prefix:
        n = n * 32 + ALPHABET.index(symbol)
    n = n * 32**12 + value
    assert codes.check_symbol(prefix, value) == CHECK_ALPHABET[n % 37]


def test_generate_values_and_codes_agree() -> None:
    pairs = list(codes.generate_values("gsrv", 500))
    assert len({v for v, _ in pairs}) == 500
    for value, text in pairs:
        parsed = codes.parse(text)
        assert parsed.prefix == "GSRV" and parsed.value == value


def test_generate_is_unique_and_well_formed() -> None:
    batch = codes.generate("ZX9", 20_000)
    assert len(batch) == len(set(batch)) == 20_000
    assert all(codes.parse(c).prefix == "ZX9" for c in batch[:2000])
    assert codes.generate("ZX9", 0) == []
    with pytest.raises(InvalidPrefix):
        codes.generate("9ZX", 1)


def test_random_values_draws_again_on_a_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_token_bytes(n: int) -> bytes:
        calls.append(n)
        # first batch: the same word three times; later batches: distinct words
        if len(calls) == 1:
            return (7).to_bytes(8, "little") * (n // 8)
        return b"".join((100 + i).to_bytes(8, "little") for i in range(n // 8))

    monkeypatch.setattr(codes.secrets, "token_bytes", fake_token_bytes)
    got = codes.random_values(3)
    assert len(set(got)) == 3 and got[0] == 7
    assert calls == [24, 16]


def test_random_values_uses_60_bits() -> None:
    vals = codes.random_values(5000)
    assert all(0 <= v < 2**60 for v in vals)
    assert max(vals) >= 2**59  # the top bit is used (fails with probability 2**-5000)


# --- error detection without a database ---------------------------------------------------------


def _compact(prefix: str, value: int) -> str:
    return codes.format_code(prefix, value).replace("-", "")


@settings(max_examples=150, deadline=None)
@given(prefixes, values)
def test_every_single_substitution_is_detected(prefix: str, value: int) -> None:
    compact = _compact(prefix, value)
    for position, original in enumerate(compact):
        # the check position may hold any check symbol, others any base32 symbol (and the
        # check-only symbols, which are simply not allowed there)
        for replacement in CHECK_ALPHABET:
            if replacement == original:
                continue
            typo = compact[:position] + replacement + compact[position + 1 :]
            with pytest.raises(MalformedCode):
                codes.parse(typo)


@settings(max_examples=300, deadline=None)
@given(prefixes, values)
def test_every_adjacent_transposition_is_detected(prefix: str, value: int) -> None:
    compact = _compact(prefix, value)
    for i in range(len(compact) - 1):
        a, b = compact[i], compact[i + 1]
        if a == b:
            continue
        typo = compact[:i] + b + a + compact[i + 2 :]
        with pytest.raises(MalformedCode):
            codes.parse(typo)


def test_detection_argument_holds_for_every_position() -> None:
    """The arithmetic behind the two tests above, for every weight a code can have."""
    for k in range(codes.PREFIX_MAX + codes.BODY_LENGTH):
        weight = pow(32, k, 37)
        assert weight != 0
        for d in range(1, 32):  # substitution: N changes by d * 32**k
            assert d * weight % 37 != 0
            assert d * 31 * weight % 37 != 0  # transposition: (a - b) * (32 - 1) * 32**k


@given(values)
def test_a_code_is_bound_to_its_prefix(value: int) -> None:
    # the same body and check under a prefix differing in one symbol never passes
    text = codes.format_code("GSRV", value)
    for other in ("GSRW", "HSRV", "GSR0", "GSRVA"[:4]):
        if other == "GSRV":
            continue
        with pytest.raises(MalformedCode):
            codes.parse(other + text[4:])


# --- normalisation ------------------------------------------------------------------------------


def test_normalisation() -> None:
    text = codes.format_code("GSRV", 987654321)
    compact = text.replace("-", "")
    parsed = codes.parse(text)
    variants = [
        text.lower(),
        compact,
        compact.lower(),
        " ".join(compact),
        f"  {text}\n",
        text.replace("-", " - "),
        text.replace("-", "\u2013"),  # en dash pasted from a document
        "G-S-R-V" + text[4:],
    ]
    for variant in variants:
        assert codes.parse(variant) == parsed, variant


def test_i_l_read_as_one_and_o_as_zero() -> None:
    value = 0x0000_0000_0000_0001 | (1 << 55)  # a body holding 1s and 0s
    text = codes.format_code("G1", value)
    assert "1" in text[3:] and "0" in text[3:]
    for a, b in (("1", "I"), ("1", "i"), ("1", "L"), ("1", "l"), ("0", "O"), ("0", "o")):
        assert codes.parse(text.replace(a, b)) == codes.parse(text)


def test_cyrillic_lookalikes_read_as_latin() -> None:
    text = codes.format_code("KAPE", 5)  # K A P E all have Cyrillic twins
    cyr = text.replace("K", "К").replace("A", "а").replace("P", "Р").replace("E", "е")
    assert cyr != text
    assert codes.parse(cyr) == codes.parse(text)


# --- malformed reasons --------------------------------------------------------------------------


def test_malformed_reasons() -> None:
    good = codes.format_code("GSRV", 42)
    assert reason_of("") == codes.EMPTY
    assert reason_of(" - - ") == codes.EMPTY
    assert reason_of("A" * 65) == codes.TOO_LONG
    assert reason_of(codes.format_code("AB", 42)[:-2]) == codes.BAD_LENGTH  # 14 symbols
    assert reason_of("ABCDEFG" + good[4:]) == codes.BAD_LENGTH  # 7-symbol prefix
    assert reason_of(good[:6] + "U" + good[7:]) == codes.BAD_CHARACTER  # U only as a check symbol
    assert reason_of(good[:6] + "*" + good[7:]) == codes.BAD_CHARACTER
    assert reason_of(good[:-1] + "!") == codes.BAD_CHARACTER
    assert reason_of(good.replace("G", "Ж")) == codes.BAD_CHARACTER
    assert reason_of("0SRV" + good[4:]) == codes.BAD_PREFIX
    bad_check = CHECK_ALPHABET[(CHECK_ALPHABET.index(good[-1]) + 1) % 37]
    assert reason_of(good[:-1] + bad_check) == codes.BAD_CHECK
    assert set(codes.REASONS) == {
        codes.EMPTY, codes.TOO_LONG, codes.BAD_CHARACTER, codes.BAD_LENGTH, codes.BAD_PREFIX, codes.BAD_CHECK
    }


def test_malformed_is_a_value_error_with_reason_and_detail() -> None:
    with pytest.raises(ValueError) as info:
        codes.parse("nope")
    err = info.value
    assert isinstance(err, MalformedCode) and err.reason == codes.BAD_LENGTH and err.detail


@pytest.mark.parametrize("value", [None, 12, b"GSRV"])
def test_non_text_is_malformed(value: object) -> None:
    with pytest.raises(MalformedCode) as info:
        codes.parse(value)  # type: ignore[arg-type]
    assert info.value.reason == codes.BAD_CHARACTER


@given(st.text(max_size=40))
def test_parse_never_fails_otherwise(text: str) -> None:
    try:
        codes.parse(text)
    except MalformedCode as err:
        assert err.reason in codes.REASONS


def test_every_check_symbol_occurs() -> None:
    seen = {codes.check_symbol("AB", v) for v in range(37)}
    assert seen == set(CHECK_ALPHABET)
    for v in range(37):
        text = codes.format_code("AB", v)
        assert codes.parse(text.lower()).check == text[-1]


# --- prefix rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("GSRV", "GSRV"), ("gs", "GS"), (" ab12z9 ", "AB12Z9"), ("Z0", "Z0")])
def test_valid_prefixes(text: str, expected: str) -> None:
    assert codes.validate_prefix(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("G", "2 to 6"),
        ("GORSERV", "2 to 6"),
        ("", "2 to 6"),
        ("GO", "I, L, O"),
        ("AIR", "I, L, O"),
        ("UV", "I, L, O"),
        ("A-B", "0-9 and A-Z"),
        ("1AB", "starts with a letter"),
        ("0A", "starts with a letter"),
    ],
)
def test_invalid_prefixes(text: str, fragment: str) -> None:
    with pytest.raises(InvalidPrefix, match=fragment.replace("-", r"\-")):
        codes.validate_prefix(text)


def test_prefix_must_be_text() -> None:
    with pytest.raises(InvalidPrefix):
        codes.validate_prefix(None)  # type: ignore[arg-type]
