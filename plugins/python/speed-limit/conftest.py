"""Makes `weir_sdk` and this plugin importable under pytest.

The SDK is the one in this repository (guest-sdk/python, found relative to this file), or the
directory named by the WEIR_PYTHON_SDK environment variable.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.environ.get("WEIR_PYTHON_SDK") or os.path.join(
    HERE, os.pardir, os.pardir, os.pardir, "guest-sdk", "python"
)
for path in (HERE, os.path.abspath(SDK)):
    if path not in sys.path:
        sys.path.insert(0, path)
