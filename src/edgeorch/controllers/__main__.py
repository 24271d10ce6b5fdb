"""``python -m edgeorch.controllers``: the controller process ``edgeorch server`` starts."""

import sys

from edgeorch.controllers.process import serve_child

sys.exit(serve_child())
