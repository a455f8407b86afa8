"""Reading order of the example gallery (sphinx-gallery ``within_subsection_order``).

Sphinx-gallery imports this class by its fully qualified name, so ``conf.py`` stays
picklable. Examples not listed here come last, by file name.
"""

from pathlib import Path

ORDER = [
    "plot_quickstart.py",
    "plot_collapse_curves.py",
    "plot_etf_head.py",
    "plot_geometry.py",
    "plot_grid_search.py",
    "plot_pipeline.py",
    "plot_ufm_theorem.py",
    "plot_imbalance.py",
    "plot_mulan_emotions.py",
]


class ExampleOrder:
    """Sort key: position in :data:`ORDER`, then the file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self):
        return "ExampleOrder"
