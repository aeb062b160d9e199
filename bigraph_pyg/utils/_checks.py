"""Argument checks shared across the package (metadata only, no host sync).

Integers given as sizes, counts and steps: one owner for their checks and
their messages, which name the argument, what was expected and what was got.
"""

from __future__ import annotations


def check_positive_int(name: str, value: object) -> None:
    """Refuse anything but a positive int, naming the argument.

    A metadata check (no host sync): layer sizes, channel and node counts.

    Args:
        name (str): The argument's name, for the message.
        value (object): Its value.

    Raises:
        ValueError: ``value`` is not an int ``> 0`` (bools refused).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Expected `{name}` to be a positive int (got {value!r})"
        )


def check_non_negative_int(name: str, value: object) -> None:
    """Refuse anything but an int ``>= 0``, naming the argument.

    Args:
        name (str): The argument's name, for the message.
        value (object): Its value.

    Raises:
        ValueError: ``value`` is not an int ``>= 0`` (bools refused).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"Expected `{name}` to be an int >= 0 (got {value!r})")
