"""Options with a fixed set of values, as ``str`` enums: they compare equal to and print as their value."""

from __future__ import annotations

from enum import Enum

from .errors import MptError


class Choice(str, Enum):
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def parse(cls, value: str, what: str):
        """The member named by ``value``, or one clear error naming ``what`` and the choices."""
        try:
            return cls(value)
        except ValueError:
            raise MptError(f"{what} {value!r} is unknown; use {cls.options()}") from None

    @classmethod
    def options(cls) -> str:
        return ", ".join(member.value for member in cls)
