"""Makes `weir_sdk` (the copy `weir plugin new` wrote into .weir-sdk/, refreshed by `weir plugin
build`) and this plugin importable under pytest. WEIR_PYTHON_SDK names another SDK folder."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.environ.get("WEIR_PYTHON_SDK") or os.path.join(HERE, ".weir-sdk")
for path in (HERE, os.path.abspath(SDK)):
    if path not in sys.path:
        sys.path.insert(0, path)
