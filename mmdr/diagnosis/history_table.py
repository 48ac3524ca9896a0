"""A D&R history (``dr_history.json``, ``DRHook.history``) as a short text
table: one row per diagnosis and modality."""
from typing import List, Sequence

COLUMNS = ('after epoch', 'modality', 'train purity', 'val purity', 'gap',
           'strength')


def format_dr_history(history: Sequence[dict]) -> str:
    """Format the records of a D&R run as a Markdown table.

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
    rows: List[Sequence[str]] = [COLUMNS, ['---'] * len(COLUMNS)]
    for record in history:
        for modality, stats in record['modalities'].items():
            rows.append([
                str(record['epoch']), modality,
                *(f'{stats[key]:.4f}'
                  for key in ('train_purity', 'val_purity', 'gap', 'strength'))
            ])
    return '\n'.join('| ' + ' | '.join(row) + ' |' for row in rows)
