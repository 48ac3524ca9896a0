"""A D&R history (``dr_history.json``, ``DRHook.history``) as a short text
table: one row per diagnosis and modality."""
from typing import List, Sequence

COLUMNS = ('after epoch', 'modality', 'train purity', 'val purity', 'gap',
           'strength')


def format_dr_history(history: Sequence[dict]) -> str:
    """Format the records of a D&R run as a Markdown table.

    A history with monitor records (``relearned: False``, see
    :class:`DRHook`'s ``monitor_interval``) gets a last column
    ``re-learned`` (``yes``/``no``): a monitor record's strength was
    computed but not applied. Without monitor records the table is the
    one of a plain D&R run.

    Args:
        history (Sequence[dict]): Records as :class:`DRHook` writes them,
            each with ``epoch`` and ``modalities`` (modality name to
            ``train_purity``, ``val_purity``, ``gap`` and ``strength``).

    Returns:
        str: The table, a header line and one line per diagnosis and
        modality; ``'no D&R diagnosis ran'`` for an empty history.
    """
    if not history:
        return 'no D&R diagnosis ran'
    monitored = any(not r.get('relearned', True) for r in history)
    columns = COLUMNS + (('re-learned', ) if monitored else ())
    rows: List[Sequence[str]] = [columns, ['---'] * len(columns)]
    for record in history:
        flag = ['yes' if record.get('relearned', True) else 'no'
                ] if monitored else []
        for modality, stats in record['modalities'].items():
            rows.append([
                str(record['epoch']), modality,
                *(f'{stats[key]:.4f}' for key in ('train_purity', 'val_purity',
                                                  'gap', 'strength')), *flag
            ])
    return '\n'.join('| ' + ' | '.join(row) + ' |' for row in rows)


def format_dr_record(record: dict, max_times: int) -> str:
    """The log text of one diagnosis.

    Args:
        record (dict): A history record as :class:`DRHook` writes it.
        max_times (int): Most re-learnings of the run.

    Returns:
        str: A headline and one line per modality.
    """
    samples = (f'{record["num_train_samples"]} train / '
               f'{record["num_val_samples"]} val samples, '
               f'{record["time_s"]:.2f} s')
    if record.get('relearned', True):
        lines = [
            f'D&R diagnosis {record["index"]}/{max_times} after epoch '
            f'{record["epoch"]} ({samples}); re-learned encoders train in '
            f'epoch {record["epoch"] + 1}:'
        ]
    else:
        lines = [
            f'D&R monitoring after epoch {record["epoch"]} ({samples}); not '
            're-learned, strengths not applied:'
        ]
    for m, stats in record['modalities'].items():
        lines.append(
            f'  {m}: train purity {stats["train_purity"]:.4f}, val purity '
            f'{stats["val_purity"]:.4f}, gap {stats["gap"]:.4f}, strength '
            f'{stats["strength"]:.4f}')
    return '\n'.join(lines)
