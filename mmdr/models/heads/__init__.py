from .linear_cls_head import LinearClsHead
from .linear_reg_head import LinearRegHead

__all__ = ['LinearClsHead', 'LinearRegHead']
