# mmaction2's models (backbones, losses, data preprocessors) must be
# registered for configs built in the mmdr scope to find them.
import mmaction.models  # noqa: F401

from .backbones import *  # noqa: F401,F403
from .balancers import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .fusions import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .recognizers import *  # noqa: F401,F403
