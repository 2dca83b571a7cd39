"""Fidela: self-hostable multichannel loyalty and retention platform."""

__version__ = "0.1.0"
