"""a2a: audio-to-animation diffusion models — train, evaluate, and serve on Bittensor subnet 25."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("a2a")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
