"""Field specs: one per option a framework/task accepts, with its type, limits and who may set it.

Coercion rules (values usually arrive from JSON):
- int: an int, or a float with an integral value (3.0 -> 3). Strings are refused, even "3": a number must be sent as a
  number, so that a client bug shows up here and not as a silently different config. 2.5 is refused.
- float: an int or a float (3 -> 3.0); must be finite.
- bool: only true/false. 0/1 and "true" are refused.
- choice: a string that is exactly (case-sensitive) one of the choices.
- device: "cpu", a GPU index "0", a list of GPU indices "0,1" (no spaces, no repeats), or "cuda:0"; a non-negative int N
  is accepted and becomes the string "N".
- null is accepted only where the field is nullable (e.g. freeze, time) and is refused everywhere else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from modelyard.frameworks.model import ProblemCode


class FieldKind(StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    DEVICE = "device"


class InvalidValue(Exception):
    """A value a field does not accept; the resolver turns it into a FieldProblem."""

    def __init__(self, code: ProblemCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_DEVICE = re.compile(r"cpu|cuda:\d+|\d+(,\d+)*")


def _shown(value: object) -> str:
    """How a refused value is named in a message: its JSON-ish type and, for scalars, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {text!r}"
    if isinstance(value, int | float):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _number(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class FieldSpec:
    """One option. min/max bound INT and FLOAT values (inclusive unless exclusive_min/exclusive_max); special_values
    are INT values allowed outside that range (batch -1 = auto); multiple_of constrains INT values; choices list the
    CHOICE values. user_mode says whether user mode may set it (developer mode may set every field)."""

    name: str
    kind: FieldKind
    help: str
    user_mode: bool = False
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False
    multiple_of: int | None = None
    special_values: tuple[int, ...] = ()
    choices: tuple[str, ...] = ()
    nullable: bool = False

    def __post_init__(self) -> None:
        numeric = self.kind in (FieldKind.INT, FieldKind.FLOAT)
        if (self.kind is FieldKind.CHOICE) != bool(self.choices):
            raise ValueError(f"field {self.name}: choices are required for, and only for, choice fields")
        if not numeric and (self.min is not None or self.max is not None):
            raise ValueError(f"field {self.name}: min/max apply only to int and float fields")
        if self.kind is not FieldKind.INT and (self.multiple_of is not None or self.special_values):
            raise ValueError(f"field {self.name}: multiple_of/special_values apply only to int fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field {self.name}: min > max")

    # ---- checking -------------------------------------------------------------------------------------------------

    def check(self, value: object) -> Any:
        """The value as stored in a resolved config, or InvalidValue saying what is wrong with it."""
        if value is None:
            if self.nullable:
                return None
            raise InvalidValue(ProblemCode.WRONG_TYPE, f"must not be null; expected {self._expected()}")
        match self.kind:
            case FieldKind.INT:
                return self._check_int(value)
            case FieldKind.FLOAT:
                return self._check_float(value)
            case FieldKind.BOOL:
                if not isinstance(value, bool):
                    raise InvalidValue(ProblemCode.WRONG_TYPE, f"expected true or false, got {_shown(value)}")
                return value
            case FieldKind.CHOICE:
                return self._check_choice(value)
            case FieldKind.DEVICE:
                return self._check_device(value)

    def _expected(self) -> str:
        return {
            FieldKind.INT: "an integer",
            FieldKind.FLOAT: "a number",
            FieldKind.BOOL: "true or false",
            FieldKind.CHOICE: "one of " + ", ".join(self.choices),
            FieldKind.DEVICE: "a device such as 'cpu', '0', '0,1' or 'cuda:0'",
        }[self.kind]

    def _wrong_type(self, value: object) -> InvalidValue:
        hint = " (send numbers as JSON numbers, not strings)" if isinstance(value, str) else ""
        return InvalidValue(ProblemCode.WRONG_TYPE, f"expected {self._expected()}, got {_shown(value)}{hint}")

    def _check_int(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong_type(value)
        if isinstance(value, float):
            if not value.is_integer():
                raise InvalidValue(ProblemCode.WRONG_TYPE, f"expected an integer, got {_shown(value)}")
            value = int(value)
        if value not in self.special_values:
            self._check_range(value)
            if self.multiple_of is not None and value % self.multiple_of:
                raise InvalidValue(ProblemCode.INVALID_VALUE, f"must be a multiple of {self.multiple_of}, got {value}")
        return value

    def _check_float(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong_type(value)
        try:
            number = float(value)
        except OverflowError:
            raise InvalidValue(ProblemCode.OUT_OF_RANGE, f"must be {self.range_text()}, got {value}") from None
        if not math.isfinite(number):
            raise InvalidValue(ProblemCode.OUT_OF_RANGE, f"must be a finite number, got {number!r}")
        self._check_range(number)
        return number

    def _check_range(self, value: float) -> None:
        low_bad = self.min is not None and (value <= self.min if self.exclusive_min else value < self.min)
        high_bad = self.max is not None and (value >= self.max if self.exclusive_max else value > self.max)
        if low_bad or high_bad:
            raise InvalidValue(ProblemCode.OUT_OF_RANGE, f"must be {self.range_text()}, got {_number(value)}")

    def range_text(self) -> str:
        """The accepted range in words, e.g. "between 1 and 1000" or "-1 or between 1 and 512"."""
        low = None if self.min is None else _number(self.min)
        high = None if self.max is None else _number(self.max)
        if low is not None and high is not None and not (self.exclusive_min or self.exclusive_max):
            text = f"between {low} and {high}"
        else:
            parts = []
            if low is not None:
                parts.append(f"greater than {low}" if self.exclusive_min else f"at least {low}")
            if high is not None:
                parts.append(f"less than {high}" if self.exclusive_max else f"at most {high}")
            text = " and ".join(parts) or "any number"
        if self.special_values:
            text = " or ".join(str(v) for v in self.special_values) + " or " + text
        return text

    def _check_choice(self, value: object) -> str:
        if not isinstance(value, str):
            raise self._wrong_type(value)
        if value not in self.choices:
            raise InvalidValue(ProblemCode.BAD_CHOICE, f"must be one of {', '.join(self.choices)}; got {_shown(value)}")
        return value

    def _check_device(self, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return str(value)
        if not isinstance(value, str):
            raise self._wrong_type(value)
        if not _DEVICE.fullmatch(value):
            raise InvalidValue(
                ProblemCode.INVALID_VALUE,
                f"expected 'cpu', a GPU index like '0', GPU indices like '0,1' or 'cuda:0'; got {_shown(value)}",
            )
        indices = value.split(",")
        if len(indices) != len(set(indices)):
            raise InvalidValue(ProblemCode.INVALID_VALUE, f"names a GPU twice: {value!r}")
        return value

    # ---- describing -----------------------------------------------------------------------------------------------

    def describe(self, default: Any) -> dict[str, Any]:
        """This field as a row of the field table (for docs and UIs)."""
        return {
            "name": self.name,
            "type": str(self.kind),
            "default": default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
            "user_mode": self.user_mode,
            "help": self.help,
            "exclusive_min": self.exclusive_min,
            "exclusive_max": self.exclusive_max,
            "multiple_of": self.multiple_of,
            "special_values": list(self.special_values),
            "nullable": self.nullable,
        }
