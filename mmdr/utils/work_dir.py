import os
import os.path as osp
from typing import List


def earlier_checkpoints(work_dir: str) -> List[str]:
    """List the checkpoints an earlier run left in a work dir.

    Args:
        work_dir (str): The work dir.

    Returns:
        list[str]: Checkpoint file names (and ``last_checkpoint``), sorted.
    """
    if not osp.isdir(work_dir):
        return []
    return sorted(
        f for f in os.listdir(work_dir)
        if f.endswith('.pth') or f == 'last_checkpoint')


def check_no_earlier_run(work_dir: str, resume: bool) -> None:
    """Refuse to start a new run over an earlier run's checkpoints.

    mmengine would silently overwrite ``epoch_N.pth`` and the best
    checkpoint of the earlier run; a run may reuse a work dir only to resume.

    Args:
        work_dir (str): The run's work dir.
        resume (bool): Whether the run resumes the earlier one.
    """
    found = earlier_checkpoints(work_dir)
    if found and not resume:
        shown = ', '.join(found[:4]) + (', ...' if len(found) > 4 else '')
        raise SystemExit(
            f'{work_dir} already holds checkpoints of an earlier run '
            f'({shown}). Pass --resume to continue that run, or --work-dir '
            'with a new folder to start another one.')
