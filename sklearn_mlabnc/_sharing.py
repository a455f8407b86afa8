"""Sharing independent pieces of work (the fold models) among data-parallel processes."""

from __future__ import annotations

import torch.distributed as dist

__all__ = ["map_folds"]


def map_folds(strategy: str, function, folds) -> list:
    """``[function(fold) for fold in folds]``, shared among the data-parallel processes.

    With ``strategy="ddp"`` in an initialised process group, process ``r`` computes the
    folds ``r, r + world, ...`` and the results are all-gathered, so every process gets the
    whole list at ``1 / world`` of the work (each fold once, not once per process). The
    results are those of the plain loop when ``function`` does not depend on the process.

    Examples
    --------
    >>> from sklearn_mlabnc._sharing import map_folds
    >>> map_folds("single", lambda fold: fold * fold, range(3))
    [0, 1, 4]
    """
    folds = list(folds)
    if strategy != "ddp" or not dist.is_available() or not dist.is_initialized():
        return [function(fold) for fold in folds]
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = {i: function(fold) for i, fold in enumerate(folds) if i % world == rank}
    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    merged = {i: result for part in gathered for i, result in part.items()}
    return [merged[i] for i in range(len(folds))]
