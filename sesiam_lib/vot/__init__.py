"""Run the released tracker inside the VOT toolkit (TraX protocol).

``python -m sesiam_lib.vot --model NAME [--checkpoint PATH] [--benchmark VOT2016|VOT2017]`` is a TraX server:
the VOT toolkit (``vot evaluate``) starts it as a separate process and drives it over the TraX protocol
(https://github.com/votchallenge/trax). It accepts rectangle and polygon regions and image paths; a polygon
initialisation is used as :func:`sesiam_lib.tracking.run_vot` uses it (the tracker's ``init`` gets the polygon
itself), so a toolkit run reproduces our ``run_vot`` trajectories.

The ``trax`` Python package (``vot-trax``) is an optional dependency: ``pip install 'sesiam_lib[vot]'``. It is
imported only when a server is started.

``trackers.ini`` entry (in the VOT workspace; ``protocol = trax`` runs ``command`` as given)::

    [SE-SiamFC]
    label = SE-SiamFC
    protocol = trax
    command = /path/to/env/bin/python -m sesiam_lib.vot --model se_siamfc_resnet22 --checkpoint /path/to/checkpoint_vot.pth --benchmark VOT2017
    env_OMP_NUM_THREADS = 4

(``protocol = traxpython`` does not fit: it accepts a bare module name only and cannot pass the arguments.)

Toolkit versions: the Python VOT toolkit 0.7.4 (with ``attributee`` 0.1.9) runs it; 0.8.1 and 0.9.0 stop every
supervised (baseline) run of a single-object TraX tracker with "Tracker does not support multiple objects, but
multiple objects were provided for initialization" (a toolkit bug). TraX carries regions as float32 (and as text with
4 decimals): the toolkit's trajectories equal :func:`~sesiam_lib.tracking.run_vot`'s to 5e-5 px when the ground
truth is exact in float32 (``tests/test_vot_toolkit.py``); otherwise the initialisation region differs by its float32
rounding (~1e-6 relative), which can only matter where the response map has a near-tie (an untrained model).
"""

from .trax_server import TRAX_INSTALL_HINT, import_trax, region_from_trax, serve

__all__ = ["serve", "import_trax", "region_from_trax", "TRAX_INSTALL_HINT", "main"]


def main(argv=None) -> int:
    from .__main__ import main as _main

    return _main(argv)
