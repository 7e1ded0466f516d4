"""Domain errors of the draw engine and verifier.

Every refusal the engine makes is one of these classes, so that the service can turn it into a
clear message for staff (and an HTTP 422) without parsing text, and so that tests can assert the
exact reason. All inherit :class:`DrawError`, itself a :class:`ValueError`: each one means "this
input is not acceptable", never "the program is broken".
"""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark a message template for the catalogues (babel's ``N_`` keyword); the shell translates it."""
    return text


class DrawError(ValueError):
    """Base class of every refusal made by the pure draw core.

    ``template`` is an English message with ``%(name)s`` placeholders (in the catalogues), ``params``
    fill them; ``str(error)`` is the English text (what the standalone verifier prints).
    """

    def __init__(self, template: str = "", **params: object) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


class EmptyEntrantList(DrawError):
    """The frozen entrant list has no entrant of positive weight."""

    def __init__(self, message: str = N_("the entrant list is empty: nobody is eligible for this draw")) -> None:
        super().__init__(message)


class TooManyPrizes(DrawError):
    """More prizes than eligible entrants: every prize needs a distinct winner."""


class BadWeight(DrawError):
    """A weight that is not a non-negative integer below 2**63 (booleans and floats included)."""


class BadPrize(DrawError):
    """A prize amount or count outside the allowed range (1..400,000 kopecks, count >= 1)."""


class BadAccount(DrawError):
    """An account number that is empty, too long, contains control characters, or is duplicated."""


class PoolTooLarge(DrawError):
    """RFC 3797 mode supports a pool of at most 65,535 (its selection index is 16 bits)."""


class MalformedEntropy(DrawError):
    """An entropy value that cannot be parsed (bad hex, wrong length, malformed public numbers)."""


class EntropyMismatch(DrawError):
    """An entropy value of another round or source than the one announced, or a bad signature hash."""


class BadTimestamp(DrawError):
    """A timestamp that is not ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""


class ProofError(DrawError):
    """A malformed Merkle inclusion proof (a proof that merely does not verify returns False)."""


class BadWitnesses(DrawError):
    """The announced witness set or quorum is malformed."""


class WitnessQuorumNotMet(DrawError):
    """The freeze has fewer valid, timely witness cosignatures than the announced quorum."""
