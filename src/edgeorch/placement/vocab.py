"""Interning of words (countries, regions, zones, capabilities) into small integer codes.

The snapshot stores codes in NumPy columns so filters compare integers, never strings.
"""


class Vocab:
    """A growing word -> code table. Codes are dense, stable and never reused."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.words)

    def code(self, word: str) -> int:
        """The code of ``word``, allocating one if new."""
        found = self._codes.get(word)
        if found is None:
            found = len(self.words)
            self._codes[word] = found
            self.words.append(word)
        return found

    def lookup(self, word: str) -> int | None:
        """The code of ``word``, or None if the fleet never mentioned it."""
        return self._codes.get(word)
