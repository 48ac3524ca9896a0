from .checkpoint_loading import (allow_mmengine_checkpoints,
                                 checkpoint_safe_globals)
from .dataloader_config import (apply_data_options, drop_persistent_workers,
                                set_data_root)
from .dist_utils import (gather_in_sampler_order, setup_cpu_distributed,
                         slurm_env_to_torch_env, teardown_distributed,
                         tensors_fingerprint)
from .random_state import (get_random_state, preserved_random_state,
                           set_random_state)
from .setup_env import register_all_modules
from .work_dir import check_no_earlier_run, earlier_checkpoints

__all__ = [
    'allow_mmengine_checkpoints', 'apply_data_options',
    'checkpoint_safe_globals', 'check_no_earlier_run',
    'drop_persistent_workers', 'earlier_checkpoints',
    'gather_in_sampler_order', 'get_random_state', 'preserved_random_state',
    'register_all_modules', 'set_data_root', 'set_random_state',
    'setup_cpu_distributed', 'slurm_env_to_torch_env', 'teardown_distributed',
    'tensors_fingerprint'
]
