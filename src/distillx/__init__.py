"""distillx: label-free cross-lingual transfer by knowledge distillation."""

__version__ = "0.1.0"
