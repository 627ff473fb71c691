"""The tiny random-init model of the training tests. It lives in :mod:`medkg.training.tiny`
(also behind ``medkg train tiny-model``); this module re-exports it for the tests."""

from medkg.training.tiny import *  # noqa: F403
from medkg.training.tiny import __all__  # noqa: F401
