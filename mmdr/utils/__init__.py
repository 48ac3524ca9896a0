from .checkpoint_loading import (allow_mmengine_checkpoints,
                                 checkpoint_safe_globals)
from .config_format import format_each_config_text_once
from .dataloader_config import (apply_data_options, drop_persistent_workers,
                                set_data_root)
from .dist_utils import (check_same_on_ranks, gather_in_sampler_order,
                         main_process_buffers, main_process_result,
                         setup_cpu_distributed, slurm_env_to_torch_env,
                         teardown_distributed, tensors_fingerprint)
from .feature_pass import gather_modality_features, modality_feature_batches
from .random_state import (epoch_seed, get_random_state,
                           preserved_random_state, seed_epoch_loader,
                           set_random_state)
from .setup_env import register_all_modules
from .work_dir import check_no_earlier_run, earlier_checkpoints

__all__ = [
    'allow_mmengine_checkpoints', 'apply_data_options',
    'checkpoint_safe_globals', 'check_no_earlier_run', 'check_same_on_ranks',
    'drop_persistent_workers', 'earlier_checkpoints', 'epoch_seed',
    'format_each_config_text_once', 'gather_in_sampler_order',
    'gather_modality_features', 'get_random_state', 'main_process_buffers',
    'main_process_result', 'modality_feature_batches',
    'preserved_random_state', 'register_all_modules', 'seed_epoch_loader',
    'set_data_root', 'set_random_state', 'setup_cpu_distributed',
    'slurm_env_to_torch_env', 'teardown_distributed', 'tensors_fingerprint'
]
