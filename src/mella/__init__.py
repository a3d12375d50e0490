"""mella: multimodal LLMs with the language and the culture of low-resource languages.

`import mella` is light on purpose: no torch, transformers, ray or vllm are imported here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mella")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
