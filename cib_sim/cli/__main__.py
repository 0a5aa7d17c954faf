"""``python -m cib_sim.cli ...``: the ``cib-sim`` command."""

import sys

from cib_sim.cli.main import main

sys.exit(main())
