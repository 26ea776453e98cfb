"""StreamPro: proactive streaming video assistants (data engine, CB-Stream SFT, GRPO, StreamPro-Bench)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streampro")
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0.1.0"
