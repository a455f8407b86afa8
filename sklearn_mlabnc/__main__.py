"""``python -m sklearn_mlabnc``: the same as the ``mlabnc`` command."""

import sys

from .cli import main

sys.exit(main())
