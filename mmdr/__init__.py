"""mmdr: balanced multimodal learning (Diagnosing & Re-learning) for
OpenMMLab 2.x."""
from .utils.checkpoint_loading import allow_mmengine_checkpoints
from .version import __version__

# Checkpoints written by mmengine must stay loadable (resume, Pretrained
# init_cfg) under torch >= 2.6's weights_only default.
allow_mmengine_checkpoints()

__all__ = ['__version__']
