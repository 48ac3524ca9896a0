"""The ``'dr_hook'`` entry of checkpoints: theta_init (every diagnosed
encoder's weights when training started) and the D&R history."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

#: Version of the ``'dr_hook'`` entry of checkpoints.
STATE_VERSION = 2


def take_init_state(
        encoders: Dict[str, torch.nn.Module],
        device: Optional[torch.device] = None) -> Dict[str, StateDict]:
    """Copies of the encoders' state dicts: theta_init of a fresh run.

    Args:
        encoders (dict[str, nn.Module]): The diagnosed encoders by modality.
        device (torch.device, optional): Where to keep the copies.
            Defaults to None (the CPU).

    Returns:
        dict: ``{modality: state dict}``.
    """
    return {
        m: {
            k: v.detach().clone().to(device or 'cpu')
            for k, v in encoder.state_dict().items()
        }
        for m, encoder in encoders.items()
    }


def checkpoint_entry(init_state: Dict[str, StateDict],
                     history: List[dict]) -> dict:
    """The ``'dr_hook'`` entry of a checkpoint (tensors on the CPU).

    Args:
        init_state (dict): theta_init by modality.
        history (list[dict]): The diagnoses done.

    Returns:
        dict: ``version``, ``init_state`` and ``history``.
    """
    return dict(
        version=STATE_VERSION,
        init_state={
            m: {
                k: v.cpu()
                for k, v in state.items()
            }
            for m, state in init_state.items()
        },
        history=copy.deepcopy(history))


def resume_entry(
    entry: dict,
    modalities: Sequence[str],
    device: Optional[torch.device] = None
) -> Tuple[Dict[str, StateDict], List[dict]]:
    """theta_init and history of a run resumed from a checkpoint's entry.

    Args:
        entry (dict): The checkpoint's ``'dr_hook'`` entry.
        modalities (Sequence[str]): The modalities the resumed run
            diagnoses.
        device (torch.device, optional): Where to keep theta_init.
            Defaults to None (the CPU).

    Returns:
        tuple: theta_init by modality and the history.

    Raises:
        ValueError: If the checkpoint diagnosed other modalities, naming
            both lists (its theta_init would lack or ignore encoders).
    """
    saved = list(entry['init_state'])
    if sorted(saved) != sorted(modalities):
        raise ValueError(
            f'DRHook: the checkpoint resumed from diagnosed the modalities '
            f'{saved}, this run diagnoses {list(modalities)}; resume with '
            "the checkpoint's modalities, or start a new run from its "
            'weights with load_from.')
    init_state = {
        m: {
            k: v.to(device or 'cpu')
            for k, v in state.items()
        }
        for m, state in entry['init_state'].items()
    }
    return init_state, list(entry['history'])
