"""Registries of mmdr.

Every registry is a child of the matching mmaction2 registry, which is itself
a child of mmengine's root registry. A config built with the default scope
``mmdr`` therefore reaches mmdr's own types first and falls back to
mmaction2's (``ResNet``, ``ResNetTSM``, ``PackActionInputs``, ...) and then to
mmengine's, without any Python edit. All of mmaction2's registry nodes are
mirrored, so that the Runner finds an ``mmdr`` node for everything it builds.
"""
from mmaction.registry import DATA_SAMPLERS as MMACTION_DATA_SAMPLERS
from mmaction.registry import DATASETS as MMACTION_DATASETS
from mmaction.registry import EVALUATOR as MMACTION_EVALUATOR
from mmaction.registry import FUNCTION as MMACTION_FUNCTION
from mmaction.registry import HOOKS as MMACTION_HOOKS
from mmaction.registry import INFERENCERS as MMACTION_INFERENCERS
from mmaction.registry import LOG_PROCESSORS as MMACTION_LOG_PROCESSORS
from mmaction.registry import LOOPS as MMACTION_LOOPS
from mmaction.registry import METRICS as MMACTION_METRICS
from mmaction.registry import MODEL_WRAPPERS as MMACTION_MODEL_WRAPPERS
from mmaction.registry import MODELS as MMACTION_MODELS
from mmaction.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMACTION_OPTIM_WRAPPER_CONSTRUCTORS
from mmaction.registry import OPTIM_WRAPPERS as MMACTION_OPTIM_WRAPPERS
from mmaction.registry import OPTIMIZERS as MMACTION_OPTIMIZERS
from mmaction.registry import PARAM_SCHEDULERS as MMACTION_PARAM_SCHEDULERS
from mmaction.registry import \
    RUNNER_CONSTRUCTORS as MMACTION_RUNNER_CONSTRUCTORS
from mmaction.registry import RUNNERS as MMACTION_RUNNERS
from mmaction.registry import TASK_UTILS as MMACTION_TASK_UTILS
from mmaction.registry import TRANSFORMS as MMACTION_TRANSFORMS
from mmaction.registry import VISBACKENDS as MMACTION_VISBACKENDS
from mmaction.registry import VISUALIZERS as MMACTION_VISUALIZERS
from mmaction.registry import \
    WEIGHT_INITIALIZERS as MMACTION_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

# Registries that mmdr adds types to.
MODELS = Registry(
    'model', parent=MMACTION_MODELS, scope='mmdr', locations=['mmdr.models'])
DATASETS = Registry(
    'dataset',
    parent=MMACTION_DATASETS,
    scope='mmdr',
    locations=['mmdr.datasets'])
TRANSFORMS = Registry(
    'transform',
    parent=MMACTION_TRANSFORMS,
    scope='mmdr',
    locations=['mmdr.datasets.transforms'])
HOOKS = Registry(
    'hook',
    parent=MMACTION_HOOKS,
    scope='mmdr',
    locations=['mmdr.engine.hooks'])
METRICS = Registry(
    'metric',
    parent=MMACTION_METRICS,
    scope='mmdr',
    locations=['mmdr.evaluation'])

# Registries that only pass names on to mmaction2's and mmengine's.
RUNNERS = Registry('runner', parent=MMACTION_RUNNERS, scope='mmdr')
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMACTION_RUNNER_CONSTRUCTORS, scope='mmdr')
LOOPS = Registry('loop', parent=MMACTION_LOOPS, scope='mmdr')
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMACTION_DATA_SAMPLERS, scope='mmdr')
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMACTION_MODEL_WRAPPERS, scope='mmdr')
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMACTION_WEIGHT_INITIALIZERS, scope='mmdr')
OPTIMIZERS = Registry('optimizer', parent=MMACTION_OPTIMIZERS, scope='mmdr')
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMACTION_OPTIM_WRAPPERS,
    scope='mmdr',
    locations=['mmdr.engine.optimizers'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMACTION_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmdr')
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMACTION_PARAM_SCHEDULERS, scope='mmdr')
EVALUATOR = Registry('evaluator', parent=MMACTION_EVALUATOR, scope='mmdr')
TASK_UTILS = Registry('task util', parent=MMACTION_TASK_UTILS, scope='mmdr')
VISUALIZERS = Registry('visualizer', parent=MMACTION_VISUALIZERS, scope='mmdr')
VISBACKENDS = Registry(
    'vis_backend', parent=MMACTION_VISBACKENDS, scope='mmdr')
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMACTION_LOG_PROCESSORS, scope='mmdr')
INFERENCERS = Registry('inferencer', parent=MMACTION_INFERENCERS, scope='mmdr')
FUNCTIONS = Registry('function', parent=MMACTION_FUNCTION, scope='mmdr')
