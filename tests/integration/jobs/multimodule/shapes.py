"""A record class of the job's own (its instances cross edges)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    text: str
    count: int

    def plus(self, other: "Word") -> "Word":
        return Word(self.text, self.count + other.count)
