"""Regenerate ``cib_sim/data/indigo/reference_class.json``: simulate the prior grid for every
INDIGO project with an actual payment series, fit, and cross-validate (leave one project out).

    python scripts/fit_reference_class.py [--paths 200] [--seed 20250513] [--out PATH] [--sims grid.npy]

About 40 minutes on one core. See ``cib_sim.deals.reference_class`` and
``docs/CALIBRATION.md``.
"""

from cib_sim.deals.reference_class import main

if __name__ == "__main__":
    main()
