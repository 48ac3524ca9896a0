"""Process pool with a progress bar, and the tools' closing warning.

Shared by ``prepare_ucf101.py`` and ``check_rawframes.py``.
"""
import multiprocessing
import sys
from typing import Callable, List, Optional, Sequence


def run_parallel(func: Callable,
                 tasks: Sequence,
                 workers: int,
                 initializer: Optional[Callable] = None,
                 ordered: bool = False) -> List:
    """Run ``func`` over ``tasks`` with mmengine's progress bar (ETA).

    Workers are spawned processes (nothing of this process's OpenCV or
    decord threads is forked into them); with one worker the tasks run in
    this process.

    Args:
        func (Callable): A picklable module-level function of one task.
        tasks (Sequence): Its arguments.
        workers (int): Processes at most.
        initializer (Callable, optional): Run once in every worker (and
            here, with one worker).
        ordered (bool): Return the results in task order; otherwise in the
            order they finish.

    Returns:
        list: The results.
    """
    from mmengine.utils import ProgressBar

    if not tasks:
        return []
    bar = ProgressBar(len(tasks))
    results = []
    if workers == 1:
        if initializer is not None:
            initializer()
        for task in tasks:
            results.append(func(task))
            bar.update()
    else:
        ctx = multiprocessing.get_context('spawn')
        chunk = 1 if not ordered else max(1,
                                          min(32,
                                              len(tasks) // (4 * workers)))
        with ctx.Pool(min(workers, len(tasks)), initializer) as pool:
            imap = pool.imap if ordered else pool.imap_unordered
            for result in imap(func, tasks, chunksize=chunk):
                results.append(result)
                bar.update()
    sys.stdout.write('\n')
    return results


def warn_exit(what: str, strict: bool) -> int:
    """Print the closing warning and return the exit status it names.

    Args:
        what (str): What went wrong, e.g. ``2 video(s) skipped (...)``.
        strict (bool): ``--strict`` was given.

    Returns:
        int: 1 with ``--strict``, else 0.
    """
    print(f'WARNING: {what}. Exit status ' +
          ('1 (--strict).' if strict else '0 (--strict makes it 1).'))
    return 1 if strict else 0
