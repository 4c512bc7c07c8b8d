"""Shared fixtures: small synthetic performances and tiny random models."""

import numpy as np
import pytest

from synthetic import random_model, synthetic_corpus
from robojam.core.modelfile import Model


@pytest.fixture
def tiny_model() -> Model:
    return random_model()


@pytest.fixture
def corpus() -> list[np.ndarray]:
    return synthetic_corpus(40)
