"""A touch policy's randomness, scripted: draws given in advance and a fixed chance (tests of leans)."""


class ScriptedSampler:
    """Draws given in advance (raw encoding: x, y, dt)."""

    def __init__(self, draws):
        self.draws = list(draws)

    def draw(self, noise, temp, sigma_temp):
        return list(self.draws.pop(0))


class FixedChance:
    """Noise whose every chance is ``value``."""

    def __init__(self, value: float):
        self.value = value

    def chance(self) -> float:
        return self.value
