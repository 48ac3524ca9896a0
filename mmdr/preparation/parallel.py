"""A resumable run's plan line, its process pool with a progress bar, and
the closing warning.

Shared by the preparation tools of ``tools/data`` (CREMA-D,
Kinetics-Sounds, UCF-101 and its ``check_rawframes.py``).
"""
import multiprocessing
import sys
from typing import Callable, Dict, List, Optional, Sequence


def plan_line(num: int,
              state: Dict[str, List],
              items: str = 'clips',
              verb: str = 'prepare') -> str:
    """``Plan: N clips: a already done, b to prepare, c to redo (...)``.

    Args:
        num (int): The items of the run.
        state (dict): ``done`` and ``new`` items, ``(item, why)`` to
            ``redo``.
        items (str): What they are, e.g. ``videos``.
        verb (str): What is done to the new ones, e.g. ``extract``.

    Returns:
        str: The line, with the reasons to redo counted.
    """
    why: Dict[str, int] = {}
    for _, reason in state['redo']:
        why[reason] = why.get(reason, 0) + 1
    return (f'Plan: {num} {items}: {len(state["done"])} already done, '
            f'{len(state["new"])} to {verb}, {len(state["redo"])} to redo' +
            (' (' + ', '.join(f'{n} {w}' for w, n in sorted(why.items())) +
             ')' if why else ''))


def _worker_context(func: Callable) -> multiprocessing.context.BaseContext:
    """The fork server (preloading ``func``'s mmdr module) or spawn."""
    if 'forkserver' not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context('spawn')
    ctx = multiprocessing.get_context('forkserver')
    if func.__module__.startswith('mmdr.'):
        # Effective when the server starts: the first pool of a process.
        ctx.set_forkserver_preload([func.__module__])
    return ctx


def run_parallel(func: Callable,
                 tasks: Sequence,
                 workers: int,
                 initializer: Optional[Callable] = None,
                 ordered: bool = False) -> List:
    """Run ``func`` over ``tasks`` with mmengine's progress bar (ETA).

    Workers are forked from a fresh server process (nothing of this
    process's OpenCV or decord threads is forked into them) that has
    imported ``func``'s module of mmdr once, so that the workers do not
    import torch again each; spawned where the platform has no fork server.
    With one worker the tasks run in this process. (Not
    ``mmengine.utils.track_parallel_progress``: its pool forks from this
    process, and it starts one even for one worker.)

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
        ctx = _worker_context(func)
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
