"""lesson6lib: the library behind the lesson6 tutorials.

fast.ai's 2018 *Practical Deep Learning for Coders*, Lesson 6, re-taught in modern PyTorch.
Import what you need from the submodules, e.g. ``from lesson6lib.data import movielens``.
"""

from lesson6lib.runtime import get_device, seed_everything, setup_page, verified_stamp

__version__ = "0.1.0"
"""The library's version, as in ``pyproject.toml``."""
__all__ = ["get_device", "seed_everything", "setup_page", "verified_stamp", "__version__"]
